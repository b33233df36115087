package sdk

import (
	"errors"
	"fmt"
	"time"
)

// Code says what kind of failure an Error is. The host turns codes into job
// outcomes (retry, snooze, cancel) and into a connection's status.
type Code string

const (
	// CodeNeedsReauth: the credentials were refused; the user must connect again.
	CodeNeedsReauth Code = "needs_reauth"
	// CodeRateLimited: the outside system asked us to slow down; see RetryAfter.
	CodeRateLimited Code = "rate_limited"
	// CodeInvalidConfig: the plugin's or connection's settings are wrong.
	CodeInvalidConfig Code = "invalid_config"
	// CodeNotFound: the thing the call is about does not exist (any more).
	CodeNotFound Code = "not_found"
	// CodeTemporary: a transient failure; trying again later may work.
	CodeTemporary Code = "temporary"
	// CodePermanent: trying again will not help.
	CodePermanent Code = "permanent"
	// CodeUnimplemented: the plugin does not implement this call.
	CodeUnimplemented Code = "unimplemented"
	// CodeInternal: the plugin failed unexpectedly, for example it panicked.
	CodeInternal Code = "internal"
	// CodeUnknown: the plugin returned an error without a code. Plugins
	// should always return typed errors; the conformance suite flags these.
	CodeUnknown Code = "unknown"
)

// Codes lists every code, in the order above.
var Codes = []Code{CodeNeedsReauth, CodeRateLimited, CodeInvalidConfig, CodeNotFound,
	CodeTemporary, CodePermanent, CodeUnimplemented, CodeInternal, CodeUnknown}

func (c Code) valid() bool {
	for _, k := range Codes {
		if c == k {
			return true
		}
	}
	return false
}

// Error is a typed error that crosses the wire: a plugin returns one, the host
// gets the same Code, Message and RetryAfter back, so errors.As works on both
// sides. Wrapped causes stay in the plugin; only the message travels.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is how long to wait before trying again (rate_limited,
	// sometimes temporary); zero when unknown.
	RetryAfter time.Duration
	// Err is the cause, on the side that created the error.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	s := string(e.Code)
	if msg != "" {
		s += ": " + msg
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sdk.ErrNotFound) and friends match any *Error with
// the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is; they match any *Error with the same code.
var (
	ErrNeedsReauth   = &Error{Code: CodeNeedsReauth}
	ErrRateLimited   = &Error{Code: CodeRateLimited}
	ErrInvalidConfig = &Error{Code: CodeInvalidConfig}
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrTemporary     = &Error{Code: CodeTemporary}
	ErrPermanent     = &Error{Code: CodePermanent}
	ErrUnimplemented = &Error{Code: CodeUnimplemented}
	ErrInternal      = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with the code and a formatted message. A %w verb
// keeps the cause on this side of the wire.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// NeedsReauth says the credentials were refused.
func NeedsReauth(format string, args ...any) *Error { return Errorf(CodeNeedsReauth, format, args...) }

// RateLimited says the outside system asked to slow down for retryAfter.
func RateLimited(retryAfter time.Duration, format string, args ...any) *Error {
	e := Errorf(CodeRateLimited, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// InvalidConfig says the settings are wrong.
func InvalidConfig(format string, args ...any) *Error {
	return Errorf(CodeInvalidConfig, format, args...)
}

// NotFound says the thing the call is about does not exist.
func NotFound(format string, args ...any) *Error { return Errorf(CodeNotFound, format, args...) }

// Temporary says trying again later may work.
func Temporary(format string, args ...any) *Error { return Errorf(CodeTemporary, format, args...) }

// Permanent says trying again will not help.
func Permanent(format string, args ...any) *Error { return Errorf(CodePermanent, format, args...) }

// CodeOf returns the code of the first *Error in err's chain, or "" if there
// is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
