package host

import (
	"context"
	"fmt"
	"slices"

	"github.com/consilium-hq/consilium/sdk"
	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/consilium-hq/consilium/sdk/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrPluginUnavailable is wrapped by errors about a plugin that cannot be
// reached: its process exited, is restarting, or was never started.
var ErrPluginUnavailable = wire.ErrPluginUnavailable

// WithCallID returns a context whose outgoing plugin calls carry the call id.
// The host uses it to route a plugin's logs and progress back to the caller.
func WithCallID(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, wire.CallIDHeader, id)
}

// VersionMismatchError is returned when host and plugin share no protocol
// version. Its message names both versions and the side to upgrade.
type VersionMismatchError struct {
	Plugin        string
	PluginVersion int
	HostVersions  []int
}

func (e *VersionMismatchError) Error() string {
	newest := 0
	for _, v := range e.HostVersions {
		newest = max(newest, v)
	}
	advice := "rebuild the plugin against a newer Consilium SDK"
	if e.PluginVersion > newest {
		advice = "upgrade Consilium (the host) to a release that speaks it, or use an older build of the plugin"
	}
	return fmt.Sprintf("plugin %q speaks plugin protocol v%d but this host speaks %s: %s",
		e.Plugin, e.PluginVersion, wire.VersionList(e.HostVersions), advice)
}

// errorFromStatus turns a failed call's error back into an *sdk.Error on the host
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
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: %v", method, err), Err: ErrPluginUnavailable}
	}
	for _, d := range st.Details() {
		if pe, ok := d.(*pb.Error); ok {
			// What the plugin sent is checked: the host sees only the
			// documented codes (a code this SDK does not know, from a newer
			// or broken plugin, is unknown) and no negative wait.
			e := &sdk.Error{Code: sdk.Code(pe.Code), Message: pe.Message, RetryAfter: max(wire.DurFromPB(pe.RetryAfter), 0)}
			if !slices.Contains(sdk.Codes, e.Code) {
				e.Code, e.Message = sdk.CodeUnknown, fmt.Sprintf("%s: %s (code %q is not one this SDK knows)", method, pe.Message, pe.Code)
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
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: plugin connection closed: %s", method, st.Message()), Err: ErrPluginUnavailable}
	case codes.DeadlineExceeded:
		return &sdk.Error{Code: sdk.CodeTemporary, Message: method + " timed out", Err: context.DeadlineExceeded}
	case codes.Unimplemented:
		return &sdk.Error{Code: sdk.CodeUnimplemented, Message: method + " is not implemented by this plugin"}
	case codes.Unavailable:
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: plugin connection lost: %s", method, st.Message()), Err: ErrPluginUnavailable}
	}
	return &sdk.Error{Code: sdk.CodeUnknown, Message: fmt.Sprintf("%s: %s: %s", method, st.Code(), st.Message())}
}
