// Package httpclient is an HTTP client for integration plugins: it
// authenticates with the call's connection (the OAuth access token the host
// refreshed, or the user's API key), bounds the size of answers, and turns
// HTTP failures into the SDK's typed errors (sdk.NeedsReauth on 401,
// sdk.RateLimited with the Retry-After on 429, sdk.Temporary on 5xx, ...),
// which the host turns into job outcomes and connection states.
package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// DefaultMaxBody bounds an answer's body unless Options.MaxBody says
// otherwise.
const DefaultMaxBody = 10 << 20

// Options configure a Client.
type Options struct {
	// BaseURL is prefixed to relative paths (the plugin's config.base_url,
	// defaulting to the real API root).
	BaseURL string
	// Name is the outside system's name in error messages.
	Name string
	// HTTP is the client underneath (default: 30 s timeout).
	HTTP *http.Client
	// MaxBody bounds an answer's body (default DefaultMaxBody); a longer
	// answer is a permanent error.
	MaxBody int64
	// Scheme is put before an API key in the Authorization header
	// ("Bearer" by default; "-" sends the key alone, as ClickUp wants).
	// OAuth access tokens always go with their token type.
	Scheme string
	// SecretKey is the connection secret holding the API key (default
	// "token", then "api_key").
	SecretKey string
	// Now is the clock for Retry-After dates (default time.Now).
	Now func() time.Time
}

// Client calls one outside API with one connection's credentials.
type Client struct {
	o    Options
	auth string
}

// New returns a client for conn.
func New(conn *sdk.Connection, o Options) *Client {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Name == "" {
		o.Name = "the server"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Client{o: o}
	switch {
	case conn != nil && conn.Token != nil && conn.Token.AccessToken != "":
		typ := conn.Token.TokenType
		if typ == "" || strings.EqualFold(typ, "bearer") {
			typ = "Bearer"
		}
		c.auth = typ + " " + conn.Token.AccessToken
	case conn != nil:
		key := conn.Secrets[o.SecretKey]
		if o.SecretKey == "" {
			key = conn.Secrets["token"]
			if key == "" {
				key = conn.Secrets["api_key"]
			}
		}
		switch {
		case key == "":
		case o.Scheme == "-":
			c.auth = key
		case o.Scheme == "":
			c.auth = "Bearer " + key
		default:
			c.auth = o.Scheme + " " + key
		}
	}
	return c
}

// Do sends a request and reads its answer: a 2xx JSON body is decoded
// into out (when not nil); anything else is a typed error. body, when not
// nil, is sent as JSON.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.DoHeader(ctx, method, path, body, out)
	return err
}

// DoHeader is Do returning the answer's header too (paging links, rate
// limit counters).
func (c *Client) DoHeader(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	u := path
	if !strings.Contains(path, "://") {
		u = strings.TrimSuffix(c.o.BaseURL, "/") + "/" + strings.TrimPrefix(path, "/")
	}
	if _, err := url.Parse(u); err != nil {
		return nil, sdk.InvalidConfig("bad URL %q: %v", u, err)
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, sdk.Permanent("encode request: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, sdk.InvalidConfig("bad request %s %s: %v", method, u, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	op := method + " " + req.URL.Path
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: %s could not be reached: %v", op, c.o.Name, err), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxBody+1))
	if err != nil {
		return resp.Header, &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: reading the answer of %s: %v", op, c.o.Name, err), Err: err}
	}
	if int64(len(raw)) > c.o.MaxBody {
		return resp.Header, sdk.Permanent("%s: %s answered more than %d bytes", op, c.o.Name, c.o.MaxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, StatusError(op, c.o.Name, resp.StatusCode, resp.Header, raw, c.o.Now())
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, &sdk.Error{Code: sdk.CodeTemporary,
				Message: fmt.Sprintf("%s: %s answered something that is not the JSON expected (%d bytes): %v", op, c.o.Name, len(raw), err), Err: err}
		}
	}
	return resp.Header, nil
}

// StatusError maps an HTTP error answer to the SDK's typed errors. now is
// the clock for Retry-After dates when the answer has no Date header.
func StatusError(op, who string, status int, h http.Header, body []byte, now time.Time) error {
	msg := errorMessage(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	switch {
	case status == http.StatusUnauthorized:
		return sdk.NeedsReauth("%s: %s refused the credentials (401): %s", op, who, msg)
	case status == http.StatusForbidden:
		return sdk.InvalidConfig("%s: %s does not allow these credentials to do that (403): %s", op, who, msg)
	case status == http.StatusNotFound, status == http.StatusGone:
		return sdk.NotFound("%s: %s (%d): %s", op, who, status, msg)
	case status == http.StatusPaymentRequired:
		return sdk.Permanent("%s: %s: the account is out of credit or quota (402): %s", op, who, msg)
	case status == http.StatusTooManyRequests:
		return sdk.RateLimited(RetryAfter(h, now), "%s: %s is rate limiting (429): %s", op, who, msg)
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly, status >= 500:
		err := sdk.Temporary("%s: %s failed (%d): %s", op, who, status, msg)
		err.RetryAfter = RetryAfter(h, now)
		return err
	default:
		return sdk.Permanent("%s: %s rejected the request (%d): %s", op, who, status, msg)
	}
}

// errorMessage finds a message in a JSON error body ({"err"}, {"error"},
// {"message"}, {"error": {"message"}}), else the body's first line.
func errorMessage(body []byte) string {
	var v map[string]any
	if json.Unmarshal(body, &v) == nil {
		for _, k := range []string{"message", "err", "error_description", "error"} {
			switch x := v[k].(type) {
			case string:
				if x != "" {
					return truncate(x)
				}
			case map[string]any:
				if m, ok := x["message"].(string); ok && m != "" {
					return truncate(m)
				}
			}
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	return truncate(line)
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// RetryAfter reads how long the server asks us to wait: Retry-After
// (seconds or an HTTP date), Retry-After-Ms, or X-RateLimit-Reset (Unix
// seconds or milliseconds, as ClickUp sends), measured from the answer's
// Date. Zero when none says.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return t.Sub(now)
		}
	}
	if v := h.Get("X-Ratelimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			var at time.Time
			switch {
			case n > 1e12:
				at = time.UnixMilli(n)
			case n > 1e9:
				at = time.Unix(n, 0)
			}
			if at.After(now) {
				return at.Sub(now)
			}
		}
	}
	return 0
}

// IsCode reports whether err is an *sdk.Error with code c.
func IsCode(err error, c sdk.Code) bool {
	var e *sdk.Error
	return errors.As(err, &e) && e.Code == c
}
