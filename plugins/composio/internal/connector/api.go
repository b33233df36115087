package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

// client calls Composio's API v3 with the project API key (x-api-key).
type client struct {
	base    string
	key     string
	http    *http.Client
	maxBody int64
	now     func() time.Time
}

// statusError is the cause kept under a typed error (it stays in the
// plugin): the HTTP status of Composio's answer.
type statusError struct {
	Status int
	Msg    string
}

func (e *statusError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Msg) }

// statusOf returns the HTTP status under err, 0 when none.
func statusOf(err error) int {
	var s *statusError
	if errors.As(err, &s) {
		return s.Status
	}
	return 0
}

// do sends a request and decodes a 2xx JSON answer into out. Anything else
// is an *sdk.Error over a *statusError: 401 → invalid_config (the API key
// is the admin's: a refused one is never the user's to fix), 429 →
// rate_limited with the Retry-After wait, 5xx → temporary, other 4xx as
// sdk/httpclient maps them; call sites refine what a status means for
// their endpoint (execute's 422: the account is not active).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return sdk.Permanent("encode the request: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return sdk.InvalidConfig("config.base_url: bad request URL %q: %v", u, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-api-key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	op := method + " " + req.URL.Path
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: Composio could not be reached: %v", op, err), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: reading Composio's answer: %v", op, err), Err: err}
	}
	if int64(len(raw)) > c.maxBody {
		return sdk.Permanent("%s: Composio answered more than %d bytes (config.max_response_bytes)", op, c.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.errorOf(op, resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &sdk.Error{Code: sdk.CodeTemporary, Err: err,
			Message: fmt.Sprintf("%s: Composio answered %d with something that is not the JSON expected (%d bytes): %v", op, resp.StatusCode, len(raw), err)}
	}
	return nil
}

// apiError is Composio's error body (components.schemas.Error).
type apiError struct {
	Error struct {
		Message      string   `json:"message"`
		Code         float64  `json:"code"`
		Status       float64  `json:"status"`
		RequestID    string   `json:"request_id"`
		SuggestedFix string   `json:"suggested_fix"`
		Errors       []string `json:"errors"`
	} `json:"error"`
}

func (c *client) errorOf(op string, resp *http.Response, raw []byte) error {
	var body apiError
	_ = json.Unmarshal(raw, &body)
	msg := strings.TrimSpace(body.Error.Message)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	if len(body.Error.Errors) > 0 {
		msg += " (" + strings.Join(body.Error.Errors, "; ") + ")"
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	cause := &statusError{Status: resp.StatusCode, Msg: msg}
	if resp.StatusCode == http.StatusUnauthorized {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Err: cause,
			Message: fmt.Sprintf("%s: Composio refused the API key (401; secret_env.api_key): %s", op, msg)}
	}
	err := httpclient.StatusError(op, "Composio", resp.StatusCode, resp.Header, raw, c.now())
	var e *sdk.Error
	if errors.As(err, &e) {
		e.Err = cause
		if body.Error.Message != "" && !strings.Contains(e.Message, body.Error.Message) {
			e.Message += ": " + msg
		}
	}
	return err
}
