package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

// langchaingo reports a provider's HTTP failure as a plain string ("API
// returned unexpected status code: 429: ...") and drops the headers, so the
// status, Retry-After and error body are read here, on the way through, by a
// RoundTripper that wraps every call's HTTP client.

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 64 << 10

// callRecorder remembers the last HTTP exchange of one call.
type callRecorder struct {
	base http.RoundTripper
	// streamEnd is what a complete streamed answer contains at its end
	// (nil when the call does not stream).
	streamEnd []byte
	// tools, when set, reads the tool calls of a streamed answer as its
	// body goes by.
	tools *toolStream

	mu           sync.Mutex
	sent         bool
	transportErr error
	status       int
	header       http.Header
	errBody      []byte
	body         *watchedBody
}

func (r *callRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = true
	r.transportErr, r.status, r.header, r.errBody, r.body = err, 0, nil, nil, nil
	if err != nil {
		return nil, err
	}
	r.status, r.header = resp.StatusCode, resp.Header
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		r.errBody = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	r.body = &watchedBody{rc: resp.Body, marker: r.streamEnd, tools: r.tools}
	resp.Body = r.body
	return resp, nil
}

// exchange is a snapshot of what callRecorder saw.
type exchange struct {
	sent         bool
	transportErr error
	status       int
	header       http.Header
	errBody      []byte
	readErr      error
	sawEnd       bool
}

func (r *callRecorder) snapshot() exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := exchange{sent: r.sent, transportErr: r.transportErr, status: r.status, header: r.header, errBody: r.errBody}
	if r.body != nil {
		x.readErr, x.sawEnd = r.body.state()
	}
	return x
}

// watchedBody notes how reading an answer ended: a read error (the
// connection dropped) and whether the end-of-stream marker went by.
type watchedBody struct {
	rc     io.ReadCloser
	marker []byte
	tools  *toolStream

	mu     sync.Mutex
	tail   []byte
	sawEnd bool
	err    error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && b.tools != nil {
		b.tools.write(p[:n])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > 0 && len(b.marker) > 0 && !b.sawEnd {
		// Look across read boundaries: keep the last len(marker)-1 bytes.
		buf := append(b.tail, p[:n]...)
		b.sawEnd = bytes.Contains(buf, b.marker)
		keep := min(len(buf), len(b.marker)-1)
		b.tail = append(b.tail[:0], buf[len(buf)-keep:]...)
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }

func (b *watchedBody) state() (error, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err, b.sawEnd
}

// apiError is the error object of an answer: OpenAI and its imitators send
// {"error":{"message","type","code"}}, Anthropic
// {"type":"error","error":{"type","message"}}, Ollama sometimes
// {"error":"message"}.
type apiError struct {
	Message string
	Type    string
	Code    string
}

func parseAPIError(body []byte) apiError {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &env) != nil {
		return apiError{Message: strings.TrimSpace(string(body))}
	}
	var s string
	if json.Unmarshal(env.Error, &s) == nil {
		return apiError{Message: s}
	}
	var obj struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(env.Error, &obj) == nil && obj.Message != "" {
		return apiError{Message: obj.Message, Type: obj.Type, Code: strings.Trim(string(obj.Code), `"`)}
	}
	return apiError{Message: env.Message}
}

// mapError turns what a langchaingo call returned into the SDK's typed
// error, using what the recorder saw on the wire. streamed says the call
// asked for a stream, which must end with its end marker to be complete; a
// nil err with an incomplete stream is an error too (langchaingo returns what
// it got when the connection closes cleanly mid-stream).
func (s *Settings) mapError(ctx context.Context, op string, err error, rec *callRecorder, streamed bool) error {
	if ctx.Err() != nil {
		// The host cancelled or timed out: say so as a context error, which
		// the SDK carries back as cancellation.
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var typed *sdk.Error
	if errors.As(err, &typed) {
		return err
	}
	x := rec.snapshot()
	if err == nil {
		if streamed && x.sent && x.status < 400 && !x.sawEnd {
			return s.cutStream(op, x)
		}
		return nil
	}
	switch {
	case !x.sent:
		// langchaingo refused to build the request (bad history, arguments
		// that are not JSON, ...): sending it again will not help.
		return sdk.Permanent("%s: %v", op, err)
	case x.transportErr != nil:
		return sdk.Temporary("%s: cannot reach %s at %s: %v", op, s.DisplayName, s.BaseURL, x.transportErr)
	case x.status >= 400:
		return s.statusError(op, x, time.Now())
	case x.readErr != nil || (streamed && !x.sawEnd):
		return s.cutStream(op, x)
	}
	if ct, _, _ := mime.ParseMediaType(x.header.Get("Content-Type")); ct != "" && ct != "application/json" && ct != "text/event-stream" {
		return sdk.InvalidConfig("%s: %s answered with %s, not an API answer: is %s = %s right?", op, s.DisplayName, ct, KeyBaseURL, s.BaseURL)
	}
	// A complete 200 answer langchaingo could not use, or an error event
	// inside a stream (Anthropic's overloaded_error): worth another try.
	return sdk.Temporary("%s: %s: %v", op, s.DisplayName, err)
}

func (s *Settings) cutStream(op string, x exchange) error {
	why := "the connection closed"
	if x.readErr != nil {
		why = x.readErr.Error()
	}
	return sdk.Temporary("%s: %s's answer stopped before it was complete (%s)", op, s.DisplayName, why)
}

// statusError maps an HTTP error answer. now is the clock for Retry-After
// dates when the answer has no Date header.
func (s *Settings) statusError(op string, x exchange, now time.Time) error {
	e := parseAPIError(x.errBody)
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(x.status)
	}
	who := s.DisplayName
	switch {
	case x.status == http.StatusUnauthorized,
		// Some OpenAI-compatible servers answer a wrong key with 400.
		x.status == http.StatusBadRequest && strings.Contains(strings.ToLower(msg), "api key"):
		return sdk.NeedsReauth("%s: %s refused the API key (%d): %s", op, who, x.status, msg)
	case x.status == http.StatusForbidden:
		return sdk.InvalidConfig("%s: %s does not allow this API key to do that (403): %s", op, who, msg)
	case x.status == http.StatusNotFound:
		return sdk.NotFound("%s: %s (404): %s", op, who, msg)
	case x.status == http.StatusPaymentRequired, e.Code == "insufficient_quota":
		// Out of credit: waiting does not help until someone pays.
		return sdk.Permanent("%s: %s: the account is out of credit or quota (%d): %s", op, who, x.status, msg)
	case x.status == http.StatusTooManyRequests:
		return sdk.RateLimited(httpclient.RetryAfter(x.header, now), "%s: %s is rate limiting this API key (429): %s", op, who, msg)
	case x.status == http.StatusRequestTimeout, x.status == http.StatusConflict, x.status == http.StatusTooEarly,
		x.status >= 500:
		// 5xx includes Anthropic's 529 overloaded_error.
		err := sdk.Temporary("%s: %s failed (%d): %s", op, who, x.status, msg)
		err.RetryAfter = httpclient.RetryAfter(x.header, now)
		return err
	default:
		// 400, 413, 422: the request itself is wrong (too long a context,
		// an unsupported parameter for this model).
		return sdk.Permanent("%s: %s rejected the request (%d): %s", op, who, x.status, msg)
	}
}
