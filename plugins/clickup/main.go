// Command clickup is Consilium's ClickUp integration plugin: two-way sync
// of ClickUp tasks through ClickUp's API v2, with a personal token or OAuth
// 2. The logic is in internal/connector; clickuptest is a local server that
// speaks ClickUp's API for tests.
package main

import (
	"github.com/consilium-hq/consilium/plugins/clickup/internal/connector"
	"github.com/consilium-hq/consilium/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

func main() {
	sdk.Serve(sdk.ServeConfig{Integration: connector.New(version)})
}
