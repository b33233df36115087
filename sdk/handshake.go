package sdk

import "github.com/hashicorp/go-plugin"

// ProtocolVersion is the version of the plugin protocol this SDK speaks. It is
// negotiated in the go-plugin handshake and names the protobuf package
// (consilium.v1). A test keeps it equal to the .proto's PROTOCOL_CURRENT.
const ProtocolVersion = 1

// Version is the version of this SDK, reported by plugins in their manifest.
const Version = "0.1.0"

// Kind is the kind of a plugin, also the name it is dispensed under.
type Kind string

const (
	KindLLM         Kind = "llm"
	KindIntegration Kind = "integration"
)

// Handshake is shared by the host and every plugin. The cookie only keeps a
// plugin binary from being run by hand by mistake; it is not a secret.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "CONSILIUM_PLUGIN",
	MagicCookieValue: "6f1c0a7e-consilium-plugin-9b3d",
}
