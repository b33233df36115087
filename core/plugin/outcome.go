package plugin

import (
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/sdk"
)

// minSnooze keeps a rate_limited answer without a retry-after from turning
// into a hot loop.
const minSnooze = time.Second

// JobOutcome turns the error of a plugin call into what a River worker
// returns:
//
//   - rate_limited, and temporary with a retry-after: river.JobSnooze, which
//     does not use up an attempt;
//   - needs_reauth, invalid_config, not_found, permanent, unimplemented:
//     river.JobCancel, since retrying cannot help;
//   - anything else (temporary, internal, unknown, a plugin that is down or
//     restarting, a timeout): err itself, so River retries with backoff.
//
// A nil error stays nil.
func JobOutcome(err error) error {
	if err == nil {
		return nil
	}
	var e *sdk.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case sdk.CodeRateLimited:
		return river.JobSnooze(max(e.RetryAfter, minSnooze))
	case sdk.CodeTemporary:
		if e.RetryAfter > 0 {
			return river.JobSnooze(e.RetryAfter)
		}
		return err
	case sdk.CodeNeedsReauth, sdk.CodeInvalidConfig, sdk.CodeNotFound, sdk.CodePermanent, sdk.CodeUnimplemented:
		return river.JobCancel(err)
	default:
		return err
	}
}

// ConnectionStatus is what a failed (or successful) call says about a user's
// connection to an outside system.
type ConnectionStatus string

const (
	// StatusConnected: the call worked, or failed for a reason that says
	// nothing about the connection.
	StatusConnected ConnectionStatus = "connected"
	// StatusNeedsReauth: the user has to connect again.
	StatusNeedsReauth ConnectionStatus = "needs_reauth"
	// StatusMisconfigured: the connection's settings are wrong.
	StatusMisconfigured ConnectionStatus = "misconfigured"
	// StatusDegraded: rate limited, or the plugin or the outside system is
	// having trouble; it should recover by itself.
	StatusDegraded ConnectionStatus = "degraded"
)

// StatusFor maps a call's error to the connection's status.
func StatusFor(err error) ConnectionStatus {
	if err == nil {
		return StatusConnected
	}
	if errors.Is(err, ErrUnavailable) {
		return StatusDegraded
	}
	switch sdk.CodeOf(err) {
	case sdk.CodeNeedsReauth:
		return StatusNeedsReauth
	case sdk.CodeInvalidConfig:
		return StatusMisconfigured
	case sdk.CodeRateLimited, sdk.CodeTemporary, sdk.CodeInternal, sdk.CodeUnknown:
		return StatusDegraded
	default:
		return StatusConnected
	}
}
