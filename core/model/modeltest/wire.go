package modeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// WireServer is a local HTTP server speaking a model provider's real
// streaming wire format, answering each chat request with the next
// scripted Turn: for tests that run the real llm plugin (./plugins/llm)
// and need a conversation of several model calls (tool calls, then an
// answer) rather than one recorded exchange.
//
// A Turn's Text deltas become the provider's text deltas; its ToolCalls
// are opened with their id and name and their arguments streamed in
// fragments split mid-JSON, as the providers do; Usage is reported where
// the provider reports it. Err with nothing streamed answers an HTTP
// error of the provider's shape (429 with Retry-After for
// CodeRateLimited, 401 for CodeNeedsReauth, 400 for CodePermanent and
// CodeInvalidConfig, else 503); Err after some text or calls cuts the
// stream there, before its end marker, as a provider or proxy that dies
// mid-answer. Started is closed when a request takes the turn up; Wait
// holds the answer until it is closed or the request ends (a provider that
// never answers, when never closed); Pause spaces the text deltas (a slow
// provider); Hang leaves the stream open and silent after the turn's
// events until the request ends (a stalled one). A request beyond the script is answered 500.
type WireServer struct {
	// URL is the API's base URL, as the plugin's base_url takes it
	// (http://127.0.0.1:port/v1).
	URL string

	write func(ctx context.Context, w http.ResponseWriter, f http.Flusher, t Turn, model string)
	// whole answers a request that did not ask to stream (nil: streamed
	// anyway).
	whole  func(w http.ResponseWriter, t Turn, model string)
	fail   func(w http.ResponseWriter, err error)
	path   string
	answer func(WireRequest) (Turn, bool)

	mu    sync.Mutex
	turns []Turn
	got   []WireRequest
}

// WireRequest is a request the server received.
type WireRequest struct {
	Path   string
	Header http.Header
	// Body is the decoded JSON body (nil when it was not JSON).
	Body map[string]any
}

// OpenAIServer speaks OpenAI's chat completions API
// (POST /v1/chat/completions with stream: true, server-sent events of
// chat.completion.chunk objects, tool calls keyed by index, the usage
// chunk of stream_options.include_usage, data: [DONE]; without stream, one
// chat.completion object).
func OpenAIServer(t testing.TB, turns ...Turn) *WireServer {
	s := newWireServer(t, "/v1/chat/completions", writeOpenAI, failOpenAI, turns)
	s.whole = writeOpenAIWhole
	return s
}

// OpenAIReplayServer speaks OpenAI's chat completions API as OpenAIServer
// does, but answers each request with the Turn answer gives for it (by
// its content, not its order): for replaying recorded answers. A request
// answer has nothing for is answered 500.
func OpenAIReplayServer(t testing.TB, answer func(WireRequest) (Turn, bool)) *WireServer {
	s := OpenAIServer(t)
	s.answer = answer
	return s
}

// AnthropicServer speaks Anthropic's Messages API (POST /v1/messages with
// stream: true: message_start, content blocks of text and tool_use whose
// input arrives in input_json_delta fragments, ping, message_delta with
// the stop reason and output usage, message_stop).
func AnthropicServer(t testing.TB, turns ...Turn) *WireServer {
	return newWireServer(t, "/v1/messages", writeAnthropic, failAnthropic, turns)
}

func newWireServer(t testing.TB, path string, write func(context.Context, http.ResponseWriter, http.Flusher, Turn, string),
	fail func(http.ResponseWriter, error), turns []Turn) *WireServer {
	t.Helper()
	s := &WireServer{write: write, fail: fail, path: path, turns: turns}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/v1"
	return s
}

// Script appends turns to the script.
func (s *WireServer) Script(turns ...Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.turns = append(s.turns, turns...)
}

// Left is the number of scripted turns not answered yet.
func (s *WireServer) Left() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.turns)
}

// Requests returns the requests received so far, in order.
func (s *WireServer) Requests() []WireRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WireRequest(nil), s.got...)
}

