package sdk

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrPluginUnavailable is wrapped by errors about a plugin that cannot be
// reached: its process exited, is restarting, or was never started.
var ErrPluginUnavailable = errors.New("plugin unavailable")

var grpcCodes = map[Code]codes.Code{
	CodeNeedsReauth:   codes.Unauthenticated,
	CodeRateLimited:   codes.ResourceExhausted,
	CodeInvalidConfig: codes.FailedPrecondition,
	CodeNotFound:      codes.NotFound,
	CodeTemporary:     codes.Unavailable,
	CodePermanent:     codes.Aborted,
	CodeUnimplemented: codes.Unimplemented,
	CodeInternal:      codes.Internal,
	CodeUnknown:       codes.Unknown,
}

// errorToStatus turns what plugin code returned into a gRPC status error that
// carries the typed error as a detail.
func errorToStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return status.Error(codes.Canceled, err.Error())
		}
		e = &Error{Code: CodeUnknown, Message: err.Error()}
	}
	code := e.Code
	if !code.valid() {
		code = CodeUnknown
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	st := status.New(grpcCodes[code], msg)
	if withDetail, derr := st.WithDetails(&pb.Error{Code: string(code), Message: msg, RetryAfter: durToPB(e.RetryAfter)}); derr == nil {
		st = withDetail
	}
	return st.Err()
}

// errorFromStatus turns a failed call's error back into an *Error on the host
// side. Cancellation by the caller stays a context error.
func errorFromStatus(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Error{Code: CodeTemporary, Message: fmt.Sprintf("%s: %v", method, err), Err: ErrPluginUnavailable}
	}
	for _, d := range st.Details() {
		if pe, ok := d.(*pb.Error); ok {
			// What the plugin sent is checked: the host sees only the
			// documented codes (a code this SDK does not know, from a newer
			// or broken plugin, is unknown) and no negative wait.
			e := &Error{Code: Code(pe.Code), Message: pe.Message, RetryAfter: max(durFromPB(pe.RetryAfter), 0)}
			if !e.Code.valid() {
				e.Code, e.Message = CodeUnknown, fmt.Sprintf("%s: %s (code %q is not one this SDK knows)", method, pe.Message, pe.Code)
			}
			return e
		}
	}
	switch st.Code() {
	case codes.Canceled:
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
		// Plugins cannot cancel a call; this is the connection closing
		// under the call because the plugin process went away.
		return &Error{Code: CodeTemporary, Message: fmt.Sprintf("%s: plugin connection closed: %s", method, st.Message()), Err: ErrPluginUnavailable}
	case codes.DeadlineExceeded:
		return &Error{Code: CodeTemporary, Message: method + " timed out", Err: context.DeadlineExceeded}
	case codes.Unimplemented:
		return &Error{Code: CodeUnimplemented, Message: method + " is not implemented by this plugin"}
	case codes.Unavailable:
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
		return &Error{Code: CodeTemporary, Message: fmt.Sprintf("%s: plugin connection lost: %s", method, st.Message()), Err: ErrPluginUnavailable}
	}
	return &Error{Code: CodeUnknown, Message: fmt.Sprintf("%s: %s: %s", method, st.Code(), st.Message())}
}
