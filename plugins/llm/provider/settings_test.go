package provider

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

func TestReadSettings(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		config  map[string]string
		code    sdk.Code
		check   func(*Settings) bool
		explain string
	}{
		"no provider":      {config: map[string]string{}, code: sdk.CodeInvalidConfig},
		"unknown provider": {config: map[string]string{KeyProvider: "gemini"}, code: sdk.CodeInvalidConfig},
		"bad base url":     {config: map[string]string{KeyProvider: OpenAI, KeyBaseURL: "api.openai.com"}, code: sdk.CodeInvalidConfig},
		"bad temperature":  {config: map[string]string{KeyProvider: OpenAI, KeyTemperature: "hot"}, code: sdk.CodeInvalidConfig},
		"bad batch size":   {config: map[string]string{KeyProvider: OpenAI, KeyEmbedBatchSize: "0"}, code: sdk.CodeInvalidConfig},
		"bad field":        {config: map[string]string{KeyProvider: OpenAI, KeyMaxTokensField: "tokens"}, code: sdk.CodeInvalidConfig},
		"openai defaults": {config: map[string]string{KeyProvider: "OpenAI"}, check: func(s *Settings) bool {
			return s.BaseURL == "https://api.openai.com/v1" && s.EmbeddingModel == "text-embedding-3-small" &&
				s.Dimension() == 1536 && !s.LegacyMaxTokens && s.Temperature == 1 && s.EmbedBatchSize == defaultEmbedBatchSize
		}},
		"xai base url": {config: map[string]string{KeyProvider: XAI}, check: func(s *Settings) bool {
			return s.BaseURL == "https://api.x.ai/v1" && s.VisionModel == ""
		}},
		"openrouter base url": {config: map[string]string{KeyProvider: OpenRouter}, check: func(s *Settings) bool {
			return s.BaseURL == "https://openrouter.ai/api/v1"
		}},
		"ollama uses max_tokens": {config: map[string]string{KeyProvider: Ollama}, check: func(s *Settings) bool {
			return s.LegacyMaxTokens && s.BaseURL == "http://localhost:11434/v1" && s.RequireKey() == nil
		}},
		"overrides": {config: map[string]string{KeyProvider: OpenAI, KeyBaseURL: "https://llm.example.com/v1/", KeyChatModel: "gpt-4.1",
			KeyEmbeddingDimensions: "256", KeyMaxTokens: "800", KeyMaxTokensField: "max_tokens", KeyTemperature: "0.2"},
			check: func(s *Settings) bool {
				return s.BaseURL == "https://llm.example.com/v1" && s.ChatModel == "gpt-4.1" && s.Dimension() == 256 &&
					s.MaxTokens == 800 && s.LegacyMaxTokens && s.Temperature == 0.2
			}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := ReadSettings(&sdk.Connection{Config: tt.config})
			if tt.code != "" {
				requireCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestRequireKey(t *testing.T) {
	t.Parallel()
	s, err := ReadSettings(&sdk.Connection{Config: map[string]string{KeyProvider: Anthropic}})
	if err != nil {
		t.Fatal(err)
	}
	requireCode(t, s.RequireKey(), sdk.CodeInvalidConfig)
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 8, 8, 15, 40, 34, 0, time.UTC)
	tests := map[string]struct {
		header http.Header
		want   time.Duration
	}{
		"none":             {http.Header{}, 0},
		"seconds":          {http.Header{"Retry-After": {"30"}}, 30 * time.Second},
		"fractional":       {http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond},
		"http date":        {http.Header{"Retry-After": {"Fri, 08 Aug 2025 15:41:34 GMT"}}, time.Minute},
		"past date":        {http.Header{"Retry-After": {"Fri, 08 Aug 2025 15:00:00 GMT"}}, 0},
		"openai ms":        {http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
		"reset unix ms":    {http.Header{"X-Ratelimit-Reset": {"1754667660000"}}, 26 * time.Second},
		"reset unix s":     {http.Header{"X-Ratelimit-Reset": {"1754667644"}}, 10 * time.Second},
		"date header wins": {http.Header{"Date": {"Fri, 08 Aug 2025 15:40:50 GMT"}, "X-Ratelimit-Reset": {"1754667660000"}}, 10 * time.Second},
		"garbage":          {http.Header{"Retry-After": {"soon"}}, 0},
	}
	for name, tt := range tests {
		if got := httpclient.RetryAfter(tt.header, now); got != tt.want {
			t.Errorf("%s: %s, want %s", name, got, tt.want)
		}
	}
}

func TestIsToolCallChunk(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		`[{"id":"call_1","type":"function","function":{"name":"weather","arguments":""}}]`: true,
		`[{"type":"","function":{"name":"","arguments":"{\"loc"}}]`:                        true,
		`Hello`:                     false,
		`[1, 2, 3]`:                 false,
		`[{"type":"function"}]`:     false,
		`[{"a":1}] is a JSON array`: false,
		`[{"type":"x","function":{"name":"n","arguments":"","extra":1}}]`: false,
	}
	for chunk, want := range tests {
		if got := isToolCallChunk([]byte(chunk)); got != want {
			t.Errorf("isToolCallChunk(%s) = %v, want %v", chunk, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, provider := range Providers {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			m, err := New("1.2.3").Describe(context.Background(), &sdk.DescribeRequest{Connection: sdk.Connection{
				Config: map[string]string{KeyProvider: provider, KeyVisionModel: "seeing-model"}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			caps := map[sdk.Capability]bool{}
			for _, c := range m.Capabilities {
				caps[c] = true
			}
			if !caps[sdk.CapChat] || !caps[sdk.CapChatStream] || !caps[sdk.CapChatTools] || !caps[sdk.CapTranscribe] {
				t.Errorf("capabilities %v", m.Capabilities)
			}
			if caps[sdk.CapEmbed] == (provider == Anthropic || provider == XAI || provider == OpenRouter) {
				t.Errorf("embed capability %v for %s", caps[sdk.CapEmbed], provider)
			}
			if (m.Auth.Type == sdk.AuthNone) != (provider == Ollama) {
				t.Errorf("auth %s", m.Auth.Type)
			}
		})
	}
	_, err := New("1").Describe(context.Background(), &sdk.DescribeRequest{})
	requireCode(t, err, sdk.CodeInvalidConfig)
}
