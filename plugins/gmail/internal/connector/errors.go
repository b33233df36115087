package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

// defaultRetryAfter is the wait after a rate limit answer that names none:
// Gmail's per-user quota is counted per second, its daily one per day; a
// minute lets the first recover without hammering the second.
const defaultRetryAfter = time.Minute

// rateLimitReasons are Google's error reasons that mean "slow down", which
// Gmail answers with 429 or with 403.
var rateLimitReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true,
	"quotaExceeded": true, "dailyLimitExceeded": true, "concurrentLimitExceeded": true}

// authReasons are 403 reasons that the user fixes by connecting again
// (the grant lacks the scope).
var authReasons = map[string]bool{"insufficientPermissions": true, "ACCESS_TOKEN_SCOPE_INSUFFICIENT": true, "authError": true}

// apiStatus returns the HTTP status of a Google API error, 0 when err is
// not one.
func apiStatus(err error) int {
	var g *googleapi.Error
	if errors.As(err, &g) {
		return g.Code
	}
	return 0
}

// mapError turns an error of the Gmail client into the SDK's typed errors:
// 401 → needs_reauth, 429 or 403 with a rate limit reason → rate_limited
// (Retry-After, else a minute), 403 for a missing scope → needs_reauth,
// the rest through httpclient.StatusError (404 not_found, 5xx temporary,
// ...). Transport failures are temporary; a cancelled call stays the
// context's error.
func mapError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		return err
	}
	var g *googleapi.Error
	if !errors.As(err, &g) {
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: Gmail could not be reached: %v", op, err), Err: err}
	}
	reason := ""
	if len(g.Errors) > 0 {
		reason = g.Errors[0].Reason
	}
	msg := g.Message
	if msg == "" {
		msg = http.StatusText(g.Code)
	}
	now := time.Now()
	switch {
	case g.Code == http.StatusUnauthorized:
		return &sdk.Error{Code: sdk.CodeNeedsReauth, Err: g,
			Message: fmt.Sprintf("%s: Gmail refused the access token (401 %s): %s", op, reason, msg)}
	case g.Code == http.StatusTooManyRequests || (g.Code == http.StatusForbidden && rateLimitReasons[reason]):
		wait := httpclient.RetryAfter(g.Header, now)
		if wait <= 0 {
			wait = defaultRetryAfter
		}
		return &sdk.Error{Code: sdk.CodeRateLimited, Err: g, RetryAfter: wait,
			Message: fmt.Sprintf("%s: Gmail's rate limit is reached (%d %s): %s", op, g.Code, reason, msg)}
	case g.Code == http.StatusForbidden && authReasons[reason]:
		return &sdk.Error{Code: sdk.CodeNeedsReauth, Err: g,
			Message: fmt.Sprintf("%s: the grant does not allow reading mail (403 %s): connect again and allow %s: %s", op, reason, Scope, msg)}
	}
	out := httpclient.StatusError(op, "Gmail", g.Code, g.Header, []byte(g.Body), now)
	if se, ok := out.(*sdk.Error); ok {
		se.Err = g
		if reason != "" {
			se.Message += " (" + reason + ")"
		}
	}
	return out
}
