package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// The OpenAI recordings were made by langchaingo against api.openai.com;
// our requests must match the recorded ones (as JSON) for the same input,
// which pins the wire format we send.

func TestOpenAIChat(t *testing.T) {
	t.Parallel()
	b := setup(t, OpenAI, load(t, "openai/TestClient_CreateChatCompletion.httprr"),
		replay.Options{Strict: true, Headers: []string{"Authorization"}})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "gpt-3.5-turbo", MaxTokens: 50, Temperature: ptr(0.0),
		Messages: []sdk.Message{user("Hello, how are you?")}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Hello! I'm just a computer program, so I don't have feelings, but I'm here to help you. How can I assist you today?"
	if resp.Message.Role != sdk.RoleAssistant || resp.Message.Content != want {
		t.Errorf("message = %+v, want assistant %q", resp.Message, want)
	}
	if resp.StopReason != "stop" || resp.Usage != (sdk.Usage{InputTokens: 13, OutputTokens: 31}) || resp.Model != "gpt-3.5-turbo" {
		t.Errorf("stop %q, usage %+v, model %q", resp.StopReason, resp.Usage, resp.Model)
	}
	if len(events) != 0 {
		t.Errorf("a call that did not ask to stream sent %d events", len(events))
	}
}

func TestOpenAIChatStream(t *testing.T) {
	t.Parallel()
	b := setup(t, OpenAI, load(t, "openai/TestClient_CreateChatCompletionStream.httprr"),
		replay.Options{Strict: true, Headers: []string{"Authorization"}})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "gpt-3.5-turbo", MaxTokens: 50, Temperature: ptr(0.0), Stream: true,
		Messages: []sdk.Message{user("Count from 1 to 5")}})
	if err != nil {
		t.Fatal(err)
	}
	text, calls := streamedText(events)
	if resp.Message.Content != "1, 2, 3, 4, 5" || text != resp.Message.Content || len(calls) != 0 {
		t.Errorf("content %q, streamed %q, calls %v", resp.Message.Content, text, calls)
	}
	// One event per token delta: the answer really streamed.
	if len(events) != 13 {
		t.Errorf("got %d events, want 13 (one per delta)", len(events))
	}
	if resp.Usage != (sdk.Usage{InputTokens: 14, OutputTokens: 13}) || resp.StopReason != "stop" {
		t.Errorf("usage %+v, stop %q", resp.Usage, resp.StopReason)
	}
}

