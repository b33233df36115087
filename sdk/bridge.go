package sdk

import "github.com/consilium-hq/consilium/sdk/internal/wire"

// Hand the conversions the host side needs to package sdk/host, which cannot
// reach unexported functions of this package (see package wire).
func init() {
	wire.ConnToPB = connToPB
	wire.ManifestFromPB = manifestFromPB
	wire.ChatRequestToPB = chatRequestToPB
	wire.ChatEventFromPB = chatEventFromPB
	wire.ChatResponseFromPB = chatResponseFromPB
	wire.EmbedResponseFromPB = embedResponseFromPB
	wire.SyncResponseFromPB = syncResponseFromPB
	wire.PushTaskRequestToPB = pushTaskRequestToPB
	wire.ToolsFromPB = toolsFromPB
}
