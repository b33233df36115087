// Command gmail is Consilium's Gmail integration plugin: it reads a
// mailbox through the Gmail API v1 with the read-only scope (OAuth 2), a
// bootstrap of the last days, then the mailbox history. The logic is in
// internal/connector; gmailtest is a local server that speaks the Gmail API
// for tests.
package main

import (
	"github.com/consilium-hq/consilium/plugins/gmail/internal/connector"
	"github.com/consilium-hq/consilium/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

func main() {
	sdk.Serve(sdk.ServeConfig{Integration: connector.New(version)})
}
