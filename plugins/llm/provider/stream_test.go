package provider

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// TestToolStreamReadBoundaries: the body may be read in pieces of any
// size, lines split anywhere (CRLF too); the calls come out the same.
func TestToolStreamReadBoundaries(t *testing.T) {
	t.Parallel()
	openAI := []string{openAIChunk(toolStart(0, "call_Ab12", "create_task"), "")}
	for _, f := range fragments(argsTask, 3) {
		openAI = append(openAI, openAIChunk(toolArgs(0, f), ""))
	}
	openAI = append(openAI, openAIChunk(toolStart(1, "call_Cd34", "search"), ""), openAIChunk(toolArgs(1, argsSearch), ""))
	want := []sdk.ToolCall{
		{ID: "call_Ab12", Name: "create_task", Arguments: json.RawMessage(argsTask)},
		{ID: "call_Cd34", Name: "search", Arguments: json.RawMessage(argsSearch)},
	}
	for name, tc := range map[string]struct {
		body      []byte
		anthropic bool
	}{
		"openai":      {replay.SSE([]byte(strings.Join(openAI, "\n")), false, true), false},
		"openai crlf": {[]byte(strings.ReplaceAll(string(replay.SSE([]byte(strings.Join(openAI, "\n")), false, true)), "\n", "\r\n")), false},
		"anthropic":   {replay.SSE([]byte(strings.Join(anthropicEvents(), "\n")), true, false), true},
	} {
		for _, size := range []int{1, 7, 4096} {
			s := newToolStream(tc.anthropic)
			for b := tc.body; len(b) > 0; {
				n := min(size, len(b))
				s.write(b[:n])
				b = b[n:]
			}
			got, ok := s.result()
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, reads of %d bytes: %s", name, size, fmtCalls(got))
			}
		}
	}
}

// TestToolStreamOllamaIndexes: Ollama's OpenAI-compatible API sends each
// parallel call whole at index 0 with its own id.
func TestToolStreamOllamaIndexes(t *testing.T) {
	t.Parallel()
	s := newToolStream(false)
	for _, c := range []string{
		openAIChunk(`{"role":"assistant","content":"","tool_calls":[{"id":"call_1","index":0,"type":"function","function":{"name":"create_task","arguments":"{\"title\":\"a\"}"}}]}`, ""),
		openAIChunk(`{"role":"assistant","content":"","tool_calls":[{"id":"call_2","index":0,"type":"function","function":{"name":"create_task","arguments":"{\"title\":\"b\"}"}}]}`, ""),
		openAIChunk(`{"role":"assistant","content":""}`, "tool_calls"),
	} {
		s.write([]byte("data: " + c + "\n\n"))
	}
	got, _ := s.result()
	want := []sdk.ToolCall{{ID: "call_1", Name: "create_task", Arguments: json.RawMessage(`{"title":"a"}`)},
		{ID: "call_2", Name: "create_task", Arguments: json.RawMessage(`{"title":"b"}`)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s", fmtCalls(got))
	}
	if _, ok := newToolStream(false).result(); ok {
		t.Error("an empty stream has calls")
	}
}
