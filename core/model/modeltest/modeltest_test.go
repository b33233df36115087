package modeltest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/sdk"
)

// events collects what a chat streams.
type events struct {
	mu  sync.Mutex
	evs []sdk.ChatEvent
}

func (e *events) Send(ev *sdk.ChatEvent) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, *ev)
	return nil
}

func (e *events) list() []sdk.ChatEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdk.ChatEvent(nil), e.evs...)
}

func chat(t *testing.T, m model.LLM, stream sdk.ChatStream, msgs ...sdk.Message) (*sdk.ChatResponse, error) {
	t.Helper()
	return m.Chat(context.Background(), &sdk.ChatRequest{Model: "m-1", Messages: msgs, Stream: stream != nil}, stream)
}

// TestToolCallThenAnswer is the conversation the fake exists for: the
// model calls a tool, the caller runs it and sends the result, the model
// answers.
func TestToolCallThenAnswer(t *testing.T) {
	t.Parallel()
	m := modeltest.New(
		modeltest.Turn{Text: []string{"Let me add it."}, ToolCalls: []sdk.ToolCall{modeltest.Call("call_1", "create_task", map[string]any{"title": "Buy milk"})},
			Usage: sdk.Usage{InputTokens: 12, OutputTokens: 5}},
		modeltest.Turn{Text: []string{"Done: ", "“Buy milk” is on your list."}},
	)
	var src model.Source = modeltest.Source{"local": m}
	llm, err := src.Model("local")
	require.NoError(t, err)
	require.True(t, llm.Available())

	var ev events
	user := sdk.Message{Role: sdk.RoleUser, Content: "remind me to buy milk"}
	res, err := chat(t, llm, &ev, user)
	require.NoError(t, err)
	require.Equal(t, "tool_calls", res.StopReason)
	require.Equal(t, "m-1", res.Model)
	require.Equal(t, sdk.Usage{InputTokens: 12, OutputTokens: 5}, res.Usage)
	require.Equal(t, sdk.RoleAssistant, res.Message.Role)
	require.Equal(t, "Let me add it.", res.Message.Content)
	require.Len(t, res.Message.ToolCalls, 1)
	call := res.Message.ToolCalls[0]
	require.Equal(t, "create_task", call.Name)
	require.JSONEq(t, `{"title":"Buy milk"}`, string(call.Arguments))
	got := ev.list()
	require.Len(t, got, 2, "the text, then the tool call")
	require.Equal(t, "Let me add it.", got[0].Text)
	require.Equal(t, "call_1", got[1].ToolCall.ID)

	result := sdk.Message{Role: sdk.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: `{"id":"t1"}`}
	var ev2 events
	res, err = chat(t, llm, &ev2, user, res.Message, result)
	require.NoError(t, err)
	require.Equal(t, "stop", res.StopReason)
	require.Equal(t, "Done: “Buy milk” is on your list.", res.Message.Content)
	require.Empty(t, res.Message.ToolCalls)
	require.Equal(t, []sdk.ChatEvent{{Text: "Done: "}, {Text: "“Buy milk” is on your list."}}, ev2.list())

	reqs := m.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, []sdk.Message{user}, reqs[0].Messages)
	last := reqs[1].Messages[len(reqs[1].Messages)-1]
	require.Equal(t, sdk.RoleTool, last.Role)
	require.Equal(t, "call_1", last.ToolCallID)
	require.Zero(t, m.Left())
}

func TestStreamCutMidAnswer(t *testing.T) {
	t.Parallel()
	cut := sdk.Errorf(sdk.CodeTemporary, "connection reset")
	m := modeltest.New(modeltest.Turn{Text: []string{"The first half"}, Err: cut})
	var ev events
	res, err := chat(t, m, &ev)
	require.Nil(t, res)
	require.ErrorIs(t, err, cut)
	require.Equal(t, sdk.CodeTemporary, sdk.CodeOf(err))
	require.Equal(t, []sdk.ChatEvent{{Text: "The first half"}}, ev.list(), "what came before the cut was streamed")
}

func TestRefusedCallAndScriptEnd(t *testing.T) {
	t.Parallel()
	m := modeltest.New(modeltest.Turn{Err: sdk.Errorf(sdk.CodeRateLimited, "slow down")})
	var ev events
	_, err := chat(t, m, &ev)
	require.Equal(t, sdk.CodeRateLimited, sdk.CodeOf(err))
	require.Empty(t, ev.list())

	_, err = chat(t, m, nil)
	require.Equal(t, sdk.CodeInternal, sdk.CodeOf(err))
	require.Contains(t, err.Error(), "chat call 2 has no scripted turn")
	require.Len(t, m.Requests(), 2, "calls beyond the script are recorded too")

	m.Script(modeltest.Turn{Text: []string{"later"}})
	res, err := chat(t, m, nil)
	require.NoError(t, err)
	require.Equal(t, "later", res.Message.Content)
}

// TestNotStreaming: a request that does not ask to stream gets no events,
// only the whole answer.
func TestNotStreaming(t *testing.T) {
	t.Parallel()
	m := modeltest.New(modeltest.Turn{Text: []string{"a", "b"}, ToolCalls: []sdk.ToolCall{modeltest.Call("c", "x", nil)}, Model: "big-2", StopReason: "length"})
	var ev events
	res, err := m.Chat(context.Background(), &sdk.ChatRequest{}, &ev)
	require.NoError(t, err)
	require.Empty(t, ev.list())
	require.Equal(t, "ab", res.Message.Content)
	require.Equal(t, "big-2", res.Model)
	require.Equal(t, "length", res.StopReason)
	require.Equal(t, json.RawMessage("null"), res.Message.ToolCalls[0].Arguments)
}

