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
	"strconv"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/httpclient"
)

// defaultRetryAfter is the wait after a 429 that names no reset: ClickUp's
// rate limit window.
const defaultRetryAfter = time.Minute

// client calls ClickUp's API v2 with one connection's credentials.
type client struct {
	base    string
	auth    string
	http    *http.Client
	maxBody int64
	now     func() time.Time
}

// newClient authenticates as the connection: an OAuth access token as
// "Bearer ...", a personal token (secret "token", then "api_key") as it is,
// as ClickUp wants it.
func newClient(conn *sdk.Connection, s *settings, hc *http.Client) (*client, error) {
	c := &client{base: strings.TrimSuffix(s.baseURL, "/"), http: hc, maxBody: s.maxBody, now: time.Now}
	switch {
	case conn.Token != nil && conn.Token.AccessToken != "":
		typ := conn.Token.TokenType
		if typ == "" || strings.EqualFold(typ, "bearer") {
			typ = "Bearer"
		}
		c.auth = typ + " " + conn.Token.AccessToken
	case conn.Secrets["token"] != "":
		c.auth = conn.Secrets["token"]
	case conn.Secrets["api_key"] != "":
		c.auth = conn.Secrets["api_key"]
	default:
		return nil, sdk.NeedsReauth("no ClickUp token: connect with a personal token (Settings › Apps › API Token) or through OAuth")
	}
	return c, nil
}

// apiError is the cause kept under the typed error (it stays in the
// plugin): the HTTP status and ClickUp's ECODE.
type apiError struct {
	Status int
	ECode  string
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ECode, e.Msg) }

// ecodeOf returns the ClickUp ECODE under err, "" when none.
func ecodeOf(err error) string {
	var a *apiError
	if errors.As(err, &a) {
		return a.ECode
	}
	return ""
}

// do sends a request and decodes a 2xx JSON answer into out. Anything else
// is an *sdk.Error: 401 or an OAUTH_* code → needs_reauth (ClickUp's 401
// "Team not authorized" on one task or list → not_found), 429 →
// rate_limited with the wait X-RateLimit-Reset or Retry-After names, 5xx →
// temporary, an answer that is not JSON → temporary naming it, an answer
// over the size cap → permanent.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := c.base + "/" + strings.TrimPrefix(path, "/")
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
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	op := method + " " + req.URL.Path
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: ClickUp could not be reached: %v", op, err), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: fmt.Sprintf("%s: reading ClickUp's answer: %v", op, err), Err: err}
	}
	if int64(len(raw)) > c.maxBody {
		return sdk.Permanent("%s: ClickUp answered more than %d bytes (config.max_response_bytes)", op, c.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(op, path, resp, raw)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &sdk.Error{Code: sdk.CodeTemporary, Err: err,
			Message: fmt.Sprintf("%s: ClickUp answered %d with something that is not the JSON expected (%d bytes, starting %q): %v",
				op, resp.StatusCode, len(raw), prefix(raw, 60), err)}
	}
	return nil
}

func prefix(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (c *client) statusError(op, path string, resp *http.Response, raw []byte) error {
	var body struct {
		Err   string `json:"err"`
		ECode string `json:"ECODE"`
	}
	_ = json.Unmarshal(raw, &body)
	cause := &apiError{Status: resp.StatusCode, ECode: body.ECode, Msg: body.Err}
	if cause.Msg == "" {
		cause.Msg = prefix(raw, 200)
	}
	if cause.Msg == "" {
		cause.Msg = http.StatusText(resp.StatusCode)
	}
	code := ""
	if body.ECode != "" {
		code = " " + body.ECode
	}
	perItem := strings.HasPrefix(path, "task/") || strings.HasPrefix(path, "list/")
	switch {
	case body.ECode == "OAUTH_027" && perItem:
		// ClickUp answers "Team not authorized" for a task or list the
		// token cannot see, deleted ones included: the token itself works.
		return &sdk.Error{Code: sdk.CodeNotFound, Err: cause,
			Message: fmt.Sprintf("%s: ClickUp does not show this to the connected account (%d%s): %s", op, resp.StatusCode, code, cause.Msg)}
	case resp.StatusCode == http.StatusUnauthorized || strings.HasPrefix(body.ECode, "OAUTH_"):
		return &sdk.Error{Code: sdk.CodeNeedsReauth, Err: cause,
			Message: fmt.Sprintf("%s: ClickUp refused the token (%d%s): %s", op, resp.StatusCode, code, cause.Msg)}
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := httpclient.RetryAfter(resp.Header, c.now())
		if wait <= 0 {
			wait = defaultRetryAfter
		}
		return &sdk.Error{Code: sdk.CodeRateLimited, Err: cause, RetryAfter: wait,
			Message: fmt.Sprintf("%s: ClickUp's rate limit is reached (429%s, %s of %s left): %s", op, code,
				resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("X-RateLimit-Limit"), cause.Msg)}
	}
	err := httpclient.StatusError(op, "ClickUp", resp.StatusCode, resp.Header, raw, c.now())
	var e *sdk.Error
	if errors.As(err, &e) {
		e.Err = cause
		if code != "" {
			e.Message += " (" + body.ECode + ")"
		}
	}
	return err
}

// ---- ClickUp's JSON ----

// msTime is a ClickUp date: Unix milliseconds as a string ("1779205213210"),
// a number, or null.
type msTime int64

func (m *msTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*m = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("date %s is not Unix milliseconds", b)
		}
		n = int64(f)
	}
	*m = msTime(n)
	return nil
}

func (m msTime) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m)).UTC()
}

type cuStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Type   string `json:"type"`
	Color  string `json:"color"`
}

type cuTask struct {
	ID          string   `json:"id"`
	CustomID    *string  `json:"custom_id"`
	Name        string   `json:"name"`
	TextContent *string  `json:"text_content"`
	Description *string  `json:"description"`
	Status      cuStatus `json:"status"`
	DateCreated msTime   `json:"date_created"`
	DateUpdated msTime   `json:"date_updated"`
	DateClosed  msTime   `json:"date_closed"`
	DateDone    msTime   `json:"date_done"`
	Archived    bool     `json:"archived"`
	Tags        []struct {
		Name string `json:"name"`
	} `json:"tags"`
	Parent         *string `json:"parent"`
	TopLevelParent *string `json:"top_level_parent"`
	Priority       *struct {
		ID       string `json:"id"`
		Priority string `json:"priority"`
	} `json:"priority"`
	DueDate     msTime `json:"due_date"`
	DueDateTime *bool  `json:"due_date_time"`
	TeamID      string `json:"team_id"`
	URL         string `json:"url"`
	List        struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"list"`
	Folder struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Hidden bool   `json:"hidden"`
	} `json:"folder"`
	Space struct {
		ID string `json:"id"`
	} `json:"space"`
}

type cuTaskPage struct {
	Tasks    []cuTask `json:"tasks"`
	LastPage *bool    `json:"last_page"`
}

type cuTeams struct {
	Teams []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"teams"`
}

type cuList struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Statuses []cuStatus `json:"statuses"`
}
