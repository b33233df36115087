// Command composio is Consilium's Composio integration plugin: it offers
// the tools of the toolkits an admin enabled on Composio (Gmail, Slack,
// GitHub, ...) to the chat agents, run for the user's Composio connected
// account, which users link through Composio's hosted connect page. The
// logic is in internal/connector; composiotest is a local server that
// speaks Composio's API v3 for tests.
package main

import (
	"github.com/consilium-hq/consilium/plugins/composio/internal/connector"
	"github.com/consilium-hq/consilium/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

func main() {
	sdk.Serve(sdk.ServeConfig{Integration: connector.New(version)})
}
