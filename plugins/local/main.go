// Command local is Consilium's offline model-provider plugin: no network, no
// key. It embeds texts lexically, transcribes images with Tesseract and
// answers chats by quoting the passages the host retrieved. `consilium serve`
// enables it when no other provider is configured. The logic is in package
// offline.
package main

import (
	"github.com/consilium-hq/consilium/plugins/local/offline"
	"github.com/consilium-hq/consilium/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

func main() {
	sdk.Serve(sdk.ServeConfig{LLM: &offline.Plugin{Version: version}})
}
