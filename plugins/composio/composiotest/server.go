// Package composiotest is a local server that speaks Composio's API v3 for
// tests: the paths, parameters and JSON shapes of Composio's OpenAPI
// document (../shared/fixtures/composio/composio-openapi-v3.json), over a
// real socket, with the tools of a recorded tools list
// (gmail-tools-list.json) as its catalogue. It serves:
//
//	GET  /api/v3/tools                          tools of a toolkit (toolkit_slug, toolkit_versions[slug], limit, cursor)
//	POST /api/v3/tools/execute/{tool_slug}      run a tool (connected_account_id, user_id, version, arguments)
//	POST /api/v3/connected_accounts/link        a link session for an auth config and user id (201)
//	GET  /api/v3/connected_accounts/{nanoid}    a connected account with its status
//	GET  /link/{link_token}                     the hosted connect page: the account becomes ACTIVE
//	                                            and the browser goes (302) to the callback URL with
//	                                            status=success&connected_account_id=...
//
// Every /api/v3 call needs the x-api-key header (401 otherwise); errors are
// Composio's {"error": {"message", "code", "status", "request_id"}}.
//
// Knobs: Expire (an account turns EXPIRED: execute answers 422), Unsuccessful
// (a tool answers 200 with successful: false), Fail (the next calls answer a
// status, 429 with Retry-After included), FailLinks (the connect page fails
// the account instead). Log records every request.
package composiotest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIKey is the key the server accepts unless Options.APIKey says another.
const APIKey = "ak_test_composio_0123456789"

// Options configure a Server.
type Options struct {
	// APIKey accepted in x-api-key (default APIKey).
	APIKey string
	// Tools is the catalogue, a JSON array of Composio tools, such as the
	// shared fixtures' composio/gmail-tools-list.json (required; this
	// package, shipped beside the plugin, imports nothing of ours but sdk,
	// so the test reads the fixture).
	Tools json.RawMessage
	// AuthConfigs maps auth config ids to toolkit slugs (default
	// {"ac_gmail": "gmail"}).
	AuthConfigs map[string]string
	// DefaultLimit is the page size when a listing names none (Composio's
	// default is larger; small here so that paging shows).
	DefaultLimit int
}

// Request is one request the server saw.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	APIKey string
	Body   json.RawMessage
}

// Account is a connected account.
type Account struct {
	ID           string
	UserID       string
	Toolkit      string
	AuthConfig   string
	Status       string
	StatusReason string
	CallbackURL  string
	LinkToken    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// Server is the local Composio.
type Server struct {
	*httptest.Server
	o Options

	mu           sync.Mutex
	tools        []map[string]any
	accounts     map[string]*Account
	links        map[string]string // link token → account id
	unsuccessful map[string]string // tool slug → error
	fails        []failure
	failLinks    bool
	log          []Request
	seq          int
}

// Start starts a server, closed when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = APIKey
	}
	if o.Tools == nil {
		t.Fatal("composiotest: Options.Tools is required (the test reads the catalogue from the shared fixtures)")
	}
	if o.AuthConfigs == nil {
		o.AuthConfigs = map[string]string{"ac_gmail": "gmail"}
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 20
	}
	s := &Server{o: o, accounts: map[string]*Account{}, links: map[string]string{}, unsuccessful: map[string]string{}}
	if err := json.Unmarshal(o.Tools, &s.tools); err != nil {
		t.Fatalf("composiotest: the tools are not a JSON array of tools: %v", err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the API root to configure as config.base_url.
func (s *Server) BaseURL() string { return s.URL }

// ToolSlugs lists the catalogue's tool slugs of a toolkit, in order.
func (s *Server) ToolSlugs(toolkit string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.tools {
		if toolkitOf(t) == toolkit {
			out = append(out, fmt.Sprint(t["slug"]))
		}
	}
	return out
}

// Log returns the requests seen so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetLog forgets the requests seen.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Account returns a copy of a connected account.
func (s *Server) Account(id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return Account{}, false
	}
	return *a, true
}

// AddAccount adds a connected account directly, ACTIVE, and returns its id.
func (s *Server) AddAccount(userID, toolkit string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.newAccount(userID, toolkit, "")
	a.Status = "ACTIVE"
	return a.ID
}

// Expire turns an account EXPIRED, as Composio does when its app's
// credentials can no longer be refreshed.
func (s *Server) Expire(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.accounts[id]; ok {
		a.Status, a.StatusReason, a.UpdatedAt = "EXPIRED", "The refresh token was revoked", time.Now().UTC()
	}
}

// Unsuccessful makes the tool answer 200 with successful: false and msg.
func (s *Server) Unsuccessful(tool, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unsuccessful[tool] = msg
}

// Fail makes the next n /api/v3 calls answer status (429: with Retry-After
// in whole seconds).
func (s *Server) Fail(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, failure{status: status, retryAfter: retryAfter})
	}
}

