package provider

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// Providers this plugin speaks to.
const (
	OpenAI     = "openai"
	Anthropic  = "anthropic"
	XAI        = "xai"
	OpenRouter = "openrouter"
	Ollama     = "ollama"
)

// Providers lists the provider names in the order they are documented.
var Providers = []string{OpenAI, Anthropic, XAI, OpenRouter, Ollama}

// Keys of Connection.Config and Connection.Secrets.
const (
	KeyProvider            = "provider"
	KeyBaseURL             = "base_url"
	KeyChatModel           = "chat_model"
	KeyEmbeddingModel      = "embedding_model"
	KeyEmbeddingDimensions = "embedding_dimensions"
	KeyVisionModel         = "vision_model"
	KeyMaxTokens           = "max_tokens"
	KeyMaxTokensField      = "max_tokens_field"
	KeyTemperature         = "temperature"
	KeyEmbedBatchSize      = "embed_batch_size"
	SecretAPIKey           = "api_key"
)

// providerDefaults are the settings used when the config leaves them empty.
type providerDefaults struct {
	displayName    string
	baseURL        string
	chatModel      string
	embeddingModel string
	// visionModel empty: transcription needs vision_model set.
	visionModel string
	// legacyMaxTokens sends max_tokens instead of max_completion_tokens.
	legacyMaxTokens bool
	needsKey        bool
}

var defaults = map[string]providerDefaults{
	OpenAI: {displayName: "OpenAI", baseURL: "https://api.openai.com/v1", chatModel: "gpt-4o-mini",
		embeddingModel: "text-embedding-3-small", visionModel: "gpt-4o-mini", needsKey: true},
	Anthropic: {displayName: "Anthropic", baseURL: "https://api.anthropic.com/v1", chatModel: "claude-haiku-4-5",
		visionModel: "claude-haiku-4-5", needsKey: true},
	XAI: {displayName: "xAI", baseURL: "https://api.x.ai/v1", chatModel: "grok-3-mini", needsKey: true},
	OpenRouter: {displayName: "OpenRouter", baseURL: "https://openrouter.ai/api/v1", chatModel: "openai/gpt-4o-mini",
		visionModel: "openai/gpt-4o-mini", needsKey: true},
	// Ollama's OpenAI-compatible endpoint; its native API has no tool calls
	// in langchaingo. It ignores the API key.
	Ollama: {displayName: "Ollama", baseURL: "http://localhost:11434/v1", chatModel: "llama3.2",
		embeddingModel: "nomic-embed-text", legacyMaxTokens: true},
}

// knownDimensions are the vector sizes of common embedding models, so the
// manifest can announce them before the first call.
var knownDimensions = map[string]int{
	"text-embedding-3-small": 1536,
	"text-embedding-3-large": 3072,
	"text-embedding-ada-002": 1536,
	"nomic-embed-text":       768,
	"mxbai-embed-large":      1024,
	"all-minilm":             384,
}

// Settings is a call's configuration, read from the Connection.
type Settings struct {
	Provider       string
	DisplayName    string
	BaseURL        string
	APIKey         string
	ChatModel      string
	EmbeddingModel string
	// EmbeddingDimensions asks models that can shorten their vectors
	// (text-embedding-3-*) for this many dimensions; 0 for the default.
	EmbeddingDimensions int
	VisionModel         string
	// MaxTokens bounds an answer when the request does not; 0 leaves the
	// provider's (or langchaingo's) default.
	MaxTokens       int
	LegacyMaxTokens bool
	// Temperature is used when the request has none.
	Temperature    float64
	EmbedBatchSize int
}

// defaultTemperature is used when neither the request nor the config sets
// one. langchaingo always sends a temperature, so "the provider's default"
// cannot be expressed; 1.0 is OpenAI's and Anthropic's documented default.
const defaultTemperature = 1.0