func (s *WireServer) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	req := WireRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	s.got = append(s.got, req)
	var turn Turn
	var scripted bool
	switch {
	case s.answer != nil:
		// Called outside the lock below.
	case len(s.turns) > 0 && r.URL.Path == s.path:
		scripted = true
		turn, s.turns = s.turns[0], s.turns[1:]
	}
	s.mu.Unlock()
	if s.answer != nil && r.URL.Path == s.path {
		turn, scripted = s.answer(req)
	}
	if !scripted {
		s.fail(w, sdk.Errorf(sdk.CodeInternal, "modeltest: %s %s has no scripted turn", r.Method, r.URL.Path))
		return
	}
	if turn.Started != nil {
		close(turn.Started)
	}
	if turn.Wait != nil {
		select {
		case <-turn.Wait:
		case <-r.Context().Done():
			return
		}
	}
	if turn.Err != nil && len(turn.Text) == 0 && len(turn.ToolCalls) == 0 {
		s.fail(w, turn.Err)
		return
	}
	model := turn.Model
	if model == "" {
		model, _ = body["model"].(string)
	}
	if stream, _ := body["stream"].(bool); !stream && s.whole != nil {
		s.whole(w, turn, model)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	f, _ := w.(http.Flusher)
	s.write(r.Context(), w, f, turn, model)
}

// pause waits t.Pause before text delta i (none before the first); false
// when the request ended meanwhile.
func pause(ctx context.Context, t Turn, i int) bool {
	if i == 0 || t.Pause <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(t.Pause)
	defer timer.Stop()
	select {
	case <-timer.C: // a slow provider, not synchronisation
		return true
	case <-ctx.Done():
		return false
	}
}

