// Package model is the seam between the core services and the model
// providers. The services (core/ai today, core/chat next) ask a Source for
// a provider by its configured name and talk to it through LLM, which is
// what sdk.LLM promises a plugin author: the manifest, and a chat that
// streams text and tool calls. Embedding and transcription are optional, as
// in the SDK, and are found the way the SDK finds them: by type assertion.
//
// In a running process the Source is the plugin host (*plugin.Host, its
// clients *plugin.LLM, which add the host's timeouts, restarts and error
// mapping); in tests it may be modeltest's scripted model, so that a test
// can say "the model calls tool X with arguments Y, then answers Z" without
// a plugin process. The package is its own, not part of core/ai, because
// core/plugin implements it (and core/ai imports core/plugin) and core/chat
// needs it as much as core/ai does.
package model

import (
	"errors"

	"github.com/consilium-hq/consilium/sdk"
)

// LLM is one model provider as the core services call it.
type LLM interface {
	// Describe and Chat are sdk.LLM's: Chat sends each piece of text and
	// each complete tool call to the stream (which may be nil) as it
	// arrives when the request asks to stream, and returns the whole
	// answer. Errors are *sdk.Error where the provider said why.
	sdk.LLM
	// Available reports whether the provider takes calls now (a plugin
	// that is not running does not).
	Available() bool
}

// Source hands out model providers by their configured name. *plugin.Host
// is one.
type Source interface {
	// Model returns the named provider, or an error wrapping ErrUnknown
	// when no provider is configured under that name.
	Model(name string) (LLM, error)
}

// ErrUnknown is wrapped by a Source's error for a name it has no provider
// for: a configuration mistake, not an outage.
var ErrUnknown = errors.New("unknown model provider")

// Embedder returns the provider's embedding side. A provider that has none
// gets an *sdk.Error with CodeUnimplemented, the error a plugin without
// Embed answers with, so callers handle both the same way.
func Embedder(l LLM) (sdk.Embedder, error) {
	if e, ok := l.(sdk.Embedder); ok {
		return e, nil
	}
	return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Message: "the model provider does not embed texts (it has no Embed)"}
}

// Transcriber returns the provider's transcription side, or an *sdk.Error
// with CodeUnimplemented when it has none.
func Transcriber(l LLM) (sdk.Transcriber, error) {
	if t, ok := l.(sdk.Transcriber); ok {
		return t, nil
	}
	return nil, &sdk.Error{Code: sdk.CodeUnimplemented, Message: "the model provider does not transcribe images (it has no Transcribe)"}
}
