// Command llm is Consilium's model-provider plugin for OpenAI, Anthropic,
// xAI, OpenRouter and Ollama, built on langchaingo. One binary serves every
// provider: each configured instance names its provider, base URL, models and
// API key in the plugin config the host sends with every call. The logic is
// in package provider.
package main

import (
	"github.com/consilium-hq/consilium/plugins/llm/provider"
	"github.com/consilium-hq/consilium/sdk"
)

// version is set by the Makefile (-X main.version=...).
var version = "dev"

func main() {
	sdk.Serve(sdk.ServeConfig{LLM: provider.New(version)})
}
