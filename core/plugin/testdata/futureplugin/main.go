// Command futureplugin acts as a plugin built against a future SDK that
// speaks only plugin protocol v2. It does not import the SDK (whose init
// diverts stdout in plugin processes); the tests inject the handshake cookie
// at build time.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

var cookieKey, cookieValue string // set with -ldflags -X

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: cookieKey, MagicCookieValue: cookieValue},
		VersionedPlugins: map[int]plugin.PluginSet{2: {"integration": futurePlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}

type futurePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (futurePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func (futurePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}