// FailLinks makes the connect page fail accounts (FAILED) instead of
// activating them.
func (s *Server) FailLinks(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLinks = on
}

func toolkitOf(t map[string]any) string {
	if tk, ok := t["toolkit"].(map[string]any); ok {
		return fmt.Sprint(tk["slug"])
	}
	return ""
}

func (s *Server) newAccount(userID, toolkit, authConfig string) *Account {
	s.seq++
	now := time.Now().UTC()
	a := &Account{ID: fmt.Sprintf("ca_test%06d", s.seq), UserID: userID, Toolkit: toolkit, AuthConfig: authConfig,
		Status: "INITIATED", CreatedAt: now, UpdatedAt: now}
	s.accounts[a.ID] = a
	return a
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError writes Composio's error shape.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "code": status * 10, "status": status,
		"request_id": "req_test"}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), APIKey: r.Header.Get("x-api-key"), Body: raw})
	s.mu.Unlock()

	if strings.HasPrefix(r.URL.Path, "/link/") && r.Method == http.MethodGet {
		s.linkPage(w, r, strings.TrimPrefix(r.URL.Path, "/link/"))
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/api/v3/") {
		apiError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.Header.Get("x-api-key") != s.o.APIKey {
		apiError(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	s.mu.Lock()
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		s.mu.Unlock()
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter/time.Second)))
		}
		msg := "Internal server error"
		if f.status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded"
		}
		apiError(w, f.status, msg)
		return
	}
	s.mu.Unlock()

	p := strings.TrimPrefix(r.URL.Path, "/api/v3/")
	switch {
	case p == "tools" && r.Method == http.MethodGet:
		s.listTools(w, r)
	case strings.HasPrefix(p, "tools/execute/") && r.Method == http.MethodPost:
		s.execute(w, strings.TrimPrefix(p, "tools/execute/"), raw)
	case p == "connected_accounts/link" && r.Method == http.MethodPost:
		s.link(w, raw)
	case strings.HasPrefix(p, "connected_accounts/") && r.Method == http.MethodGet:
		s.getAccount(w, strings.TrimPrefix(p, "connected_accounts/"))
	default:
		apiError(w, http.StatusNotFound, "Not found")
	}
}

// cursor is base64 of "page:limit", as Composio's spec describes it.
func encodeCursor(page, limit int) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%d", page, limit)))
}

func decodeCursor(c string) (page, limit int, ok bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, false
	}
	a, l, found := strings.Cut(string(b), ":")
	page, err1 := strconv.Atoi(a)
	limit, err2 := strconv.Atoi(l)
	return page, limit, found && err1 == nil && err2 == nil && page >= 1 && limit >= 1
}

func (s *Server) listTools(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	slug := q.Get("toolkit_slug")
	limit := s.o.DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, "limit: must be a number from 1 to 1000")
			return
		}
		limit = n
	}
	page := 1
	if c := q.Get("cursor"); c != "" {
		pg, l, ok := decodeCursor(c)
		if !ok {
			apiError(w, http.StatusBadRequest, "cursor: invalid")
			return
		}
		page, limit = pg, l
	}
	s.mu.Lock()
	var match []map[string]any
	for _, t := range s.tools {
		if slug == "" || toolkitOf(t) == slug {
			c := make(map[string]any, len(t))
			for k, v := range t {
				c[k] = v
			}
			// The tool at the version asked for (bracket notation).
			if v := q.Get("toolkit_versions[" + toolkitOf(t) + "]"); v != "" {
				c["version"] = v
			}
			match = append(match, c)
		}
	}
	s.mu.Unlock()
	total := len(match)
	pages := (total + limit - 1) / limit
	from := min((page-1)*limit, total)
	to := min(from+limit, total)
	var next any
	if page < pages {
		next = encodeCursor(page+1, limit)
	}
	items := match[from:to]
	if items == nil {
		items = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next, "total_pages": pages,
		"current_page": page, "total_items": total})
}

