package ai_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// Every unknown provider is named, in one message, in config order.
func TestResolveNamesEveryUnknownProvider(t *testing.T) {
	t.Parallel()
	plugins := plugin.Config{Items: []plugin.PluginConfig{
		{Name: "hello", Kind: sdk.KindIntegration, Enabled: true},
		{Name: "openai", Kind: sdk.KindLLM, Enabled: true},
	}}

	p, err := ai.Resolve(config.AI{}, plugins)
	require.NoError(t, err)
	require.Equal(t, ai.Providers{Embedding: "openai", Chat: "openai", Transcription: "openai"}, p)

	_, err = ai.Resolve(config.AI{EmbeddingProvider: "hello", ChatProvider: "openai", TranscriptionProvider: "whisper"}, plugins)
	require.EqualError(t, err, `invalid config: ai.embedding_provider: "hello" is not an llm plugin under plugins.items; `+
		`ai.transcription_provider: "whisper" is not an llm plugin under plugins.items`)
}
