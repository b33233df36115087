package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// failing is an integration whose tools fail in every way a plugin can.
type failing struct{}

func (failing) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "failing", DisplayName: "Failing", Version: "1", Capabilities: []sdk.Capability{sdk.CapTools}}, nil
}

func (failing) ListTools(context.Context, *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	return &sdk.ListToolsResponse{}, nil
}

func (failing) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	switch req.Name {
	case "untyped":
		return nil, errors.New("disk on fire")
	case "panic":
		panic("boom")
	case "nil":
		return nil, nil
	case "wrapped":
		return nil, fmt.Errorf("calling upstream: %w", sdk.RateLimited(1500*time.Millisecond, "slow down"))
	}
	return nil, &sdk.Error{Code: sdk.Code(req.Name), Message: "failed on purpose", RetryAfter: 2 * time.Second}
}

func TestTypedErrorsSurviveTheWire(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: failing{}})
	call := func(name string) error {
		_, err := p.Integration.ExecuteTool(context.Background(), &sdk.ExecuteToolRequest{Name: name, Arguments: json.RawMessage(`{}`)})
		return err
	}
	for _, code := range sdk.Codes {
		t.Run(string(code), func(t *testing.T) {
			err := call(string(code))
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
			}
			if e.Code != code || e.Message != "failed on purpose" || e.RetryAfter != 2*time.Second {
				t.Fatalf("got %+v, want code %s, message and retry after 2s", e, code)
			}
			if !errors.Is(err, &sdk.Error{Code: code}) {
				t.Fatalf("errors.Is does not match code %s", code)
			}
		})
	}
	tests := map[string]struct {
		code       sdk.Code
		retryAfter time.Duration
		contains   string
	}{
		"untyped": {code: sdk.CodeUnknown, contains: "disk on fire"},
		"panic":   {code: sdk.CodeInternal, contains: "plugin panicked in ExecuteTool"},
		"nil":     {code: sdk.CodeInternal, contains: "neither a response nor an error"},
		"wrapped": {code: sdk.CodeRateLimited, retryAfter: 1500 * time.Millisecond, contains: "slow down"},
		"bogus":   {code: sdk.CodeUnknown, retryAfter: 2 * time.Second, contains: "failed on purpose"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := call(name)
			var e *sdk.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.RetryAfter != tt.retryAfter {
				t.Fatalf("got %#v, want code %s retry %s", err, tt.code, tt.retryAfter)
			}
			if got := err.Error(); !strings.Contains(got, tt.contains) {
				t.Fatalf("message %q does not contain %q", got, tt.contains)
			}
		})
	}
	// The plugin survived the panic.
	if _, err := p.Integration.Describe(context.Background(), &sdk.DescribeRequest{}); err != nil {
		t.Fatalf("Describe after a panic: %v", err)
	}
	// A method the plugin does not implement is typed too.
	_, err := p.Integration.Sync(context.Background(), &sdk.SyncRequest{})
	if !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("Sync on a plugin without Sync: %v, want unimplemented", err)
	}
}

func TestErrorHelpers(t *testing.T) {
	cause := errors.New("401 from upstream")
	err := sdk.Errorf(sdk.CodeNeedsReauth, "token refused: %w", cause)
	if !errors.Is(err, cause) || !errors.Is(err, sdk.ErrNeedsReauth) || errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Errorf chain is wrong: %v", err)
	}
	if got := sdk.CodeOf(fmt.Errorf("outer: %w", err)); got != sdk.CodeNeedsReauth {
		t.Fatalf("CodeOf = %q", got)
	}
	if got := sdk.CodeOf(errors.New("plain")); got != "" {
		t.Fatalf("CodeOf(plain) = %q", got)
	}
	if got := sdk.RateLimited(time.Second, "quota").Error(); got != "rate_limited: quota (retry after 1s)" {
		t.Fatalf("Error() = %q", got)
	}
}