// defaultEmbedBatchSize keeps requests well under OpenAI's 2048 inputs and
// its per-request token limit for note-sized chunks.
const defaultEmbedBatchSize = 128

// ReadSettings reads and checks the settings in c. Secrets are not required
// here; calls that reach the provider check the key with RequireKey.
func ReadSettings(c *sdk.Connection) (*Settings, error) {
	p := strings.ToLower(strings.TrimSpace(c.Setting(KeyProvider, "")))
	if p == "" {
		return nil, sdk.InvalidConfig("config %q is required: one of %s", KeyProvider, strings.Join(Providers, ", "))
	}
	d, ok := defaults[p]
	if !ok {
		return nil, sdk.InvalidConfig("config %q is %q, want one of %s", KeyProvider, p, strings.Join(Providers, ", "))
	}
	s := &Settings{
		Provider:        p,
		DisplayName:     d.displayName,
		BaseURL:         strings.TrimRight(c.Setting(KeyBaseURL, d.baseURL), "/"),
		APIKey:          c.Secrets[SecretAPIKey],
		ChatModel:       c.Setting(KeyChatModel, d.chatModel),
		EmbeddingModel:  c.Setting(KeyEmbeddingModel, d.embeddingModel),
		VisionModel:     c.Setting(KeyVisionModel, d.visionModel),
		LegacyMaxTokens: d.legacyMaxTokens,
		Temperature:     defaultTemperature,
		EmbedBatchSize:  defaultEmbedBatchSize,
	}
	if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.InvalidConfig("config %q is %q, want an absolute http(s) URL", KeyBaseURL, s.BaseURL)
	}
	var err error
	if s.EmbeddingDimensions, err = intSetting(c, KeyEmbeddingDimensions, 0); err != nil {
		return nil, err
	}
	if s.MaxTokens, err = intSetting(c, KeyMaxTokens, 0); err != nil {
		return nil, err
	}
	if s.EmbedBatchSize, err = intSetting(c, KeyEmbedBatchSize, defaultEmbedBatchSize); err != nil {
		return nil, err
	}
	if s.EmbedBatchSize == 0 {
		return nil, sdk.InvalidConfig("config %q must be at least 1", KeyEmbedBatchSize)
	}
	if v := c.Setting(KeyTemperature, ""); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || t < 0 || t > 2 {
			return nil, sdk.InvalidConfig("config %q is %q, want a number from 0 to 2", KeyTemperature, v)
		}
		s.Temperature = t
	}
	switch f := c.Setting(KeyMaxTokensField, ""); f {
	case "":
	case "max_tokens":
		s.LegacyMaxTokens = true
	case "max_completion_tokens":
		s.LegacyMaxTokens = false
	default:
		return nil, sdk.InvalidConfig("config %q is %q, want max_tokens or max_completion_tokens", KeyMaxTokensField, f)
	}
	return s, nil
}

// RequireKey checks that the API key is there when the provider needs one.
func (s *Settings) RequireKey() error {
	if s.APIKey == "" && defaults[s.Provider].needsKey {
		return sdk.InvalidConfig("secret %q is not set: put the %s API key in the environment variable the plugin's secret_env names", SecretAPIKey, s.DisplayName)
	}
	return nil
}

// Dimension is the embedding size announced for the embedding model, 0 when
// unknown.
func (s *Settings) Dimension() int {
	if s.EmbeddingDimensions > 0 {
		return s.EmbeddingDimensions
	}
	return knownDimensions[s.EmbeddingModel]
}

func intSetting(c *sdk.Connection, key string, def int) (int, error) {
	v := c.Setting(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, sdk.InvalidConfig("config %q is %q, want a whole number ≥ 0", key, v)
	}
	return n, nil
}

// String describes the settings without the key, for logs.
func (s *Settings) String() string {
	return fmt.Sprintf("%s at %s (chat %s, embeddings %s)", s.Provider, s.BaseURL, s.ChatModel, s.EmbeddingModel)
}
