package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// Error answers in each provider's documented error format. These bodies are
// written by us (the recordings have no 401 or 500); the 429 of OpenRouter
// in compatible_test.go and the 404 below are real.
var errorBodies = map[string]map[int]string{
	OpenAI: {
		401: `{"error":{"message":"Incorrect API key provided: sk-bad. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
		429: `{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
		500: `{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`,
	},
	Anthropic: {
		401: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
		429: `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`,
		500: `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`,
	},
	OpenRouter: {
		401: `{"error":{"message":"No auth credentials found","code":401}}`,
		429: `{"error":{"message":"Rate limit exceeded: free-models-per-min.","code":429}}`,
		500: `{"error":{"message":"Internal Server Error","code":500}}`,
	},
}

func init() { errorBodies[XAI], errorBodies[Ollama] = errorBodies[OpenAI], errorBodies[OpenAI] }

// streams are a real recorded stream per provider, cut in the tests below.
var streams = map[string]string{
	OpenAI:     "openai/TestClient_CreateChatCompletionStream.httprr",
	Anthropic:  "anthropic/TestClient_CreateMessageStream.httprr",
	OpenRouter: "openrouter/TestOpenRouterWithHTTPRR.httprr",
}

func chatPath(provider string) string {
	if provider == Anthropic {
		return "/v1/messages"
	}
	return apiPath[provider] + "/chat/completions"
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{OpenAI, Anthropic, XAI, OpenRouter, Ollama} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			path := chatPath(provider)
			tests := map[string]struct {
				ex         replay.Exchange
				shared     string // a 400 body from the shared fixtures, read in the subtest
				code       sdk.Code
				retryAfter time.Duration
				contains   string
			}{
				"401 bad key": {ex: replay.JSON(http.MethodPost, path, 401, errorBodies[provider][401]),
					code: sdk.CodeNeedsReauth, contains: "401"},
				"429 retry-after seconds": {ex: replay.JSON(http.MethodPost, path, 429, errorBodies[provider][429], "Retry-After", "17"),
					code: sdk.CodeRateLimited, retryAfter: 17 * time.Second, contains: "rate"},
				"429 retry-after date": {ex: replay.JSON(http.MethodPost, path, 429, errorBodies[provider][429],
					"Date", "Wed, 20 Aug 2025 11:57:57 GMT", "Retry-After", "Wed, 20 Aug 2025 11:59:57 GMT"),
					code: sdk.CodeRateLimited, retryAfter: 2 * time.Minute},
				"500": {ex: replay.JSON(http.MethodPost, path, 500, errorBodies[provider][500]),
					code: sdk.CodeTemporary, contains: "500"},
				"503 with retry-after": {ex: replay.JSON(http.MethodPost, path, 503, errorBodies[provider][500], "Retry-After", "5"),
					code: sdk.CodeTemporary, retryAfter: 5 * time.Second},
				"400": {shared: "openai/vercel-ai_reasoning-model-legacy-parameter-error.json", // body only
					code: sdk.CodePermanent, contains: "max_completion_tokens"},
				"200 html": {ex: replay.Exchange{Method: http.MethodPost, Path: path, Status: 200,
					ResponseHeader: http.Header{"Content-Type": {"text/html"}}, ResponseBody: []byte("<html>login</html>")},
					code: sdk.CodeInvalidConfig, contains: "base_url"},
			}
			for name, tt := range tests {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					if tt.shared != "" {
						tt.ex = replay.JSON(http.MethodPost, path, 400, string(sharedFile(t, tt.shared)))
					}
					b := setup(t, provider, []replay.Exchange{tt.ex}, replay.Options{})
					_, _, err := b.chat(t, sdk.ChatRequest{Messages: []sdk.Message{user("hi")}})
					e := requireCode(t, err, tt.code)
					if e.RetryAfter != tt.retryAfter {
						t.Errorf("retry after %s, want %s", e.RetryAfter, tt.retryAfter)
					}
					if !strings.Contains(e.Message, tt.contains) {
						t.Errorf("message %q does not mention %q", e.Message, tt.contains)
					}
					if strings.Contains(e.Error(), "test-api-key") {
						t.Errorf("the error shows the API key: %v", e)
					}
				})
			}
		})
	}
}