var weatherTool = sdk.ToolDefinition{Name: "getCurrentWeather", Description: "Get the current weather in a given location",
	Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}`)}

func TestOpenAIToolCall(t *testing.T) {
	t.Parallel()
	b := setup(t, OpenAI, load(t, "openai/TestFunctionCall.httprr"), replay.Options{Strict: true})
	resp, _, err := b.chat(t, sdk.ChatRequest{Model: "gpt-3.5-turbo", Temperature: ptr(0.0),
		Messages: []sdk.Message{user("What is the weather like in Boston?")}, Tools: []sdk.ToolDefinition{weatherTool}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Message.ToolCalls) != 1 || resp.StopReason != "tool_calls" {
		t.Fatalf("tool calls %+v, stop %q", resp.Message.ToolCalls, resp.StopReason)
	}
	tc := resp.Message.ToolCalls[0]
	if tc.ID != "call_olc8qHf1RDItRqwuEBNjsu3B" || tc.Name != "getCurrentWeather" || string(tc.Arguments) != `{"location":"Boston"}` {
		t.Errorf("tool call = %+v (%s)", tc, tc.Arguments)
	}
}

// TestOpenAIToolResult replays an agent turn: the model calls a tool, the
// result goes back as a tool message, the model answers.
func TestOpenAIToolResult(t *testing.T) {
	t.Parallel()
	b := setup(t, OpenAI, load(t, "openai/TestOpenAIFunctionsAgentWithHTTPRR.httprr"), replay.Options{Strict: true})
	calc := sdk.ToolDefinition{Name: "calculator",
		Description: "Useful for getting the result of a math expression. \n\tThe input to this tool should be a valid mathematical expression that could be executed by a starlark evaluator.",
		Parameters:  json.RawMessage(`{"properties":{"__arg1":{"title":"__arg1","type":"string"}},"required":["__arg1"],"type":"object"}`)}
	history := []sdk.Message{
		{Role: sdk.RoleSystem, Content: "You are a helpful assistant that can perform calculations."},
		user("What is 15 multiplied by 4?"),
	}
	first, _, err := b.chat(t, sdk.ChatRequest{Model: "gpt-4o", Temperature: ptr(0.0), Messages: history, Tools: []sdk.ToolDefinition{calc}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Message.ToolCalls) != 1 {
		t.Fatalf("first answer has %d tool calls", len(first.Message.ToolCalls))
	}
	call := first.Message.ToolCalls[0]
	// The recording's agent sent the expression itself as the arguments.
	call.Arguments = json.RawMessage(`15 * 4`)
	history = append(history,
		sdk.Message{Role: sdk.RoleAssistant, ToolCalls: []sdk.ToolCall{call}},
		sdk.Message{Role: sdk.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: "60"})
	second, _, err := b.chat(t, sdk.ChatRequest{Model: "gpt-4o", Temperature: ptr(0.0), Messages: history, Tools: []sdk.ToolDefinition{calc}})
	if err != nil {
		t.Fatal(err)
	}
	if second.Message.Content != "15 multiplied by 4 is 60." || second.StopReason != "stop" {
		t.Errorf("final answer %q (%s)", second.Message.Content, second.StopReason)
	}
	if n := len(b.srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	t.Parallel()
	t.Run("dimensions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, OpenAI, load(t, "openai/TestClient_CreateEmbeddingWithDimensions.httprr"), replay.Options{Strict: true},
			KeyEmbeddingModel, "text-embedding-3-small", KeyEmbeddingDimensions, "256")
		resp, err := b.p.Embed(context.Background(), &sdk.EmbedRequest{Connection: b.conn, Texts: []string{"Hello world"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Dimension != 256 || len(resp.Vectors) != 1 || len(resp.Vectors[0]) != 256 || resp.Model != "text-embedding-3-small" {
			t.Fatalf("dimension %d, %d vectors, model %q", resp.Dimension, len(resp.Vectors), resp.Model)
		}
		if resp.Vectors[0][0] != -0.0039325873 {
			t.Errorf("first value %v, want the recorded -0.0039325873", resp.Vectors[0][0])
		}
	})
	t.Run("batches", func(t *testing.T) {
		t.Parallel()
		// The recording has a request of one text and one of three; with
		// batches of three, four texts take exactly those two requests.
		b := setup(t, OpenAI, load(t, "openai/TestOpenaiEmbeddings.httprr"), replay.Options{Strict: true},
			KeyEmbeddingModel, "text-embedding-ada-002", KeyEmbedBatchSize, "3")
		texts := []string{"Hello world", "The world is ending", "good bye", "Hello world!"}
		resp, err := b.p.Embed(context.Background(), &sdk.EmbedRequest{Connection: b.conn, Texts: texts})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.srv.Requests()) != 2 {
			t.Errorf("%d requests, want 2 batches", len(b.srv.Requests()))
		}
		if len(resp.Vectors) != 4 || resp.Dimension != 1536 {
			t.Fatalf("%d vectors of %d", len(resp.Vectors), resp.Dimension)
		}
		// "Hello world" and "Hello world!" are nearly the same text: their
		// recorded vectors must be the closest pair, which also shows the
		// vectors came back in the order of the texts.
		best, bi, bj := -2.0, 0, 0
		for i := range resp.Vectors {
			for j := i + 1; j < len(resp.Vectors); j++ {
				if c := dot(resp.Vectors[i], resp.Vectors[j]); c > best {
					best, bi, bj = c, i, j
				}
			}
		}
		if bi != 0 || bj != 3 {
			t.Errorf("closest pair is %q and %q, want the two hellos", texts[bi], texts[bj])
		}
	})
	t.Run("empty text", func(t *testing.T) {
		t.Parallel()
		b := setup(t, OpenAI, nil, replay.Options{})
		_, err := b.p.Embed(context.Background(), &sdk.EmbedRequest{Connection: b.conn, Texts: []string{"a", " "}})
		requireCode(t, err, sdk.CodePermanent)
		if n := len(b.srv.Requests()); n != 0 {
			t.Errorf("%d requests sent for a batch with an empty text", n)
		}
	})
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// tinyPNG is a 1x1 PNG.
var tinyPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

func TestOpenAITranscribe(t *testing.T) {
	t.Parallel()
	// A real image-input exchange (the image was sent by URL there; we send
	// a data: URL in the same image_url part).
	b := setup(t, OpenAI, load(t, "openai/TestMultiContentImage.httprr"), replay.Options{Headers: []string{"Authorization"}},
		KeyVisionModel, "gpt-4o")
	resp, err := b.p.Transcribe(context.Background(), &sdk.TranscribeRequest{Connection: b.conn, Image: tinyPNG, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Text, "The image is an emoji of a parrot.") {
		t.Errorf("text = %q", resp.Text)
	}
	req := b.srv.Last(t).JSON(t)
	if req["model"] != "gpt-4o" || req["temperature"] != 0.0 {
		t.Errorf("model %v, temperature %v", req["model"], req["temperature"])
	}
	msgs := req["messages"].([]any)
	parts := msgs[0].(map[string]any)["content"].([]any)
	img := parts[0].(map[string]any)
	url, _ := img["image_url"].(map[string]any)["url"].(string)
	if img["type"] != "image_url" || url != "data:image/png;base64,"+base64.StdEncoding.EncodeToString(tinyPNG) {
		t.Errorf("image part = %v", img)
	}
	if text := parts[1].(map[string]any); text["type"] != "text" || !strings.Contains(text["text"].(string), "[x]") {
		t.Errorf("prompt part = %v", text)
	}
}

func TestTranscribeRejectsNonImages(t *testing.T) {
	t.Parallel()
	b := setup(t, OpenAI, nil, replay.Options{})
	_, err := b.p.Transcribe(context.Background(), &sdk.TranscribeRequest{Connection: b.conn, Image: []byte("%PDF-1.7 not an image")})
	requireCode(t, err, sdk.CodePermanent)
}
