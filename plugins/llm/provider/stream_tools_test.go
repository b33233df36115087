package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// openAIChunk writes one chat.completion.chunk as api.openai.com streams it
// (see CreateChatCompletionStreamResponse in the OpenAI OpenAPI document of
// shared/fixtures/llm/openai-openapi.json): every chunk carries id, object,
// created, model, system_fingerprint, choices (with index, delta, logprobs,
// finish_reason), usage null until the last chunk, and an obfuscation pad.
func openAIChunk(delta string, finish string) string {
	fr := "null"
	if finish != "" {
		fr = `"` + finish + `"`
	}
	return `{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":"gpt-4o-2024-08-06",` +
		`"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":` + delta +
		`,"logprobs":null,"finish_reason":` + fr + `}],"usage":null,"obfuscation":"x3Zq"}`
}

// toolStart opens tool call index i; toolArgs continues it with an
// arguments fragment (as OpenAI sends: index and function.arguments only).
func toolStart(i int, id, name string) string {
	return fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]}`, i, id, name)
}

func toolArgs(i int, frag string) string {
	b, _ := json.Marshal(frag)
	return fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, b)
}

// openAIUsageChunk is the last chunk of a stream with
// stream_options.include_usage: no choices, the usage of the whole answer.
const openAIUsageChunk = `{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":"gpt-4o-2024-08-06",` +
	`"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[],"usage":{"prompt_tokens":412,"completion_tokens":57,` +
	`"total_tokens":469,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":` +
	`{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"Pq"}`

// fragments cuts s into pieces of n characters: arguments split mid-JSON,
// in the middle of keys, strings and escapes alike (but not inside a
// character: a provider streams tokens of valid UTF-8).
func fragments(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

var chatTools = []sdk.ToolDefinition{
	{Name: "create_task", Description: "Create a task.", Parameters: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"due_date":{"type":"string"}},"required":["title"],"additionalProperties":false}`)},
	{Name: "search", Description: "Search notes.", Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`)},
}

const (
	argsTask = `{"title":"Buy \"oat\" milk ☕","due_date":"2026-03-06"}`
	// 2^53+1: a number a float64 cannot hold.
	argsSearch = `{"query":"milk brands\nnotes","k":9007199254740993}`
)

// TestOpenAIStreamedToolCalls: two parallel tool calls streamed as OpenAI
// streams them, with their arguments split mid-JSON across chunks, after a
// line of text, then finish_reason tool_calls, the usage chunk and [DONE].
func TestOpenAIStreamedToolCalls(t *testing.T) {
	t.Parallel()
	sequential := []string{
		openAIChunk(`{"role":"assistant","content":"","refusal":null}`, ""),
		openAIChunk(`{"content":"Adding it"}`, ""),
		openAIChunk(`{"content":" now."}`, ""),
		openAIChunk(`{"content":null,`+strings.TrimPrefix(toolStart(0, "call_Ab12", "create_task"), "{"), ""),
	}
	for _, f := range fragments(argsTask, 7) {
		sequential = append(sequential, openAIChunk(toolArgs(0, f), ""))
	}
	sequential = append(sequential, openAIChunk(toolStart(1, "call_Cd34", "search"), ""))
	for _, f := range fragments(argsSearch, 5) {
		sequential = append(sequential, openAIChunk(toolArgs(1, f), ""))
	}

	// Some OpenAI-compatible servers interleave the fragments of parallel
	// calls; the index says which call a fragment continues.
	interleaved := []string{openAIChunk(`{"role":"assistant","content":"Adding it now."}`, ""),
		openAIChunk(toolStart(0, "call_Ab12", "create_task"), ""), openAIChunk(toolStart(1, "call_Cd34", "search"), "")}
	ta, sa := fragments(argsTask, 6), fragments(argsSearch, 4)
	for i := range max(len(ta), len(sa)) {
		if i < len(sa) {
			interleaved = append(interleaved, openAIChunk(toolArgs(1, sa[i]), ""))
		}
		if i < len(ta) {
			interleaved = append(interleaved, openAIChunk(toolArgs(0, ta[i]), ""))
		}
	}

	// Some send text in the same delta as the first fragment of a call.
	together := []string{openAIChunk(`{"role":"assistant","content":"Adding it now.",`+strings.TrimPrefix(toolStart(0, "call_Ab12", "create_task"), "{"), ""),
		openAIChunk(toolArgs(0, argsTask), ""), openAIChunk(toolStart(1, "call_Cd34", "search"), ""), openAIChunk(toolArgs(1, argsSearch), "")}

	for name, chunks := range map[string][]string{"sequential": sequential, "interleaved": interleaved, "text with a call": together} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			chunks := append(chunks, openAIChunk(`{}`, "tool_calls"), openAIUsageChunk)
			body := replay.SSE([]byte(strings.Join(chunks, "\n")), false, true)
			b := setup(t, OpenAI, []replay.Exchange{replay.Stream(http.MethodPost, "/v1/chat/completions", body)}, replay.Options{})
			resp, events, err := b.chat(t, sdk.ChatRequest{Model: "gpt-4o", Stream: true,
				Messages: []sdk.Message{user("Add oat milk to my list and look up brands")}, Tools: chatTools})
			if err != nil {
				t.Fatal(err)
			}
			requireToolTurn(t, resp, events, "Adding it now.")
			if resp.Usage != (sdk.Usage{InputTokens: 412, OutputTokens: 57}) {
				t.Errorf("usage %+v, want 412 in, 57 out", resp.Usage)
			}
			req := b.srv.Last(t).JSON(t)
			if so, _ := req["stream_options"].(map[string]any); so["include_usage"] != true || req["stream"] != true {
				t.Errorf("stream %v, stream_options %v: usage must be asked for", req["stream"], req["stream_options"])
			}
			if tools, _ := req["tools"].([]any); len(tools) != 2 {
				t.Errorf("tools sent: %v", req["tools"])
			}
		})
	}
}

