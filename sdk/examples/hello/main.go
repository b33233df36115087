// Command hello is a complete Consilium integration plugin built only on the
// public SDK. It keeps a small task list per connection in memory, syncs it to
// the host page by page, accepts task changes from the host and offers two
// agent tools. Start from here when you write your own.
package main

import "github.com/consilium-hq/consilium/sdk"

func main() {
	sdk.Serve(sdk.ServeConfig{Integration: newHello()})
}
