// Package modeltest is a scripted model provider for tests: a model.LLM
// whose chat answers are written by the test, turn by turn (text deltas,
// tool calls, usage, an error or a stream cut mid-answer), and whose
// embedding and transcription are functions the test supplies. It records
// every request it receives and is safe for concurrent use.
//
// A test that has a model call a tool and then answer:
//
//	m := modeltest.New(
//		modeltest.Turn{ToolCalls: []sdk.ToolCall{modeltest.Call("call_1", "create_task", map[string]any{"title": "Buy milk"})}},
//		modeltest.Turn{Text: []string{"Done: ", "I added “Buy milk”."}},
//	)
//	svc := newService(modeltest.Source{"local": m}) // whatever takes a model.Source
//	... run the conversation ...
//	reqs := m.Requests() // reqs[1].Messages ends with the tool's result
//
// The fake is for the core's own logic (what it sends, what it does with an
// answer); tests of the plugin path itself run a real plugin process.
package modeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/sdk"
)

// Turn is one scripted answer of Chat.
type Turn struct {
	// Text is the answer's text, streamed as these deltas in order; the
	// message's content is their concatenation.
	Text []string
	// ToolCalls are streamed after the text, one event each, and returned
	// in the message (StopReason "tool_calls").
	ToolCalls []sdk.ToolCall
	Usage     sdk.Usage
	// StopReason overrides "stop" (or "tool_calls").
	StopReason string
	// Model names the model in the response (default: the request's, else
	// "scripted").
	Model string
	// Err, when set, ends the turn after its events have been streamed: with
	// no Text and ToolCalls the call fails outright, with some it is a
	// stream cut mid-answer. Use *sdk.Error to say why, as a plugin would
	// (sdk.Errorf(sdk.CodeRateLimited, ...)).
	Err error
	// Wait, when set, holds the turn before its first event until the
	// channel is closed or the call's context ends (then the call returns
	// the context's error): a slow model, for cancellation tests.
	Wait <-chan struct{}
	// Started, when set, is closed when a call takes the turn up (before
	// Wait): a test waits on it to act while the call is under way.
	Started chan struct{}
	// Pause (wire servers only) is a wait before each text delta after the
	// first: a provider that answers slowly. The stream ends early when
	// the request does.
	Pause time.Duration
	// Hang (wire servers only) keeps the stream open after the turn's
	// events, without its end, until the request ends: a provider that
	// stops sending mid-answer and never finishes.
	Hang bool
}

// Model is a scripted model provider. The zero value answers nothing;
// New or Script adds turns. Func fields, when set, answer instead of the
// script (ChatFunc) or supply the optional capabilities; set them before
// the model is used.
type Model struct {
	// ChatFunc answers every Chat call when set (Turns are not used).
	ChatFunc func(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error)
	// EmbedFunc embeds; nil answers Embed with CodeUnimplemented, as a
	// plugin without embeddings does. HashEmbed is a ready one.
	EmbedFunc func(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error)
	// TranscribeFunc transcribes; nil answers CodeUnimplemented.
	TranscribeFunc func(ctx context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error)
	// Manifest is what Describe returns (default: a manifest named
	// "scripted" with the capabilities set above).
	Manifest *sdk.Manifest

	mu          sync.Mutex
	turns       []Turn
	down        bool
	chats       []*sdk.ChatRequest
	embeds      []*sdk.EmbedRequest
	transcribes []*sdk.TranscribeRequest
}

var (
	_ model.LLM       = (*Model)(nil)
	_ sdk.Embedder    = (*Model)(nil)
	_ sdk.Transcriber = (*Model)(nil)
)

// New returns a model that answers its Chat calls with turns, in order.
func New(turns ...Turn) *Model {
	m := &Model{}
	m.Script(turns...)
	return m
}

// Script appends turns to the script.
func (m *Model) Script(turns ...Turn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.turns = append(m.turns, turns...)
}

// Left is the number of scripted turns not answered yet.
func (m *Model) Left() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.turns)
}

// SetAvailable sets what Available reports (true at first); calls are
// answered either way.
func (m *Model) SetAvailable(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = !ok
}

// Available reports what SetAvailable set.
func (m *Model) Available() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.down
}

// Requests returns copies of the chat requests received, in order.
func (m *Model) Requests() []sdk.ChatRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sdk.ChatRequest, len(m.chats))
	for i, r := range m.chats {
		out[i] = *r
	}
	return out
}

// EmbedRequests returns copies of the embedding requests received.
func (m *Model) EmbedRequests() []sdk.EmbedRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sdk.EmbedRequest, len(m.embeds))
	for i, r := range m.embeds {
		out[i] = *r
	}
	return out
}

// TranscribeRequests returns copies of the transcription requests received.
func (m *Model) TranscribeRequests() []sdk.TranscribeRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sdk.TranscribeRequest, len(m.transcribes))
	for i, r := range m.transcribes {
		out[i] = *r
	}
	return out
}

// Describe returns Manifest, or one naming the capabilities scripted.
func (m *Model) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	if m.Manifest != nil {
		c := *m.Manifest
		return &c, nil
	}
	caps := []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapTools}
	if m.EmbedFunc != nil {
		caps = append(caps, sdk.CapEmbed)
	}
	if m.TranscribeFunc != nil {
		caps = append(caps, sdk.CapTranscribe)
	}
	return &sdk.Manifest{Name: "scripted", DisplayName: "Scripted model (tests)", Capabilities: caps,
		Models: []sdk.Model{{ID: "scripted", DisplayName: "Scripted model", Capabilities: caps}}}, nil
}

