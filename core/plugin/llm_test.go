package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

var llmBinary struct {
	once sync.Once
	path string
	err  error
}

// buildLLM builds the shipped llm plugin (./plugins/llm) once.
func buildLLM(t *testing.T) string {
	t.Helper()
	llmBinary.once.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			llmBinary.err = err
			return
		}
		llmBinary.path = filepath.Join(testBinaries.dir, "llm")
		cmd := exec.Command("go", "build", "-o", llmBinary.path, "./plugins/llm")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			llmBinary.err = fmt.Errorf("go build ./plugins/llm: %v\n%s", err, out)
		}
	})
	if llmBinary.err != nil {
		t.Fatal(llmBinary.err)
	}
	return llmBinary.path
}

// openAIStream is a chat completion that calls two tools in parallel, as
// api.openai.com streams it: a line of text, each call opened with its id
// and name and its arguments in fragments split mid-JSON (keyed by index),
// finish_reason tool_calls, then the usage chunk (stream_options
// include_usage) and [DONE].
func openAIStream() []string {
	chunk := func(delta, finish string) string {
		fr := "null"
		if finish != "" {
			fr = `"` + finish + `"`
		}
		return `{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":"gpt-4o-2024-08-06",` +
			`"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":` + delta +
			`,"logprobs":null,"finish_reason":` + fr + `}],"usage":null,"obfuscation":"x3Zq"}`
	}
	args := func(i int, frag string) string {
		b, _ := json.Marshal(frag)
		return chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, b), "")
	}
	return []string{
		chunk(`{"role":"assistant","content":"","refusal":null}`, ""),
		chunk(`{"content":"Adding it"}`, ""),
		chunk(`{"content":" now."}`, ""),
		chunk(`{"tool_calls":[{"index":0,"id":"call_Ab12","type":"function","function":{"name":"create_task","arguments":""}}]}`, ""),
		args(0, `{"title":"Buy \"oa`), args(0, `t\" milk","due_`), args(0, `date":"2026-03-06"}`),
		chunk(`{"tool_calls":[{"index":1,"id":"call_Cd34","type":"function","function":{"name":"search","arguments":""}}]}`, ""),
		args(1, `{"que`), args(1, `ry":"milk`), args(1, ` brands"}`),
		chunk(`{}`, "tool_calls"),
		`{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":"gpt-4o-2024-08-06",` +
			`"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[],"usage":{"prompt_tokens":412,` +
			`"completion_tokens":57,"total_tokens":469,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
			`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,` +
			`"rejected_prediction_tokens":0}},"obfuscation":"Pq"}`,
		"[DONE]",
	}
}

// TestLLMPluginStreamsToolCalls runs the shipped llm plugin under the host,
// as a process does, against a local server speaking OpenAI's streaming
// format, and checks what reaches the core: the text as it came, each
// complete tool call once, then the whole answer.
func TestLLMPluginStreamsToolCalls(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got struct {
		path, auth string
		body       map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.path, got.auth = r.URL.Path, r.Header.Get("Authorization")
		_ = json.Unmarshal(body, &got.body)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		f := w.(http.Flusher)
		for _, data := range openAIStream() {
			_, _ = io.WriteString(w, "data: "+data+"\n\n")
			f.Flush()
		}
	}))
	t.Cleanup(srv.Close)

	pc := PluginConfig{Name: "openai", Kind: sdk.KindLLM, Path: buildLLM(t), Enabled: true,
		Config:    map[string]string{"provider": "openai", "base_url": srv.URL + "/v1", "chat_model": "gpt-4o"},
		SecretEnv: map[string]string{"api_key": "TEST_OPENAI_KEY"}}
	b := setup(t, testConfig(pc), WithLookupEnv(func(k string) (string, bool) {
		if k == "TEST_OPENAI_KEY" {
			return "sk-test-123", true
		}
		return "", false
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	llm, err := b.host.Model("openai")
	if err != nil {
		t.Fatal(err)
	}
	if !llm.Available() {
		t.Fatalf("the llm plugin is not running: %+v", b.host.States())
	}

	var events []sdk.ChatEvent
	resp, err := llm.Chat(ctx, &sdk.ChatRequest{Stream: true,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Add oat milk to my list and look up brands"}},
		Tools: []sdk.ToolDefinition{
			{Name: "create_task", Description: "Create a task.", Parameters: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"},"due_date":{"type":"string","format":"date"}},"required":["title"],"additionalProperties":false}`)},
			{Name: "search", Description: "Search notes.", Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"],"additionalProperties":false}`)},
		}}, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
		events = append(events, *ev)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	calls := []sdk.ToolCall{
		{ID: "call_Ab12", Name: "create_task", Arguments: json.RawMessage(`{"title":"Buy \"oat\" milk","due_date":"2026-03-06"}`)},
		{ID: "call_Cd34", Name: "search", Arguments: json.RawMessage(`{"query":"milk brands"}`)},
	}
	want := []sdk.ChatEvent{{Text: "Adding it"}, {Text: " now."}, {ToolCall: &calls[0]}, {ToolCall: &calls[1]}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%s\nwant\n%s", fmtEvents(events), fmtEvents(want))
	}
	wantResp := &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: "Adding it now.", ToolCalls: calls},
		Model: "gpt-4o", StopReason: "tool_calls", Usage: sdk.Usage{InputTokens: 412, OutputTokens: 57}}
	if !reflect.DeepEqual(resp, wantResp) {
		t.Errorf("response:\n%+v\nwant\n%+v", resp, wantResp)
	}

	mu.Lock()
	defer mu.Unlock()
	if got.path != "/v1/chat/completions" || got.auth != "Bearer sk-test-123" {
		t.Errorf("request to %s with Authorization %q", got.path, got.auth)
	}
	so, _ := got.body["stream_options"].(map[string]any)
	tools, _ := got.body["tools"].([]any)
	if got.body["stream"] != true || so["include_usage"] != true || got.body["model"] != "gpt-4o" || len(tools) != 2 {
		t.Errorf("request body: %v", got.body)
	}
}

