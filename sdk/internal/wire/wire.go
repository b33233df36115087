// Package wire holds what both sides of the plugin protocol share but plugin
// authors never need: time conversions, the call-id header, and the
// conversions package sdk defines for the host side (package sdk/host).
//
// The conversions between the SDK's Go types and the generated protobuf types
// live in package sdk, next to the types, because the plugin side needs them
// there. Package sdk cannot export them without making them part of the
// author's API, and this package cannot import sdk (sdk imports it), so sdk
// hands them over at init time through the variables below, typed any; the
// host asserts their concrete types once, when it is initialised, so a
// mismatch fails every host-side test at start-up rather than at a call.
package wire

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// CallIDHeader carries the host's id of a call, so that logs and progress a
// plugin reports during the call are attributed to it.
const CallIDHeader = "consilium-call-id"

// ErrPluginUnavailable is wrapped by errors about a plugin that cannot be
// reached. Package sdk/host exports it.
var ErrPluginUnavailable = errors.New("plugin unavailable")

// Conversions set by package sdk's init; see the package comment. Each is
// named after the sdk function it holds.
var (
	ConnToPB            any // func(*sdk.Connection) *pb.Connection
	ManifestFromPB      any // func(*pb.Manifest) *sdk.Manifest
	ChatRequestToPB     any // func(*sdk.ChatRequest) *pb.ChatRequest
	ChatEventFromPB     any // func(*pb.ChatEvent) *sdk.ChatEvent
	ChatResponseFromPB  any // func(*pb.ChatResponse) *sdk.ChatResponse
	EmbedResponseFromPB any // func(*pb.EmbedResponse) *sdk.EmbedResponse
	SyncResponseFromPB  any // func(*pb.SyncResponse) *sdk.SyncResponse
	PushTaskRequestToPB any // func(*sdk.PushTaskRequest) *pb.PushTaskRequest
	ToolsFromPB         any // func([]*pb.Tool) []sdk.Tool
)

// TimeToPB converts a time; the zero time travels as an absent field.
func TimeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// TimeFromPB converts a timestamp; an absent one is the zero time.
func TimeFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// DurToPB converts a duration; zero travels as an absent field.
func DurToPB(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

// DurFromPB converts a duration; an absent one is zero.
func DurFromPB(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

// VersionList formats protocol versions as "v1, v2".
func VersionList(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("v%d", v)
	}
	return strings.Join(s, ", ")
}
