package provider

import (
	"context"
	"net/http"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/consilium-hq/consilium/sdk"
)

// Plugin serves the llm kind for every provider; each call names its
// provider in Connection.Config (see Settings).
type Plugin struct {
	// Version is reported in the manifest.
	Version string
	// Transport carries the provider requests; nil uses a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
}

var (
	_ sdk.LLM         = (*Plugin)(nil)
	_ sdk.Embedder    = (*Plugin)(nil)
	_ sdk.Transcriber = (*Plugin)(nil)
)

// New returns the plugin with its own HTTP transport.
func New(version string) *Plugin {
	return &Plugin{Version: version, Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

func (p *Plugin) transport() http.RoundTripper {
	if p.Transport != nil {
		return p.Transport
	}
	return http.DefaultTransport
}

// embeddingModel is what langchaingo's openai LLM offers for embeddings.
type embeddingModel interface {
	CreateEmbedding(ctx context.Context, texts []string) ([][]float32, error)
}

// call is one provider call: a langchaingo model whose HTTP client records
// the exchange for error mapping.
type call struct {
	model llms.Model
	embed embeddingModel // nil for Anthropic
	rec   *callRecorder
}

// newCall builds a langchaingo client for one call. The options are all
// explicit (key, base URL, models, HTTP client): langchaingo would otherwise
// read OPENAI_API_KEY and friends from the plugin's environment.
func (p *Plugin) newCall(s *Settings, streamed bool) (*call, error) {
	rec := &callRecorder{base: p.transport()}
	if streamed {
		rec.streamEnd = s.streamEnd()
		rec.tools = newToolStream(s.Provider == Anthropic)
	}
	hc := &http.Client{Transport: rec}
	if s.Provider == Anthropic {
		m, err := anthropic.New(anthropic.WithToken(s.APIKey), anthropic.WithBaseURL(s.BaseURL),
			anthropic.WithModel(s.ChatModel), anthropic.WithHTTPClient(hc))
		if err != nil {
			return nil, sdk.InvalidConfig("anthropic client: %v", err)
		}
		return &call{model: m, rec: rec}, nil
	}
	token := s.APIKey
	if token == "" {
		// Ollama ignores the key, langchaingo insists on one.
		token = "unused"
	}
	opts := []openai.Option{
		openai.WithToken(token), openai.WithBaseURL(s.BaseURL), openai.WithOrganization(""),
		openai.WithAPIType(openai.APITypeOpenAI), openai.WithModel(s.ChatModel),
		openai.WithEmbeddingModel(s.EmbeddingModel), openai.WithHTTPClient(hc),
	}
	if s.EmbeddingDimensions > 0 {
		opts = append(opts, openai.WithEmbeddingDimensions(s.EmbeddingDimensions))
	}
	m, err := openai.New(opts...)
	if err != nil {
		return nil, sdk.InvalidConfig("%s client: %v", s.Provider, err)
	}
	return &call{model: m, embed: m, rec: rec}, nil
}

// streamEnd is what the provider sends at the end of a complete stream:
// Anthropic's message_stop event, the OpenAI format's `data: [DONE]`.
func (s *Settings) streamEnd() []byte {
	if s.Provider == Anthropic {
		return []byte("event: message_stop")
	}
	return []byte("[DONE]")
}