// requireToolTurn checks a streamed answer of text then the two calls:
// text events first (joined: text), then one event per complete tool call,
// equal to the final message's calls.
func requireToolTurn(t *testing.T, resp *sdk.ChatResponse, events []sdk.ChatEvent, text string) {
	t.Helper()
	streamed, calls := streamedText(events)
	if streamed != text || resp.Message.Content != text {
		t.Errorf("streamed %q, content %q, want %q", streamed, resp.Message.Content, text)
	}
	sawCall := false
	for _, ev := range events {
		if ev.ToolCall != nil {
			sawCall = true
		} else if sawCall {
			t.Errorf("text %q streamed after a tool call", ev.Text)
		}
	}
	want := []sdk.ToolCall{
		{ID: "call_Ab12", Name: "create_task", Arguments: json.RawMessage(argsTask)},
		{ID: "call_Cd34", Name: "search", Arguments: json.RawMessage(argsSearch)},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("streamed calls:\n%s\nwant\n%s", fmtCalls(calls), fmtCalls(want))
	}
	if !reflect.DeepEqual(resp.Message.ToolCalls, want) {
		t.Errorf("final calls:\n%s\nwant\n%s", fmtCalls(resp.Message.ToolCalls), fmtCalls(want))
	}
	if resp.StopReason != "tool_calls" || resp.Message.Role != sdk.RoleAssistant {
		t.Errorf("stop %q, role %q", resp.StopReason, resp.Message.Role)
	}
}

func fmtCalls(cs []sdk.ToolCall) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s %s %s\n", c.ID, c.Name, c.Arguments)
	}
	return b.String()
}

// anthropicEvents are the data payloads of a Messages API stream as
// Anthropic documents and sends it (event: lines are added by replay.SSE):
// message_start with the input usage, a text block, a ping, two tool_use
// blocks whose input arrives as input_json_delta fragments (the first one
// empty) split mid-JSON, message_delta with stop_reason tool_use and the
// output usage, message_stop.
func anthropicEvents() []string {
	ev := []string{
		`{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2,"service_tier":"standard"}}}`,
		`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
		`{"type":"ping"}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Adding it"}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" now."}}`,
		`{"type":"content_block_stop","index":0}`,
	}
	for i, c := range []struct{ id, name, args string }{{"call_Ab12", "create_task", argsTask}, {"call_Cd34", "search", argsSearch}} {
		idx := i + 1
		ev = append(ev, fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%q,"name":%q,"input":{}}}`, idx, c.id, c.name),
			fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":""}}`, idx))
		for _, f := range fragments(c.args, 9) {
			b, _ := json.Marshal(f)
			ev = append(ev, fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, idx, b))
		}
		ev = append(ev, fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx))
	}
	return append(ev,
		`{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`,
		`{"type":"message_stop"}`)
}

// TestAnthropicStreamedToolCalls: text, then two tool_use blocks streamed
// as input_json_delta fragments; the calls keep the model's own JSON (key
// order, numbers beyond float64).
func TestAnthropicStreamedToolCalls(t *testing.T) {
	t.Parallel()
	body := replay.SSE([]byte(strings.Join(anthropicEvents(), "\n")), true, false)
	b := setup(t, Anthropic, []replay.Exchange{replay.Stream(http.MethodPost, "/v1/messages", body)}, replay.Options{})
	resp, events, err := b.chat(t, sdk.ChatRequest{Model: "claude-sonnet-4-5", Stream: true, MaxTokens: 1024,
		Messages: []sdk.Message{user("Add oat milk to my list and look up brands")}, Tools: chatTools})
	if err != nil {
		t.Fatal(err)
	}
	requireToolTurn(t, resp, events, "Adding it now.")
	if resp.Usage != (sdk.Usage{InputTokens: 472, OutputTokens: 89}) {
		t.Errorf("usage %+v, want 472 in (message_start), 89 out (message_delta)", resp.Usage)
	}
	req := b.srv.Last(t).JSON(t)
	if req["stream"] != true {
		t.Errorf("stream = %v", req["stream"])
	}
	tools, _ := req["tools"].([]any)
	if len(tools) != 2 {
		t.Fatalf("tools sent: %v", req["tools"])
	}
	if tool := tools[0].(map[string]any); tool["name"] != "create_task" || tool["input_schema"] == nil {
		t.Errorf("tool sent as %v, want name and input_schema", tool)
	}
}
