package host

import (
	"github.com/consilium-hq/consilium/sdk"
	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/consilium-hq/consilium/sdk/internal/wire"
)

// The conversions live in package sdk next to the types (the plugin side
// needs them too); sdk hands them over through package wire. Asserting them
// here, when this package is initialised (after sdk's init), makes a
// signature mismatch fail at start-up.
var (
	connToPB            = wire.ConnToPB.(func(*sdk.Connection) *pb.Connection)
	manifestFromPB      = wire.ManifestFromPB.(func(*pb.Manifest) *sdk.Manifest)
	chatRequestToPB     = wire.ChatRequestToPB.(func(*sdk.ChatRequest) *pb.ChatRequest)
	chatEventFromPB     = wire.ChatEventFromPB.(func(*pb.ChatEvent) *sdk.ChatEvent)
	chatResponseFromPB  = wire.ChatResponseFromPB.(func(*pb.ChatResponse) *sdk.ChatResponse)
	embedResponseFromPB = wire.EmbedResponseFromPB.(func(*pb.EmbedResponse) *sdk.EmbedResponse)
	syncResponseFromPB  = wire.SyncResponseFromPB.(func(*pb.SyncResponse) *sdk.SyncResponse)
	pushTaskRequestToPB = wire.PushTaskRequestToPB.(func(*sdk.PushTaskRequest) *pb.PushTaskRequest)
	toolsFromPB         = wire.ToolsFromPB.(func([]*pb.Tool) []sdk.Tool)
	tsFromPB            = wire.TimeFromPB
)
