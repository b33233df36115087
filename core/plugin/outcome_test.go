package plugin

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/sdk"
)

func TestJobOutcome(t *testing.T) {
	t.Parallel()
	plain := errors.New("boom")
	wrapped := func(e *sdk.Error) error { return fmt.Errorf("plugin gmail: Sync: %w", e) }
	tests := map[string]struct {
		err    error
		snooze time.Duration // > 0: want JobSnooze(snooze)
		cancel bool
		status ConnectionStatus
	}{
		"rate limited":          {err: wrapped(sdk.RateLimited(30*time.Second, "quota")), snooze: 30 * time.Second, status: StatusDegraded},
		"rate limited, no wait": {err: wrapped(sdk.RateLimited(0, "quota")), snooze: time.Second, status: StatusDegraded},
		"temporary with wait":   {err: wrapped(&sdk.Error{Code: sdk.CodeTemporary, RetryAfter: 5 * time.Second}), snooze: 5 * time.Second, status: StatusDegraded},
		"temporary":             {err: wrapped(sdk.Temporary("502")), status: StatusDegraded},
		"needs reauth":          {err: wrapped(sdk.NeedsReauth("revoked")), cancel: true, status: StatusNeedsReauth},
		"invalid config":        {err: wrapped(sdk.InvalidConfig("no workspace")), cancel: true, status: StatusMisconfigured},
		"not found":             {err: wrapped(sdk.NotFound("gone")), cancel: true, status: StatusConnected},
		"permanent":             {err: wrapped(sdk.Permanent("bad")), cancel: true, status: StatusConnected},
		"unimplemented":         {err: wrapped(&sdk.Error{Code: sdk.CodeUnimplemented}), cancel: true, status: StatusConnected},
		"internal (panic)":      {err: wrapped(&sdk.Error{Code: sdk.CodeInternal}), status: StatusDegraded},
		"plugin down":           {err: fmt.Errorf("plugin x: Sync: %w", &sdk.Error{Code: sdk.CodeTemporary, Err: ErrUnavailable}), status: StatusDegraded},
		"not a plugin error":    {err: plain, status: StatusConnected},
		"nil":                   {err: nil, status: StatusConnected},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := JobOutcome(tt.err)
			var snooze *river.JobSnoozeError
			var cancel *river.JobCancelError
			switch {
			case tt.snooze > 0:
				if !errors.As(got, &snooze) || snooze.Duration != tt.snooze {
					t.Fatalf("JobOutcome = %v, want JobSnooze(%s)", got, tt.snooze)
				}
			case tt.cancel:
				if !errors.As(got, &cancel) || !errors.Is(got, tt.err) {
					t.Fatalf("JobOutcome = %v, want JobCancel of the error", got)
				}
			default:
				if got != tt.err {
					t.Fatalf("JobOutcome = %v, want the error itself (retry)", got)
				}
			}
			if s := StatusFor(tt.err); s != tt.status {
				t.Fatalf("StatusFor = %s, want %s", s, tt.status)
			}
		})
	}
}