// status is the HTTP status a provider answers for err's code.
func status(err error) int {
	switch sdk.CodeOf(err) {
	case sdk.CodeRateLimited:
		return http.StatusTooManyRequests
	case sdk.CodeNeedsReauth:
		return http.StatusUnauthorized
	case sdk.CodePermanent, sdk.CodeInvalidConfig:
		return http.StatusBadRequest
	case sdk.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusServiceUnavailable
}

func message(err error) string {
	if e, ok := err.(*sdk.Error); ok && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

func failOpenAI(w http.ResponseWriter, err error) {
	code := status(err)
	typ := map[int]string{429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}[code]
	if typ == "" {
		typ = "server_error"
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSONError(w, code, map[string]any{"error": map[string]any{"message": message(err), "type": typ, "param": nil, "code": typ}})
}

func failAnthropic(w http.ResponseWriter, err error) {
	code := status(err)
	typ := map[int]string{429: "rate_limit_error", 401: "authentication_error", 400: "invalid_request_error", 500: "api_error"}[code]
	if typ == "" {
		code, typ = 529, "overloaded_error"
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSONError(w, code, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": message(err)}})
}

func writeJSONError(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// fragments cuts s into pieces of at most n runes (arguments split
// mid-JSON, but not inside a character: providers stream valid UTF-8).
func fragments(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

// argFragment is the size of the argument fragments streamed.
const argFragment = 9

func flush(f http.Flusher) {
	if f != nil {
		f.Flush()
	}
}

// writeOpenAI streams t as api.openai.com does: every chunk with id,
// object, created, model, system_fingerprint, choices (index, delta,
// logprobs, finish_reason), usage null until the last chunk, and an
// obfuscation pad.
func writeOpenAI(ctx context.Context, w http.ResponseWriter, f http.Flusher, t Turn, model string) {
	send := func(data string) {
		_, _ = io.WriteString(w, "data: "+data+"\n\n")
		flush(f)
	}
	chunk := func(delta, finish string) string {
		fr := "null"
		if finish != "" {
			fr = strconv.Quote(finish)
		}
		return `{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":` + strconv.Quote(model) +
			`,"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":` + delta +
			`,"logprobs":null,"finish_reason":` + fr + `}],"usage":null,"obfuscation":"x3Zq"}`
	}
	send(chunk(`{"role":"assistant","content":"","refusal":null}`, ""))
	for i, text := range t.Text {
		if !pause(ctx, t, i) {
			return
		}
		b, _ := json.Marshal(text)
		send(chunk(`{"content":`+string(b)+`}`, ""))
	}
	for i, c := range t.ToolCalls {
		send(chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]}`, i, c.ID, c.Name), ""))
		for _, frag := range fragments(string(c.Arguments), argFragment) {
			b, _ := json.Marshal(frag)
			send(chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, b), ""))
		}
	}
	if t.Hang {
		<-ctx.Done() // open, silent, until the client gives up
		return
	}
	if t.Err != nil {
		return // cut: no finish_reason, no [DONE]
	}
	finish := t.StopReason
	if finish == "" {
		finish = "stop"
		if len(t.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	send(chunk(`{}`, finish))
	send(`{"id":"chatcmpl-BqT7yJ2mXo4h","object":"chat.completion.chunk","created":1752036500,"model":` + strconv.Quote(model) +
		`,"service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[],"usage":{"prompt_tokens":` +
		strconv.Itoa(t.Usage.InputTokens) + `,"completion_tokens":` + strconv.Itoa(t.Usage.OutputTokens) + `,"total_tokens":` +
		strconv.Itoa(t.Usage.InputTokens+t.Usage.OutputTokens) + `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
		`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,` +
		`"rejected_prediction_tokens":0}},"obfuscation":"Pq"}`)
	send("[DONE]")
}

// writeOpenAIWhole answers t as one chat.completion object, as
// api.openai.com does for a request without stream (content null when
// there is only tool calls). A turn with Err and some text is answered
// whole: a complete response cannot be cut mid-answer.
func writeOpenAIWhole(w http.ResponseWriter, t Turn, model string) {
	var content any
	if len(t.Text) > 0 {
		content = strings.Join(t.Text, "")
	}
	msg := map[string]any{"role": "assistant", "content": content, "refusal": nil, "annotations": []any{}}
	finish := t.StopReason
	if finish == "" {
		finish = "stop"
	}
	if len(t.ToolCalls) > 0 {
		calls := make([]map[string]any, 0, len(t.ToolCalls))
		for _, c := range t.ToolCalls {
			calls = append(calls, map[string]any{"id": c.ID, "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": string(c.Arguments)}})
		}
		msg["tool_calls"] = calls
		if t.StopReason == "" {
			finish = "tool_calls"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-BqT7yJ2mXo4h", "object": "chat.completion", "created": 1752036500,
		"model": model, "choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage": map[string]any{"prompt_tokens": t.Usage.InputTokens, "completion_tokens": t.Usage.OutputTokens,
			"total_tokens":              t.Usage.InputTokens + t.Usage.OutputTokens,
			"prompt_tokens_details":     map[string]any{"cached_tokens": 0, "audio_tokens": 0},
			"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
		"service_tier": "default", "system_fingerprint": "fp_07871e2ad8"})
}

// writeAnthropic streams t as api.anthropic.com does: event and data
// lines, message_start with the input usage, a text block, a ping,
// tool_use blocks whose input arrives in input_json_delta fragments (the
// first one empty), message_delta with the stop reason and the output
// usage, message_stop.
func writeAnthropic(ctx context.Context, w http.ResponseWriter, f http.Flusher, t Turn, model string) {
	send := func(event, data string) {
		_, _ = io.WriteString(w, "event: "+event+"\ndata: "+data+"\n\n")
		flush(f)
	}
	send("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":`+
		strconv.Quote(model)+`,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":`+strconv.Itoa(t.Usage.InputTokens)+
		`,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}}`)
	block := 0
	if len(t.Text) > 0 {
		send("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
		send("ping", `{"type": "ping"}`)
		for i, text := range t.Text {
			if !pause(ctx, t, i) {
				return
			}
			b, _ := json.Marshal(text)
			send("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+string(b)+`}}`)
		}
		send("content_block_stop", `{"type":"content_block_stop","index":0}`)
		block++
	}
	for _, c := range t.ToolCalls {
		send("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%q,"name":%q,"input":{}}}`,
			block, c.ID, c.Name))
		for _, frag := range append([]string{""}, fragments(string(c.Arguments), argFragment)...) {
			b, _ := json.Marshal(frag)
			send("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, block, b))
		}
		send("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, block))
		block++
	}
	if t.Hang {
		<-ctx.Done() // open, silent, until the client gives up
		return
	}
	if t.Err != nil {
		return // cut: no message_delta, no message_stop
	}
	stop := t.StopReason
	if stop == "" {
		stop = "end_turn"
		if len(t.ToolCalls) > 0 {
			stop = "tool_use"
		}
	}
	send("message_delta", `{"type":"message_delta","delta":{"stop_reason":`+strconv.Quote(stop)+`,"stop_sequence":null},"usage":{"output_tokens":`+
		strconv.Itoa(t.Usage.OutputTokens)+`}}`)
	send("message_stop", `{"type":"message_stop"}`)
}
