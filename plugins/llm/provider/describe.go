package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// Describe lists the models of the configured provider instance and the
// settings the plugin reads. It needs no network and no key.
func (p *Plugin) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	s, err := ReadSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	m := &sdk.Manifest{
		Name:        "llm",
		DisplayName: s.DisplayName,
		Description: fmt.Sprintf("%s models through their HTTP API at %s, built on langchaingo: chat with a system prompt, "+
			"history, tools and streamed tokens; embeddings in batches; transcription of images by a vision model.",
			s.DisplayName, s.BaseURL),
		Version: p.Version,
		Auth:    sdk.Auth{Type: sdk.AuthAPIKey},
		Config:  configFields(),
	}
	if !defaults[s.Provider].needsKey {
		m.Auth.Type = sdk.AuthNone
	}
	chat := sdk.Model{ID: s.ChatModel, DisplayName: s.ChatModel,
		Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapChatTools}}
	if s.VisionModel == s.ChatModel {
		chat.Capabilities = append(chat.Capabilities, sdk.CapVision, sdk.CapTranscribe)
	}
	m.Models = append(m.Models, chat)
	if s.VisionModel != "" && s.VisionModel != s.ChatModel {
		m.Models = append(m.Models, sdk.Model{ID: s.VisionModel, DisplayName: s.VisionModel,
			Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapVision, sdk.CapTranscribe}})
	}
	if s.Provider != Anthropic && s.EmbeddingModel != "" {
		m.Models = append(m.Models, sdk.Model{ID: s.EmbeddingModel, DisplayName: s.EmbeddingModel,
			Capabilities: []sdk.Capability{sdk.CapEmbed}, EmbeddingDimension: s.Dimension()})
	}
	seen := map[sdk.Capability]bool{}
	for _, md := range m.Models {
		for _, c := range md.Capabilities {
			if !seen[c] {
				seen[c] = true
				m.Capabilities = append(m.Capabilities, c)
			}
		}
	}
	return m, nil
}

func configFields() []sdk.ConfigField {
	return []sdk.ConfigField{
		{Key: KeyProvider, Label: "Provider", Required: true, Type: "string",
			Help: "One of " + strings.Join(Providers, ", ") + "."},
		{Key: SecretAPIKey, Label: "API key", Secret: true, Type: "string",
			Help: "The provider's API key; not needed for ollama. Give it through the plugin's secret_env."},
		{Key: KeyBaseURL, Label: "Base URL", Type: "url",
			Help: "The API's base URL, ending in /v1; empty for the provider's public endpoint (ollama: http://localhost:11434/v1)."},
		{Key: KeyChatModel, Label: "Chat model", Type: "string", Help: "Model for chats that name none."},
		{Key: KeyEmbeddingModel, Label: "Embedding model", Type: "string", Help: "Model for embeddings (not anthropic)."},
		{Key: KeyEmbeddingDimensions, Label: "Embedding dimensions", Type: "int",
			Help: "Ask the embedding model for shorter vectors (text-embedding-3-*); empty for its default."},
		{Key: KeyVisionModel, Label: "Vision model", Type: "string",
			Help: "Model that reads images for transcription; empty for the provider's default where it has one."},
		{Key: KeyMaxTokens, Label: "Max tokens", Type: "int", Help: "Longest answer when a call sets none."},
		{Key: KeyMaxTokensField, Label: "Max tokens field", Type: "string",
			Help: "max_completion_tokens (OpenAI's current name) or max_tokens, for OpenAI-compatible servers that know only the old one; ollama defaults to max_tokens."},
		{Key: KeyTemperature, Label: "Temperature", Type: "string", Default: "1",
			Help: "Sampling temperature (0 to 2) when a call sets none."},
		{Key: KeyEmbedBatchSize, Label: "Embedding batch size", Type: "int", Default: fmt.Sprint(defaultEmbedBatchSize),
			Help: "Texts per embeddings request."},
	}
}
