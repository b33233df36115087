package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/plugins/llm/provider"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// TestPluginProcess builds the plugin, starts it as the host does (its own
// process, a clean environment, the go-plugin handshake) and calls it over
// gRPC against local servers replaying the providers' recorded traffic.
func TestPluginProcess(t *testing.T) {
	p := plugintest.Start(t, plugintest.Build(t, "."))
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		embeddings := load(t, "openai/TestOpenaiEmbeddings.httprr")[1]
		srv := replay.NewServer(t, load(t, "openai/TestClient_CreateChatCompletionStream.httprr"), replay.Options{
			Override: func(w http.ResponseWriter, r *http.Request, body []byte) bool {
				var req struct {
					Model    string
					Input    []string
					Messages []struct{ Content string }
				}
				_ = json.Unmarshal(body, &req)
				switch {
				case req.Model == "conformance-no-such-model":
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"error":{"message":"The model ` + "`conformance-no-such-model`" + ` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`))
				case r.URL.Path == "/v1/embeddings":
					// The recorded answer to three texts, cut to as many as asked.
					var resp map[string]any
					_ = json.Unmarshal(embeddings.ResponseBody, &resp)
					resp["data"] = resp["data"].([]any)[:len(req.Input)]
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(resp)
				case len(req.Messages) > 0 && req.Messages[0].Content == "block":
					<-r.Context().Done()
				default:
					return false
				}
				return true
			}})
		conn := connection(srv, provider.OpenAI, provider.KeyChatModel, "gpt-3.5-turbo", provider.KeyEmbeddingModel, "text-embedding-ada-002")
		plugintest.RunLLM(t, p, conformance.Options{Connection: conn, Blocking: func(ctx context.Context) error {
			_, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Connection: conn, Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "block"}}}, nil)
			return err
		}})
	})

	t.Run("openai stream", func(t *testing.T) {
		srv := replay.NewServer(t, load(t, "openai/TestClient_CreateChatCompletionStream.httprr"),
			replay.Options{Strict: true, Headers: []string{"Authorization"}})
		var streamed []string
		resp, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Connection: connection(srv, provider.OpenAI), Model: "gpt-3.5-turbo",
			MaxTokens: 50, Temperature: new(0.0), Stream: true, Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Count from 1 to 5"}}},
			sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { streamed = append(streamed, ev.Text); return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "1, 2, 3, 4, 5" || strings.Join(streamed, "") != resp.Message.Content || len(streamed) != 13 {
			t.Errorf("content %q, streamed %q", resp.Message.Content, streamed)
		}
	})

	t.Run("openai tool call", func(t *testing.T) {
		srv := replay.NewServer(t, load(t, "openai/TestFunctionCall.httprr"), replay.Options{Strict: true})
		resp, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Connection: connection(srv, provider.OpenAI), Model: "gpt-3.5-turbo",
			Temperature: new(0.0), Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "What is the weather like in Boston?"}},
			Tools: []sdk.ToolDefinition{{Name: "getCurrentWeather", Description: "Get the current weather in a given location",
				Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`)}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Message.ToolCalls) != 1 || string(resp.Message.ToolCalls[0].Arguments) != `{"location":"Boston"}` || resp.StopReason != "tool_calls" {
			t.Errorf("answer %+v", resp)
		}
	})

	t.Run("anthropic stream", func(t *testing.T) {
		srv := replay.NewServer(t, load(t, "anthropic/TestClient_CreateMessageStream.httprr"), replay.Options{Headers: []string{"X-Api-Key"}})
		var events int
		resp, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Connection: connection(srv, provider.Anthropic), Stream: true,
			Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Count from 1 to 5"}}},
			sdk.ChatStreamFunc(func(*sdk.ChatEvent) error { events++; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Message.Content != "1\n2\n3\n4\n5" || events != 3 {
			t.Errorf("content %q in %d events", resp.Message.Content, events)
		}
	})

	t.Run("embed", func(t *testing.T) {
		srv := replay.NewServer(t, load(t, "openai/TestOpenaiEmbeddings.httprr"), replay.Options{Strict: true})
		conn := connection(srv, provider.OpenAI, provider.KeyEmbeddingModel, "text-embedding-ada-002", provider.KeyEmbedBatchSize, "3")
		resp, err := p.LLM.Embed(ctx, &sdk.EmbedRequest{Connection: conn,
			Texts: []string{"Hello world", "The world is ending", "good bye", "Hello world!"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Vectors) != 4 || resp.Dimension != 1536 || len(srv.Requests()) != 2 {
			t.Errorf("%d vectors of %d in %d requests", len(resp.Vectors), resp.Dimension, len(srv.Requests()))
		}
	})

	t.Run("transcribe", func(t *testing.T) {
		srv := replay.NewServer(t, load(t, "openai/TestMultiContentImage.httprr"), replay.Options{})
		png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
		resp, err := p.LLM.Transcribe(ctx, &sdk.TranscribeRequest{Connection: connection(srv, provider.OpenAI, provider.KeyVisionModel, "gpt-4o"), Image: png})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Text, "parrot") {
			t.Errorf("text %q", resp.Text)
		}
		if !strings.Contains(string(srv.Last(t).Body), `"url":"data:image/png;base64,`) {
			t.Errorf("request did not carry the image as a data URL: %.300s", srv.Last(t).Body)
		}
	})

	t.Run("typed errors cross the wire", func(t *testing.T) {
		ex := load(t, "openrouter/TestOpenRouterStreaming.httprr")[1] // a real 429
		srv := replay.NewServer(t, []replay.Exchange{ex,
			replay.JSON(http.MethodPost, "/api/v1/chat/completions", 401, `{"error":{"message":"No auth credentials found","code":401}}`)}, replay.Options{})
		req := &sdk.ChatRequest{Connection: connection(srv, provider.OpenRouter), Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}}
		_, err := p.LLM.Chat(ctx, req, nil)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeRateLimited || e.RetryAfter != 26*time.Second {
			t.Errorf("first call: %v, want rate_limited retrying after 26s", err)
		}
		_, err = p.LLM.Chat(ctx, req, nil)
		if !errors.Is(err, sdk.ErrNeedsReauth) {
			t.Errorf("second call: %v, want needs_reauth", err)
		}
	})
}

func load(t *testing.T, name string) []replay.Exchange {
	t.Helper()
	ex, err := replay.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// connection points a provider at the replay server, with the recordings'
// scrubbed API key.
func connection(srv *replay.Server, p string, config ...string) sdk.Connection {
	base := srv.URL + "/v1"
	if p == provider.OpenRouter {
		base = srv.URL + "/api/v1"
	}
	c := sdk.Connection{ID: "test", Config: map[string]string{provider.KeyProvider: p, provider.KeyBaseURL: base},
		Secrets: map[string]string{provider.SecretAPIKey: "test-api-key"}}
	for i := 0; i+1 < len(config); i += 2 {
		c.Config[config[i]] = config[i+1]
	}
	return c
}
