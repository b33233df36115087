// Package apperr defines the one application error type of Consilium: a code
// that says what kind of failure it is and a message meant for the user.
// The api package maps codes to HTTP statuses; anything that is not an
// *Error is treated as internal and never shown to the user.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code is the kind of an application error.
type Code string

const (
	NotFound           Code = "not_found"
	Conflict           Code = "conflict"
	Invalid            Code = "invalid"
	Unauthorized       Code = "unauthorized"
	Forbidden          Code = "forbidden"
	PreconditionFailed Code = "precondition_failed"
	RateLimited        Code = "rate_limited"
	Unavailable        Code = "unavailable"
	Internal           Code = "internal"
)

// FieldError names one bad input field and says what is wrong with it.
//
// Location is the field's path in the input of the call that refused it, as
// core names it: "title", "tags[2]", "content[3].props.goalId", or "" for the
// input as a whole. In says where that input came from in a request ("body",
// "query", "path", "header"); core leaves it empty, so that agents and jobs
// read plain field names, and the api layer sets it (see In), "body" when
// nothing else is said.
type FieldError struct {
	In       string `json:"in,omitempty"`
	Location string `json:"location"`
	Message  string `json:"message"`
	Value    any    `json:"value,omitempty"`
}

// Where is the full location of the field: In and Location joined, such as
// "body.title", "query.q" or "body.content[3].props.goalId".
func (f FieldError) Where() string {
	switch {
	case f.In == "":
		return f.Location
	case f.Location == "":
		return f.In
	case f.Location[0] == '[':
		return f.In + f.Location
	}
	return f.In + "." + f.Location
}

// Error is an application error.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// RetryAfter is set on rate_limited and unavailable errors when the
	// caller knows when to try again.
	RetryAfter time.Duration
	// Err is an optional cause; it is logged, never shown to the user.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the given code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an invalid-input error naming one field.
func Field(location, message string, value any) *Error {
	return &Error{
		Code:    Invalid,
		Message: "validation failed",
		Fields:  []FieldError{{Location: location, Message: message, Value: value}},
	}
}

// In returns err with every field that names no source yet attributed to
// in ("query", "path", ...). err is not changed (errors may be shared); other
// errors are returned as they are.
func In(in string, err error) error {
	var e *Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	c := *e
	c.Fields = make([]FieldError, len(e.Fields))
	for i, f := range e.Fields {
		if f.In == "" {
			f.In = in
		}
		c.Fields[i] = f
	}
	return &c
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool {
	return err != nil && CodeOf(err) == code
}