// Chat records the request and answers with ChatFunc or the next turn. A
// call beyond the script fails with CodeInternal naming the call.
func (m *Model) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	m.mu.Lock()
	m.chats = append(m.chats, cloneChat(req))
	n := len(m.chats)
	var turn Turn
	scripted := len(m.turns) > 0
	if m.ChatFunc == nil && scripted {
		turn, m.turns = m.turns[0], m.turns[1:]
	}
	m.mu.Unlock()
	if m.ChatFunc != nil {
		return m.ChatFunc(ctx, req, stream)
	}
	if !scripted {
		return nil, sdk.Errorf(sdk.CodeInternal, "modeltest: chat call %d has no scripted turn", n)
	}
	return play(ctx, turn, req, stream)
}

// play streams a turn's events and returns its answer.
func play(ctx context.Context, t Turn, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	if t.Started != nil {
		close(t.Started)
	}
	if t.Wait != nil {
		select {
		case <-t.Wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	send := func(ev *sdk.ChatEvent) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !req.Stream || stream == nil {
			return nil
		}
		return stream.Send(ev)
	}
	for _, d := range t.Text {
		if err := send(&sdk.ChatEvent{Text: d}); err != nil {
			return nil, err
		}
	}
	calls := make([]sdk.ToolCall, len(t.ToolCalls))
	for i, c := range t.ToolCalls {
		c.Arguments = append(json.RawMessage(nil), c.Arguments...)
		calls[i] = c
		ev := c
		if err := send(&sdk.ChatEvent{ToolCall: &ev}); err != nil {
			return nil, err
		}
	}
	if t.Err != nil {
		return nil, t.Err
	}
	stop := t.StopReason
	if stop == "" {
		stop = "stop"
		if len(calls) > 0 {
			stop = "tool_calls"
		}
	}
	name := t.Model
	if name == "" {
		name = req.Model
	}
	if name == "" {
		name = "scripted"
	}
	msg := sdk.Message{Role: sdk.RoleAssistant, Content: strings.Join(t.Text, "")}
	if len(calls) > 0 {
		msg.ToolCalls = calls
	}
	return &sdk.ChatResponse{Message: msg, StopReason: stop, Usage: t.Usage, Model: name}, nil
}

// Embed records the request and calls EmbedFunc.
func (m *Model) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	c := *req
	c.Texts = append([]string(nil), req.Texts...)
	m.mu.Lock()
	m.embeds = append(m.embeds, &c)
	m.mu.Unlock()
	if m.EmbedFunc == nil {
		return nil, sdk.Errorf(sdk.CodeUnimplemented, "Embed is not implemented by this plugin")
	}
	return m.EmbedFunc(ctx, req)
}

// Transcribe records the request and calls TranscribeFunc.
func (m *Model) Transcribe(ctx context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
	c := *req
	c.Image = append([]byte(nil), req.Image...)
	m.mu.Lock()
	m.transcribes = append(m.transcribes, &c)
	m.mu.Unlock()
	if m.TranscribeFunc == nil {
		return nil, sdk.Errorf(sdk.CodeUnimplemented, "Transcribe is not implemented by this plugin")
	}
	return m.TranscribeFunc(ctx, req)
}

// cloneChat copies what a caller might reuse after the call.
func cloneChat(r *sdk.ChatRequest) *sdk.ChatRequest {
	c := *r
	c.Messages = make([]sdk.Message, len(r.Messages))
	for i, msg := range r.Messages {
		msg.ToolCalls = append([]sdk.ToolCall(nil), msg.ToolCalls...)
		c.Messages[i] = msg
	}
	c.Tools = append([]sdk.ToolDefinition(nil), r.Tools...)
	if r.Temperature != nil {
		t := *r.Temperature
		c.Temperature = &t
	}
	return &c
}

// Call is a tool call with args encoded as JSON; it panics on args that
// do not encode (a mistake in the test).
func Call(id, name string, args any) sdk.ToolCall {
	raw, err := json.Marshal(args)
	if err != nil {
		panic(fmt.Sprintf("modeltest.Call(%s): %v", name, err))
	}
	return sdk.ToolCall{ID: id, Name: name, Arguments: raw}
}

// Source serves models by name; a name it lacks is model.ErrUnknown.
type Source map[string]model.LLM

// Model returns the named model.
func (s Source) Model(name string) (model.LLM, error) {
	if m, ok := s[name]; ok && m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %q", model.ErrUnknown, name)
}

// HashEmbed is an EmbedFunc: each text becomes its lower-cased words hashed
// into dim dimensions plus a constant one (so no vector is zero),
// L2-normalised, under the model name "hash-<dim>". Texts that share words
// get close vectors: enough for tests of what the core does with
// embeddings, not of retrieval quality.
func HashEmbed(dim int) func(context.Context, *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	return func(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
		out := &sdk.EmbedResponse{Model: fmt.Sprintf("hash-%d", dim), Dimension: dim, Vectors: make([][]float32, len(req.Texts))}
		for i, text := range req.Texts {
			v := make([]float32, dim)
			v[0] = 1
			for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
				h := fnv.New32a()
				h.Write([]byte(w))
				v[1+int(h.Sum32()%uint32(dim-1))]++
			}
			var norm float64
			for _, x := range v {
				norm += float64(x) * float64(x)
			}
			for j := range v {
				v[j] = float32(float64(v[j]) / math.Sqrt(norm))
			}
			out.Vectors[i] = v
		}
		return out, nil
	}
}