// TestStreamCut cuts real recorded streams halfway: once by dropping the
// connection, once by ending the response cleanly without the provider's
// end of stream (langchaingo takes the latter for a complete answer).
func TestStreamCut(t *testing.T) {
	t.Parallel()
	for provider, file := range streams {
		for _, dropped := range []bool{true, false} {
			name := provider + "/clean close"
			if dropped {
				name = provider + "/dropped connection"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ex := load(t, file)[0]
				if dropped {
					ex.CutAt = len(ex.ResponseBody) / 2
				} else {
					ex.ResponseBody = ex.ResponseBody[:len(ex.ResponseBody)/2]
				}
				b := setup(t, provider, []replay.Exchange{ex}, replay.Options{})
				_, events, err := b.chat(t, sdk.ChatRequest{Stream: true, Messages: []sdk.Message{user("Count from 1 to 5")}})
				e := requireCode(t, err, sdk.CodeTemporary)
				if !strings.Contains(e.Message, "before it was complete") {
					t.Errorf("message %q", e.Message)
				}
				t.Logf("%d events before the cut; error: %v", len(events), err)
			})
		}
	}
}

func TestErrorsBeyondHTTPStatus(t *testing.T) {
	t.Parallel()
	t.Run("404 unknown model", func(t *testing.T) {
		t.Parallel()
		// A real Anthropic 404 for a model that does not exist.
		c := loadCassette(t, "anthropic/pydantic-ai_test_anthropic_count_tokens_error.yaml")
		r := c.Interactions[0].Response
		b := setup(t, Anthropic, []replay.Exchange{replay.JSON(http.MethodPost, "/v1/messages", r.Status.Code, mustJSON(t, r.ParsedBody))}, replay.Options{})
		_, _, err := b.chat(t, sdk.ChatRequest{Model: "claude-does-not-exist", Messages: []sdk.Message{user("hello")}})
		e := requireCode(t, err, sdk.CodeNotFound)
		if !strings.Contains(e.Message, "model: claude-does-not-exist") {
			t.Errorf("message %q", e.Message)
		}
	})
	t.Run("400 naming the API key", func(t *testing.T) {
		t.Parallel()
		// The string form of "error" that some OpenAI-compatible servers use.
		b := setup(t, XAI, []replay.Exchange{replay.JSON(http.MethodPost, "/v1/chat/completions", 400,
			`{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***ey."}`)}, replay.Options{})
		_, _, err := b.chat(t, sdk.ChatRequest{Messages: []sdk.Message{user("hi")}})
		e := requireCode(t, err, sdk.CodeNeedsReauth)
		if !strings.Contains(e.Message, "Incorrect API key provided") {
			t.Errorf("message %q", e.Message)
		}
	})
	t.Run("429 insufficient_quota is not a rate limit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, OpenAI, []replay.Exchange{replay.JSON(http.MethodPost, "/v1/chat/completions", 429,
			`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)}, replay.Options{})
		_, _, err := b.chat(t, sdk.ChatRequest{Messages: []sdk.Message{user("hi")}})
		requireCode(t, err, sdk.CodePermanent)
	})
	t.Run("nobody listening", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p := New("test")
		_, err = p.Chat(context.Background(), &sdk.ChatRequest{Connection: sdk.Connection{
			Config:  map[string]string{KeyProvider: OpenAI, KeyBaseURL: "http://" + addr + "/v1"},
			Secrets: map[string]string{SecretAPIKey: "k"}}, Messages: []sdk.Message{user("hi")}}, nil)
		requireCode(t, err, sdk.CodeTemporary)
	})
	t.Run("no key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, OpenAI, nil, replay.Options{})
		delete(b.conn.Secrets, SecretAPIKey)
		_, _, err := b.chat(t, sdk.ChatRequest{Messages: []sdk.Message{user("hi")}})
		requireCode(t, err, sdk.CodeInvalidConfig)
	})
	t.Run("arguments that are not JSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Anthropic, nil, replay.Options{})
		_, _, err := b.chat(t, sdk.ChatRequest{Messages: []sdk.Message{user("hi"),
			{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{{ID: "1", Name: "calc", Arguments: []byte("15 * 4")}}},
			{Role: sdk.RoleTool, ToolCallID: "1", Content: "60"}}})
		requireCode(t, err, sdk.CodePermanent)
		if n := len(b.srv.Requests()); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
	t.Run("cancelled mid-stream", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		first := []byte("data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n")
		b := setup(t, OpenAI, nil, replay.Options{Override: func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(first)
			w.(http.Flusher).Flush()
			select { // a provider that goes quiet
			case <-r.Context().Done():
			case <-release:
			}
			return true
		}})
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		req := sdk.ChatRequest{Connection: b.conn, Stream: true, Messages: []sdk.Message{user("hi")}}
		done := make(chan error, 1)
		go func() {
			_, err := b.p.Chat(ctx, &req, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
				cancel()
				return nil
			}))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want one matching context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Chat did not return after its context was cancelled")
		}
	})
}