func TestStreamSendErrorEndsTheCall(t *testing.T) {
	t.Parallel()
	gone := errors.New("client went away")
	m := modeltest.New(modeltest.Turn{Text: []string{"one", "two"}})
	sent := 0
	_, err := chat(t, m, sdk.ChatStreamFunc(func(*sdk.ChatEvent) error { sent++; return gone }))
	require.ErrorIs(t, err, gone)
	require.Equal(t, 1, sent)
}

func TestWaitAndCancel(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	m := modeltest.New(modeltest.Turn{Wait: hold, Text: []string{"late"}}, modeltest.Turn{Wait: hold, Text: []string{"released"}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Chat(ctx, &sdk.ChatRequest{}, nil)
		errc <- err
	}()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	close(hold)
	res, err := m.Chat(context.Background(), &sdk.ChatRequest{}, nil)
	require.NoError(t, err)
	require.Equal(t, "released", res.Message.Content)
}

// TestRequestsAreCopies: a caller that reuses its request after the call
// does not change what was recorded.
func TestRequestsAreCopies(t *testing.T) {
	t.Parallel()
	m := modeltest.New(modeltest.Turn{Text: []string{"ok"}})
	req := &sdk.ChatRequest{Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "first"}}}
	_, err := m.Chat(context.Background(), req, nil)
	require.NoError(t, err)
	req.Messages[0].Content = "changed"
	require.Equal(t, "first", m.Requests()[0].Messages[0].Content)
}

// TestConcurrentCalls: every turn is answered exactly once however many
// goroutines call (run with -race).
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	const n = 64
	m := &modeltest.Model{EmbedFunc: modeltest.HashEmbed(8)}
	for i := range n {
		m.Script(modeltest.Turn{Text: []string{fmt.Sprint(i)}})
	}
	var wg sync.WaitGroup
	answers := make([]string, n)
	for i := range n {
		wg.Go(func() {
			res, err := m.Chat(context.Background(), &sdk.ChatRequest{Messages: []sdk.Message{{Content: fmt.Sprint(i)}}}, nil)
			if err == nil {
				answers[i] = res.Message.Content
			}
			_, _ = m.Embed(context.Background(), &sdk.EmbedRequest{Texts: []string{"x"}})
			_ = m.Available()
		})
	}
	wg.Wait()
	sort.Slice(answers, func(a, b int) bool {
		return len(answers[a]) < len(answers[b]) || len(answers[a]) == len(answers[b]) && answers[a] < answers[b]
	})
	for i := range n {
		require.Equal(t, fmt.Sprint(i), answers[i])
	}
	require.Len(t, m.Requests(), n)
	require.Len(t, m.EmbedRequests(), n)
	require.Zero(t, m.Left())
}

func TestOptionalCapabilities(t *testing.T) {
	t.Parallel()
	m := modeltest.New()
	e, err := model.Embedder(m)
	require.NoError(t, err, "the fake always has Embed, like the host's client")
	_, err = e.Embed(context.Background(), &sdk.EmbedRequest{Texts: []string{"a"}})
	require.Equal(t, sdk.CodeUnimplemented, sdk.CodeOf(err), "and answers it as a plugin without embeddings does")
	_, err = m.Transcribe(context.Background(), &sdk.TranscribeRequest{Image: []byte("png")})
	require.Equal(t, sdk.CodeUnimplemented, sdk.CodeOf(err))
	require.Len(t, m.TranscribeRequests(), 1)

	m.TranscribeFunc = func(context.Context, *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
		return &sdk.TranscribeResponse{Text: "read"}, nil
	}
	tr, err := model.Transcriber(m)
	require.NoError(t, err)
	res, err := tr.Transcribe(context.Background(), &sdk.TranscribeRequest{})
	require.NoError(t, err)
	require.Equal(t, "read", res.Text)
	man, err := m.Describe(context.Background(), &sdk.DescribeRequest{})
	require.NoError(t, err)
	require.Contains(t, man.Capabilities, sdk.CapTranscribe)
	require.NotContains(t, man.Capabilities, sdk.CapEmbed)

	m.SetAvailable(false)
	require.False(t, m.Available())
}

func TestSourceUnknownName(t *testing.T) {
	t.Parallel()
	_, err := modeltest.Source{"local": modeltest.New()}.Model("elsewhere")
	require.ErrorIs(t, err, model.ErrUnknown)
	require.Contains(t, err.Error(), `"elsewhere"`)
}

func TestHashEmbed(t *testing.T) {
	t.Parallel()
	embed := modeltest.HashEmbed(64)
	res, err := embed(context.Background(), &sdk.EmbedRequest{Texts: []string{"Plant tomatoes in May", "plant TOMATOES in june", "Fix the bicycle brakes", ""}})
	require.NoError(t, err)
	require.Equal(t, "hash-64", res.Model)
	require.Equal(t, 64, res.Dimension)
	require.Len(t, res.Vectors, 4)
	dot := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	for _, v := range res.Vectors {
		require.Len(t, v, 64)
		require.InDelta(t, 1, math.Sqrt(dot(v, v)), 1e-6, "unit length, the empty text too")
	}
	require.Greater(t, dot(res.Vectors[0], res.Vectors[1]), dot(res.Vectors[0], res.Vectors[2]), "shared words are closer")
	again, err := embed(context.Background(), &sdk.EmbedRequest{Texts: []string{"Plant tomatoes in May"}})
	require.NoError(t, err)
	require.Equal(t, res.Vectors[0], again.Vectors[0], "deterministic")
}