func (s *Server) link(w http.ResponseWriter, raw []byte) {
	var body struct {
		AuthConfigID string `json:"auth_config_id"`
		UserID       string `json:"user_id"`
		CallbackURL  string `json:"callback_url"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.AuthConfigID == "" || body.UserID == "" {
		apiError(w, http.StatusBadRequest, "auth_config_id and user_id are required")
		return
	}
	toolkit, ok := s.o.AuthConfigs[body.AuthConfigID]
	if !ok {
		apiError(w, http.StatusNotFound, "Auth config not found")
		return
	}
	s.mu.Lock()
	a := s.newAccount(body.UserID, toolkit, body.AuthConfigID)
	a.CallbackURL = body.CallbackURL
	a.LinkToken = fmt.Sprintf("lt_%s", a.ID)
	s.links[a.LinkToken] = a.ID
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"link_token": a.LinkToken, "redirect_url": s.URL + "/link/" + a.LinkToken,
		"expires_at": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339), "connected_account_id": a.ID})
}

// linkPage is the hosted connect page: the user "connects", the account
// becomes ACTIVE (FAILED with FailLinks), and the browser goes back.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request, token string) {
	s.mu.Lock()
	id, ok := s.links[token]
	var a *Account
	if ok {
		a = s.accounts[id]
		delete(s.links, token)
		a.Status, a.UpdatedAt = "ACTIVE", time.Now().UTC()
		if s.failLinks {
			a.Status, a.StatusReason = "FAILED", "The user denied access"
		}
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "This link has expired or was used", http.StatusGone)
		return
	}
	if a.CallbackURL == "" {
		_, _ = io.WriteString(w, "Connected. You may close this window.")
		return
	}
	u, err := url.Parse(a.CallbackURL)
	if err != nil {
		http.Error(w, "bad callback URL", http.StatusBadRequest)
		return
	}
	q := u.Query()
	status := "success"
	if a.Status != "ACTIVE" {
		status = "failed"
	}
	q.Set("status", status)
	q.Set("connected_account_id", a.ID)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) accountJSON(a *Account) map[string]any {
	var reason any
	if a.StatusReason != "" {
		reason = a.StatusReason
	}
	return map[string]any{
		"toolkit":     map[string]any{"slug": a.Toolkit},
		"auth_config": map[string]any{"id": a.AuthConfig, "auth_scheme": "OAUTH2", "is_composio_managed": true, "is_disabled": false},
		"id":          a.ID, "user_id": a.UserID, "status": a.Status,
		"created_at": a.CreatedAt.Format(time.RFC3339), "updated_at": a.UpdatedAt.Format(time.RFC3339),
		"state":         map[string]any{"authScheme": "OAUTH2", "val": map[string]any{"status": a.Status}},
		"data":          map[string]any{},
		"status_reason": reason, "is_disabled": false, "params": map[string]any{},
	}
}

func (s *Server) getAccount(w http.ResponseWriter, id string) {
	s.mu.Lock()
	a, ok := s.accounts[id]
	var out map[string]any
	if ok {
		out = s.accountJSON(a)
	}
	s.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "Connected account not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) execute(w http.ResponseWriter, slug string, raw []byte) {
	var body struct {
		ConnectedAccountID string          `json:"connected_account_id"`
		UserID             string          `json:"user_id"`
		Version            string          `json:"version"`
		Arguments          json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		apiError(w, http.StatusBadRequest, "Invalid request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var tool map[string]any
	for _, t := range s.tools {
		if t["slug"] == slug {
			tool = t
		}
	}
	if tool == nil {
		apiError(w, http.StatusNotFound, "Tool "+slug+" not found")
		return
	}
	var acc *Account
	if body.ConnectedAccountID != "" {
		acc = s.accounts[body.ConnectedAccountID]
		if acc == nil {
			apiError(w, http.StatusNotFound, "Connected account "+body.ConnectedAccountID+" not found")
			return
		}
		if body.UserID != "" && acc.UserID != body.UserID {
			apiError(w, http.StatusBadRequest, "The connected account does not belong to user_id")
			return
		}
	} else {
		for _, a := range s.accounts {
			if a.UserID == body.UserID && a.Toolkit == toolkitOf(tool) && (acc == nil || a.Status == "ACTIVE") {
				acc = a
			}
		}
		if acc == nil {
			apiError(w, http.StatusNotFound, "No connected account found for user "+body.UserID+" and toolkit "+toolkitOf(tool))
			return
		}
	}
	if acc.Toolkit != toolkitOf(tool) {
		apiError(w, http.StatusBadRequest, "The connected account is not of toolkit "+toolkitOf(tool))
		return
	}
	if acc.Status != "ACTIVE" {
		apiError(w, http.StatusUnprocessableEntity, "Connected account "+acc.ID+" is not active (status "+acc.Status+")")
		return
	}
	if body.Version == "" {
		apiError(w, http.StatusBadRequest, "version is required for manual execution")
		return
	}
	if msg, ok := s.unsuccessful[slug]; ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{}, "error": msg, "successful": false, "log_id": "log_test_failed"})
		return
	}
	args := body.Arguments
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"tool": slug, "version": body.Version,
		"connected_account_id": acc.ID, "arguments": args}, "error": nil, "successful": true, "log_id": "log_test_ok"})
}
