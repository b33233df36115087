// Package conformance checks that a running plugin keeps the contract the
// host relies on: a valid manifest, declared capabilities backed by
// implemented methods, typed errors, Sync pages and cursors that behave, and
// cancellation that is honoured. sdk/plugintest runs the checks as subtests;
// `consilium plugins check` runs them against a binary.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/host"
)

// Options tune the checks.
type Options struct {
	// Connection is sent with every call (settings, secrets, token of a test
	// account, pointing at a fake server in tests).
	Connection sdk.Connection
	// Blocking starts a call on the plugin that only returns once ctx is
	// cancelled (for example a tool that waits). Nil skips the cancellation
	// check.
	Blocking func(ctx context.Context) error
	// Logs returns the records the plugin sent to the host so far; with it
	// the cancellation check also verifies that the plugin's handler, not
	// only the host's call, stopped.
	Logs func() []host.LogRecord
	// MaxSyncPages bounds a full sync (default 1000).
	MaxSyncPages int
	// SkipPushTask skips the check that updating a missing task answers
	// not_found, for systems where a probe write is unwelcome.
	SkipPushTask bool
	// SkipChat skips the chat round trip of llm plugins.
	SkipChat bool
	// Timeout bounds each call (default 10s).
	Timeout time.Duration
}

// Result is the outcome of one check.
type Result struct {
	Name string
	// Err is nil when the check passed.
	Err error
	// Skipped says why the check did not run.
	Skipped string
}

// Check is one named check.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Skip is returned by a check that does not apply.
type Skip string

func (s Skip) Error() string { return "skipped: " + string(s) }

// Run runs checks in order and collects their results.
func Run(ctx context.Context, checks []Check) []Result {
	var out []Result
	for _, c := range checks {
		err := c.Run(ctx)
		var s Skip
		if errors.As(err, &s) {
			out = append(out, Result{Name: c.Name, Skipped: string(s)})
			continue
		}
		out = append(out, Result{Name: c.Name, Err: err})
	}
	return out
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Err != nil {
			return true
		}
	}
	return false
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 10 * time.Second
}

// describe fetches and validates the manifest shared by both kinds.
func describe(ctx context.Context, o *Options, fn func(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error)) (*sdk.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	m, err := fn(ctx, &sdk.DescribeRequest{Connection: o.Connection})
	if err != nil {
		return nil, fmt.Errorf("Describe: %w", err)
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	if m.ProtocolVersion != sdk.ProtocolVersion {
		return m, fmt.Errorf("manifest.protocol_version is %d, want %d", m.ProtocolVersion, sdk.ProtocolVersion)
	}
	if !m.Implements("Describe") {
		return m, errors.New("manifest.methods does not list Describe: was the plugin built with the SDK's Serve?")
	}
	return m, nil
}

// requireCode checks that err is an *sdk.Error with one of the codes.
func requireCode(what string, err error, codes ...sdk.Code) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want a %s error", what, codeList(codes))
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: error %v is not an *sdk.Error", what, err)
	}
	if !slices.Contains(codes, e.Code) {
		return fmt.Errorf("%s: error code %q (%v), want %s", what, e.Code, err, codeList(codes))
	}
	return nil
}

// requireTyped checks that a failed call returned a deliberate error code.
func requireTyped(what string, err error) error {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: error %v is not an *sdk.Error", what, err)
	}
	if e.Code == sdk.CodeUnknown || e.Code == sdk.CodeInternal {
		return fmt.Errorf("%s: plugin returned an untyped or internal error (%v): return an *sdk.Error with a code", what, err)
	}
	return nil
}

func codeList(cs []sdk.Code) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, " or ")
}

// checkCancellation runs o.Blocking, cancels it, and checks that the call
// ended promptly and, when logs are available, that the plugin's handler
// returned within the SDK's grace period.
func checkCancellation(ctx context.Context, o *Options, ping func(context.Context) error) error {
	if o.Blocking == nil {
		return Skip("no Options.Blocking call given")
	}
	before := 0
	if o.Logs != nil {
		before = len(o.Logs())
	}
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- o.Blocking(cctx) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("cancelled call returned %v, want an error matching context.Canceled", err)
		}
	case <-time.After(time.Second):
		return errors.New("cancelled call did not return within 1s")
	}
	if o.Logs != nil {
		deadline := time.Now().Add(3 * time.Second)
		for {
			logs := o.Logs()[before:]
			for _, r := range logs {
				if r.Level >= slog.LevelWarn && strings.Contains(r.Message, "still running after the host cancelled") {
					return fmt.Errorf("the plugin's handler ignored cancellation: %s", r.Message)
				}
			}
			if slices.ContainsFunc(logs, func(r host.LogRecord) bool { return r.Message == "handler returned after cancellation" }) {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("the plugin's handler did not return within 3s of cancellation")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, o.timeout())
	defer pcancel()
	if err := ping(pctx); err != nil {
		return fmt.Errorf("plugin does not answer after a cancelled call: %w", err)
	}
	return nil
}
