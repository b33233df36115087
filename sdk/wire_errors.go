package sdk

import (
	"context"
	"errors"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

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
