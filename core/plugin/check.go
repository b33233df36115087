package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/host"
)

// CheckParams say which binary Check starts and how.
type CheckParams struct {
	Path string
	// Kind to dispense; empty tries integration, then llm.
	Kind sdk.Kind
	// SHA256 the binary must have, when set.
	SHA256 string
	// Connection is sent with every call of the conformance checks.
	Connection sdk.Connection
	// StartTimeout defaults to 30s.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// CheckReport is what Check found.
type CheckReport struct {
	Kind        sdk.Kind
	State       PluginState
	StartupTime time.Duration
	Results     []conformance.Result
}

// Passed reports whether the plugin started and no check failed.
func (r *CheckReport) Passed() bool {
	return r.State.State == StateRunning && !conformance.Failed(r.Results)
}

// Check starts the plugin binary the way the host does (handshake, AutoMTLS,
// a clean environment), reads its manifest and runs the conformance checks
// through the host's call path. It returns an error only when the plugin
// could not be started; failed checks are in the report.
func Check(ctx context.Context, p CheckParams) (*CheckReport, error) {
	kinds := []sdk.Kind{p.Kind}
	if p.Kind == "" {
		kinds = []sdk.Kind{sdk.KindIntegration, sdk.KindLLM}
	}
	var lastErr error
	for _, kind := range kinds {
		report, err := checkKind(ctx, p, kind)
		var mismatch *host.KindMismatchError
		if errors.As(err, &mismatch) && p.Kind == "" {
			lastErr = err
			continue
		}
		return report, err
	}
	return nil, lastErr
}

func checkKind(ctx context.Context, p CheckParams, kind sdk.Kind) (*CheckReport, error) {
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := Defaults()
	if p.StartTimeout > 0 {
		cfg.StartTimeout = p.StartTimeout
	}
	cfg.RestartBackoffMin, cfg.RestartBackoffMax = time.Hour, time.Hour // one attempt
	// The connection's settings are the item's config, so that the Describe
	// of the start sees them too (a plugin may refuse to start without them).
	cfg.Items = []PluginConfig{{Name: "check", Kind: kind, Path: p.Path, SHA256: p.SHA256, Enabled: true,
		Config: p.Connection.Config}}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := New(cfg, logger)
	start := time.Now()
	h.Start(ctx)
	defer h.Stop()
	if err := h.WaitReady(ctx); err != nil {
		return nil, err
	}
	m := h.byName["check"]
	report := &CheckReport{Kind: kind, State: m.snapshot(), StartupTime: time.Since(start)}
	if report.State.State != StateRunning {
		m.mu.Lock()
		err := m.lastErr
		m.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("plugin is %s", report.State.State)
		}
		return report, err
	}
	opts := conformance.Options{Connection: p.Connection}
	switch kind {
	case sdk.KindLLM:
		report.Results = conformance.Run(ctx, conformance.LLMChecks(&LLM{m: m}, opts))
	default:
		report.Results = conformance.Run(ctx, conformance.IntegrationChecks(&Integration{m: m}, opts))
	}
	return report, nil
}
