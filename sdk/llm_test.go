package sdk_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// echoLLM answers by echoing the last user message word by word, calls the
// "lookup" tool when asked to, and embeds texts by their letter counts.
type echoLLM struct{}

func (echoLLM) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "echo", DisplayName: "Echo", Version: "1.0.0",
		Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapChatTools, sdk.CapEmbed},
		Models: []sdk.Model{
			{ID: "echo-1", Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapChatTools}},
			{ID: "letters", Capabilities: []sdk.Capability{sdk.CapEmbed}, EmbeddingDimension: 26},
		}}, nil
}

func (echoLLM) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	if req.Model != "echo-1" {
		return nil, sdk.NotFound("no model %q", req.Model)
	}
	last := req.Messages[len(req.Messages)-1].Content
	msg := sdk.Message{Role: sdk.RoleAssistant}
	if strings.HasPrefix(last, "lookup ") && len(req.Tools) > 0 {
		call := sdk.ToolCall{ID: "call-1", Name: req.Tools[0].Name, Arguments: json.RawMessage(`{"q":"` + strings.TrimPrefix(last, "lookup ") + `"}`)}
		if req.Stream {
			if err := stream.Send(&sdk.ChatEvent{ToolCall: &call}); err != nil {
				return nil, err
			}
		}
		msg.ToolCalls = []sdk.ToolCall{call}
		return &sdk.ChatResponse{Message: msg, StopReason: "tool_calls", Model: req.Model}, nil
	}
	for i, w := range strings.Fields(last) {
		piece := w
		if i > 0 {
			piece = " " + w
		}
		if req.Stream {
			if err := stream.Send(&sdk.ChatEvent{Text: piece}); err != nil {
				return nil, err
			}
		}
		msg.Content += piece
	}
	return &sdk.ChatResponse{Message: msg, StopReason: "stop", Model: req.Model,
		Usage: sdk.Usage{InputTokens: len(strings.Fields(last)), OutputTokens: len(strings.Fields(msg.Content))}}, nil
}

func (echoLLM) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	out := &sdk.EmbedResponse{Model: req.Model, Dimension: 26}
	for _, t := range req.Texts {
		v := make([]float32, 26)
		for _, r := range strings.ToLower(t) {
			if r >= 'a' && r <= 'z' {
				v[r-'a']++
			}
		}
		out.Vectors = append(out.Vectors, v)
	}
	return out, nil
}

func TestLLMOverTheWire(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{LLM: echoLLM{}})
	ctx := context.Background()

	var events []string
	temp := 0.2
	resp, err := p.LLM.Chat(ctx, &sdk.ChatRequest{Model: "echo-1", Stream: true, Temperature: &temp,
		Messages: []sdk.Message{{Role: sdk.RoleSystem, Content: "be brief"}, {Role: sdk.RoleUser, Content: "plan my week"}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { events = append(events, ev.Text); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(events, "|") != "plan| my| week" || resp.Message.Content != "plan my week" || resp.Usage.OutputTokens != 3 {
		t.Fatalf("events %q, response %+v", events, resp)
	}

	var calls []sdk.ToolCall
	resp, err = p.LLM.Chat(ctx, &sdk.ChatRequest{Model: "echo-1", Stream: true,
		Tools:    []sdk.ToolDefinition{{Name: "search_notes", Parameters: json.RawMessage(`{"type":"object"}`)}},
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "lookup groceries"}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
			if ev.ToolCall != nil {
				calls = append(calls, *ev.ToolCall)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Name != "search_notes" || string(calls[0].Arguments) != `{"q":"groceries"}` ||
		len(resp.Message.ToolCalls) != 1 || resp.StopReason != "tool_calls" {
		t.Fatalf("tool calls streamed %+v, response %+v", calls, resp)
	}

	emb, err := p.LLM.Embed(ctx, &sdk.EmbedRequest{Model: "letters", Texts: []string{"abc", "zz"}})
	if err != nil {
		t.Fatal(err)
	}
	if emb.Dimension != 26 || len(emb.Vectors) != 2 || emb.Vectors[0][2] != 1 || emb.Vectors[1][25] != 2 {
		t.Fatalf("embed: %+v", emb)
	}

	_, err = p.LLM.Transcribe(ctx, &sdk.TranscribeRequest{Image: []byte{1}})
	if sdk.CodeOf(err) != sdk.CodeUnimplemented {
		t.Fatalf("Transcribe on a plugin without it: %v", err)
	}
	m, err := p.LLM.Describe(ctx, &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Methods, ",") != "Describe,Chat,Embed" || m.ProtocolVersion != sdk.ProtocolVersion || m.SDKVersion != sdk.Version {
		t.Fatalf("manifest filled by the SDK: methods %v, protocol %d, sdk %q", m.Methods, m.ProtocolVersion, m.SDKVersion)
	}
}

func TestLLMConformance(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{LLM: echoLLM{}})
	plugintest.RunLLM(t, p, conformance.Options{})
}

// A consumer that stops reading a stream cancels the call.
func TestChatStreamErrorStopsTheCall(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{LLM: echoLLM{}})
	stop := sdk.Permanent("enough")
	_, err := p.LLM.Chat(context.Background(), &sdk.ChatRequest{Model: "echo-1", Stream: true,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "one two three"}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { return stop }))
	if err != stop {
		t.Fatalf("got %v, want the stream's error", err)
	}
}
