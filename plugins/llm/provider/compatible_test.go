package provider

import (
	"net/http"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// xAI, OpenRouter and Ollama speak OpenAI's format at their own base URLs.

func TestOpenRouterStream(t *testing.T) {
	t.Parallel()
	// The stream has ": OPENROUTER PROCESSING" comment lines and a final
	// usage chunk whose finish_reason is null.
	b := setup(t, OpenRouter, load(t, "openrouter/TestOpenRouterWithHTTPRR.httprr"),
		replay.Options{Strict: true, Headers: []string{"Authorization"}})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "meta-llama/llama-3.2-3b-instruct:free", MaxTokens: 10,
		Temperature: ptr(0.0), Stream: true, Messages: []sdk.Message{user("Reply with exactly 'OK' and nothing else")}})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := streamedText(events)
	if resp.Message.Content != "OK" || text != "OK" || resp.StopReason != "stop" {
		t.Errorf("content %q, streamed %q, stop %q", resp.Message.Content, text, resp.StopReason)
	}
	if resp.Usage != (sdk.Usage{InputTokens: 612, OutputTokens: 2}) {
		t.Errorf("usage %+v", resp.Usage)
	}
	if b.srv.Last(t).Path != "/api/v1/chat/completions" {
		t.Errorf("path %s", b.srv.Last(t).Path)
	}
}

// TestOpenRouterRateLimited replays a real 429 from OpenRouter: no
// Retry-After, but X-RateLimit-Reset (Unix ms) 26 s after the answer's Date.
func TestOpenRouterRateLimited(t *testing.T) {
	t.Parallel()
	ex := load(t, "openrouter/TestOpenRouterStreaming.httprr")
	b := setup(t, OpenRouter, ex[1:], replay.Options{Strict: true})
	_, _, err := b.chat(t, sdk.ChatRequest{Model: "meta-llama/llama-3.2-3b-instruct:free", Temperature: ptr(0.0),
		Messages: []sdk.Message{user("Say exactly 'test response' and nothing else")}})
	e := requireCode(t, err, sdk.CodeRateLimited)
	if e.RetryAfter != 26*time.Second {
		t.Errorf("retry after %s, want 26s", e.RetryAfter)
	}
}

func TestXAI(t *testing.T) {
	t.Parallel()
	chat := "/v1/chat/completions"
	tests := map[string]struct {
		ex        replay.Exchange
		stream    bool
		content   string
		toolCall  string
		stop      string
		usage     sdk.Usage
		numEvents int
	}{
		"text": {ex: replay.JSON(http.MethodPost, chat, 200, string(sharedFile(t, "xai/vercel-ai_xai-text.json"))),
			content: "Hello", stop: "stop", usage: sdk.Usage{InputTokens: 12, OutputTokens: 1}},
		"text streamed": {ex: replay.Stream(http.MethodPost, chat, replay.SSE(sharedFile(t, "xai/vercel-ai_xai-text.chunks.jsonl"), false, true)),
			stream: true, content: "Hello", stop: "stop", usage: sdk.Usage{InputTokens: 12, OutputTokens: 1}, numEvents: 1},
		"tool call": {ex: replay.JSON(http.MethodPost, chat, 200, string(sharedFile(t, "xai/vercel-ai_xai-tool-call.json"))),
			toolCall: `call_93562515 weather {"location":"San Francisco"}`, stop: "tool_calls", usage: sdk.Usage{InputTokens: 291, OutputTokens: 26}},
		"tool call streamed": {ex: replay.Stream(http.MethodPost, chat, replay.SSE(sharedFile(t, "xai/vercel-ai_xai-tool-call.chunks.jsonl"), false, true)),
			stream: true, toolCall: `call_55117580 weather {"location":"San Francisco"}`, stop: "tool_calls",
			usage: sdk.Usage{InputTokens: 291, OutputTokens: 26}, numEvents: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, XAI, []replay.Exchange{tt.ex}, replay.Options{})
			resp, events, err := b.chat(t, sdk.ChatRequest{Stream: tt.stream, Messages: []sdk.Message{user("Say a single word.")},
				Tools: []sdk.ToolDefinition{{Name: "weather"}}})
			if err != nil {
				t.Fatal(err)
			}
			// reasoning_content is the model's thinking, not the answer.
			if resp.Message.Content != tt.content || resp.StopReason != tt.stop || resp.Usage != tt.usage {
				t.Errorf("content %q, stop %q, usage %+v", resp.Message.Content, resp.StopReason, resp.Usage)
			}
			var call string
			if len(resp.Message.ToolCalls) == 1 {
				tc := resp.Message.ToolCalls[0]
				call = tc.ID + " " + tc.Name + " " + string(tc.Arguments)
			}
			if call != tt.toolCall || len(events) != tt.numEvents {
				t.Errorf("tool call %q, %d events", call, len(events))
			}
			if got := b.srv.Last(t).JSON(t)["model"]; got != "grok-3-mini" {
				t.Errorf("model %v, want xAI's default", got)
			}
		})
	}
}

// TestOllama: no key, the old max_tokens field, the OpenAI format at
// Ollama's /v1 (the recording is OpenAI's; Ollama answers in the same form).
func TestOllama(t *testing.T) {
	t.Parallel()
	b := setup(t, Ollama, load(t, "openai/TestClient_CreateChatCompletion.httprr"), replay.Options{}, KeyChatModel, "llama3.2")
	delete(b.conn.Secrets, SecretAPIKey)
	resp, _, err := b.chat(t, sdk.ChatRequest{MaxTokens: 50, Messages: []sdk.Message{user("Hello, how are you?")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message.Content == "" {
		t.Error("empty answer")
	}
	req := b.srv.Last(t).JSON(t)
	if req["max_tokens"] != 50.0 || req["max_completion_tokens"] != nil || req["model"] != "llama3.2" {
		t.Errorf("request %v", req)
	}
	if b.srv.Last(t).Path != "/v1/chat/completions" {
		t.Errorf("path %s", b.srv.Last(t).Path)
	}
}
