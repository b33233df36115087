package provider

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"

	"github.com/consilium-hq/consilium/sdk"
)

// toolStream assembles the tool calls of a streamed answer from the
// server-sent events themselves, as the HTTP body is read.
//
// langchaingo's assembly is not what the providers send: its OpenAI client
// drops each fragment's index and appends every arguments fragment to the
// last call (parallel calls whose fragments interleave, as some
// OpenAI-compatible servers send them, come out mixed), and its Anthropic
// client decodes each tool_use input into a Go map and encodes it again
// (keys reordered, numbers past 2^53 rounded). Here fragments are keyed by
// their index, as both formats define them, and the arguments are the
// model's own bytes.
type toolStream struct {
	anthropic bool

	mu      sync.Mutex
	partial []byte // the start of a line not yet complete
	calls   []*streamedCall
	// slot maps a stream index to the position of its call in calls.
	slot map[int]int
	// callText is the text of each OpenAI chunk that carried tool-call
	// fragments, in order, until the streaming function takes it:
	// langchaingo hands that function the fragments instead of the text.
	callText []string
}

type streamedCall struct {
	id, name string
	args     strings.Builder
	// input is Anthropic's content_block_start input, used when no
	// input_json_delta follows.
	input json.RawMessage
}

func newToolStream(anthropic bool) *toolStream {
	return &toolStream{anthropic: anthropic, slot: map[int]int{}}
}

// write takes the next bytes of the body.
func (s *toolStream) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			return
		}
		line := bytes.TrimRight(s.partial[:i], "\r")
		s.partial = s.partial[i+1:]
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			s.event(bytes.TrimSpace(data))
		}
	}
}

func (s *toolStream) event(data []byte) {
	if len(data) == 0 || data[0] != '{' {
		return // [DONE], or not JSON
	}
	if s.anthropic {
		s.anthropicEvent(data)
	} else {
		s.openAIChunk(data)
	}
}

// openAIChunk reads choices[0].delta.tool_calls of a chat.completion.chunk.
func (s *toolStream) openAIChunk(data []byte) {
	var chunk struct {
		Choices []struct {
			Index int `json:"index"`
			Delta struct {
				Content   string `json:"content"`
				ToolCalls []struct {
					Index    *int   `json:"index"`
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &chunk) != nil {
		return
	}
	for _, ch := range chunk.Choices {
		if ch.Index != 0 {
			continue // one answer is asked for
		}
		if len(ch.Delta.ToolCalls) > 0 {
			s.callText = append(s.callText, ch.Delta.Content)
		}
		for _, tc := range ch.Delta.ToolCalls {
			idx := len(s.calls)
			if tc.Index != nil {
				idx = *tc.Index
			}
			c := s.call(idx, tc.ID)
			if c.name == "" {
				c.name = tc.Function.Name
			}
			c.args.WriteString(tc.Function.Arguments)
		}
	}
}

// takeCallText returns the text that came with the next chunk of tool-call
// fragments the streaming function sees (usually none). Bytes are read
// before langchaingo decodes them, so the chunk has been seen here.
func (s *toolStream) takeCallText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.callText) == 0 {
		return ""
	}
	t := s.callText[0]
	s.callText = s.callText[1:]
	return t
}

// call returns the call a fragment at stream index idx with id continues,
// or starts one. Ollama's OpenAI-compatible API sends every parallel call at
// index 0, each with its own id: a new id at an index starts a new call.
func (s *toolStream) call(idx int, id string) *streamedCall {
	if pos, ok := s.slot[idx]; ok {
		c := s.calls[pos]
		if id == "" || c.id == "" || c.id == id {
			if c.id == "" {
				c.id = id
			}
			return c
		}
	}
	c := &streamedCall{id: id}
	s.slot[idx] = len(s.calls)
	s.calls = append(s.calls, c)
	return c
}

// anthropicEvent reads tool_use content blocks and their input_json_delta
// fragments.
func (s *toolStream) anthropicEvent(data []byte) {
	var ev struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock struct {
			Type  string          `json:"type"`
			ID    string          `json:"id"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content_block"`
		Delta struct {
			Type        string `json:"type"`
			PartialJSON string `json:"partial_json"`
		} `json:"delta"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	switch ev.Type {
	case "content_block_start":
		if ev.ContentBlock.Type == "tool_use" {
			c := &streamedCall{id: ev.ContentBlock.ID, name: ev.ContentBlock.Name, input: ev.ContentBlock.Input}
			s.slot[ev.Index] = len(s.calls)
			s.calls = append(s.calls, c)
		}
	case "content_block_delta":
		if ev.Delta.Type != "input_json_delta" {
			return
		}
		if pos, ok := s.slot[ev.Index]; ok {
			s.calls[pos].args.WriteString(ev.Delta.PartialJSON)
		}
	}
}

// result returns the calls in the order they began; ok is false when the
// stream held none.
func (s *toolStream) result() (calls []sdk.ToolCall, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		args := strings.TrimSpace(c.args.String())
		if args == "" && len(c.input) > 0 {
			args = string(c.input)
		}
		calls = append(calls, sdk.ToolCall{ID: c.id, Name: c.name, Arguments: json.RawMessage(arguments(json.RawMessage(args)))})
	}
	return calls, len(calls) > 0
}