func fmtEvents(evs []sdk.ChatEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		if ev.ToolCall != nil {
			fmt.Fprintf(&b, "  call %s %s %s\n", ev.ToolCall.ID, ev.ToolCall.Name, ev.ToolCall.Arguments)
		} else {
			fmt.Fprintf(&b, "  text %q\n", ev.Text)
		}
	}
	return b.String()
}

// anthropicStream is a Messages API answer calling two tools, as Anthropic
// streams it: event and data lines, message_start with the input usage, a
// text block, a ping, tool_use blocks whose input arrives in
// input_json_delta fragments, message_delta with stop_reason tool_use and
// the output usage, message_stop.
func anthropicStream() [][2]string {
	ev := [][2]string{
		{"message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}}`},
		{"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`},
		{"ping", `{"type": "ping"}`},
		{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Adding it"}}`},
		{"content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" now."}}`},
		{"content_block_stop", `{"type":"content_block_stop","index":0}`},
	}
	for i, c := range []struct {
		id, name string
		frags    []string
	}{
		{"toolu_01Ab12", "create_task", []string{"", `{"title": "Buy \"oa`, `t\" milk", "due_`, `date": "2026-03-06"}`}},
		{"toolu_01Cd34", "search", []string{"", `{"query": "milk`, ` brands", "k": 9007199254740993}`}},
	} {
		ev = append(ev, [2]string{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%q,"name":%q,"input":{}}}`, i+1, c.id, c.name)})
		for _, f := range c.frags {
			b, _ := json.Marshal(f)
			ev = append(ev, [2]string{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, i+1, b)})
		}
		ev = append(ev, [2]string{"content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, i+1)})
	}
	return append(ev,
		[2]string{"message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}`},
		[2]string{"message_stop", `{"type":"message_stop"}`})
}

// TestLLMPluginStreamsAnthropicToolUse: the same through the shipped
// plugin for Anthropic's format; the arguments are the model's JSON as it
// was streamed (key order and a number beyond float64 kept).
func TestLLMPluginStreamsAnthropicToolUse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got struct {
		path, key string
		body      map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.path, got.key = r.URL.Path, r.Header.Get("X-Api-Key")
		_ = json.Unmarshal(body, &got.body)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, ev := range anthropicStream() {
			_, _ = io.WriteString(w, "event: "+ev[0]+"\ndata: "+ev[1]+"\n\n")
			f.Flush()
		}
	}))
	t.Cleanup(srv.Close)

	pc := PluginConfig{Name: "claude", Kind: sdk.KindLLM, Path: buildLLM(t), Enabled: true,
		Config:    map[string]string{"provider": "anthropic", "base_url": srv.URL + "/v1", "chat_model": "claude-sonnet-4-5"},
		SecretEnv: map[string]string{"api_key": "TEST_ANTHROPIC_KEY"}}
	b := setup(t, testConfig(pc), WithLookupEnv(func(k string) (string, bool) {
		if k == "TEST_ANTHROPIC_KEY" {
			return "sk-ant-test", true
		}
		return "", false
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	llm, err := b.host.Model("claude")
	if err != nil {
		t.Fatal(err)
	}
	var events []sdk.ChatEvent
	resp, err := llm.Chat(ctx, &sdk.ChatRequest{Stream: true, MaxTokens: 1024,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "Add oat milk to my list and look up brands"}},
		Tools:    []sdk.ToolDefinition{{Name: "create_task", Description: "Create a task."}, {Name: "search", Description: "Search notes."}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
			events = append(events, *ev)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	calls := []sdk.ToolCall{
		{ID: "toolu_01Ab12", Name: "create_task", Arguments: json.RawMessage(`{"title": "Buy \"oat\" milk", "due_date": "2026-03-06"}`)},
		{ID: "toolu_01Cd34", Name: "search", Arguments: json.RawMessage(`{"query": "milk brands", "k": 9007199254740993}`)},
	}
	want := []sdk.ChatEvent{{Text: "Adding it"}, {Text: " now."}, {ToolCall: &calls[0]}, {ToolCall: &calls[1]}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events:\n%s\nwant\n%s", fmtEvents(events), fmtEvents(want))
	}
	wantResp := &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: "Adding it now.", ToolCalls: calls},
		Model: "claude-sonnet-4-5", StopReason: "tool_calls", Usage: sdk.Usage{InputTokens: 472, OutputTokens: 89}}
	if !reflect.DeepEqual(resp, wantResp) {
		t.Errorf("response:\n%+v\nwant\n%+v", resp, wantResp)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.path != "/v1/messages" || got.key != "sk-ant-test" || got.body["stream"] != true {
		t.Errorf("request to %s with key %q, stream %v", got.path, got.key, got.body["stream"])
	}
}
