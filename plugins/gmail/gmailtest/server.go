// Package gmailtest is a local server that speaks the Gmail API v1 for
// tests: the paths, parameters and JSON shapes of Gmail's discovery
// document and of its recorded answers (../shared/fixtures/gmail), over a
// real socket, plus Google's OAuth 2 endpoints.
//
// It keeps one mailbox in memory (messages in Gmail's "full" shape, and the
// mailbox history) and serves:
//
//	GET  /o/oauth2/auth                          OAuth consent (approves at once: 302 to redirect_uri?code&state&scope)
//	POST /token                                  code exchange (PKCE checked when the consent had a challenge) and refresh_token
//	GET  /gmail/v1/users/{me}/profile            emailAddress, messagesTotal, threadsTotal, historyId
//	GET  /gmail/v1/users/{me}/messages           ids, newest first: q (newer_than:Nd|m|y, in:/-in:LABEL), labelIds, includeSpamTrash, maxResults, pageToken
//	GET  /gmail/v1/users/{me}/messages/{id}      format full (default), metadata (metadataHeaders), minimal; 400 for raw
//	GET  /gmail/v1/users/{me}/history            startHistoryId (required), historyTypes, labelId, maxResults, pageToken; 404 for an expired startHistoryId
//	GET  /gmail/v1/users/{me}/threads            thread ids with snippet and historyId, newest first, maxResults, pageToken
//	GET  /gmail/v1/users/{me}/threads/{id}       a thread's messages (format as for messages)
//
// {me} is "me" or the mailbox's address. Access tokens (AddToken, or
// issued by the token endpoint) go in "Authorization: Bearer ..."; errors
// are Google's {"error": {"code", "message", "errors": [{"reason"}],
// "status"}} (401 authError for an unknown, expired or revoked token).
// Like Google, the token endpoint issues a refresh token only to a consent
// with access_type=offline, and does not rotate it on refresh.
//
// Knobs for faults: Fail (the next n API requests answer a status with a
// reason, such as 429 or 403 rateLimitExceeded with a Retry-After, or 500
// backendError), RevokeToken, RevokeRefreshTokens, ExpireHistoryBefore (a
// history.list from an older id answers 404) and Intercept for anything
// else. Requests counts and Log records every request.
//
// The package imports only the standard library so that tests anywhere in
// the repository can use it.
package gmailtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Email is the mailbox's address.
const Email = "user@example.com"

// Options configure a Server.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// TokenLifetime is the issued access tokens' expires_in (default 3599
	// s, as Google's).
	TokenLifetime time.Duration
	// FirstHistoryID is the mailbox's history id before anything is added
	// (default 88035, the recorded profile's).
	FirstHistoryID uint64
	// OnToken, when set, is told every OAuth access and refresh token the
	// server issues (kind "oauth_access_token" or "oauth_refresh_token"),
	// so that a test can check none of them reaches a log.
	OnToken func(kind, token string)
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Authorization header, as sent.
	Authorization string
	Body          []byte
	// Status answered.
	Status int
}

type message struct {
	id, threadID string
	labels       []string
	internal     int64 // ms
	historyID    uint64
	seq          int
	full         map[string]any
}

type historyRecord struct {
	id    uint64
	kind  string // messageAdded, labelAdded
	msgID string
	thID  string
	added []string // labels, for labelAdded
}

type token struct {
	revoked bool
	expires time.Time
}

type authCode struct {
	client, redirect, challenge, method, scope string
	offline                                    bool
}

// Server is a running local Gmail.
type Server struct {
	// URL is the root, such as http://127.0.0.1:43121.
	URL string
	hs  *httptest.Server
	o   Options

	mu            sync.Mutex
	msgs          map[string]*message
	seq           int
	history       []historyRecord
	historyID     uint64
	expireBefore  uint64
	tokens        map[string]*token
	clients       map[string]string
	codes         map[string]*authCode
	refresh       map[string]string // refresh token → scope
	failN         int
	failStatus    int
	failReason    string
	failRetry     time.Duration
	intercept     func(w http.ResponseWriter, r *http.Request) bool
	log           []Request
	nextID        uint64
	consentParams []url.Values
}

// New starts a server; Close stops it.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = 3599 * time.Second
	}
	if o.FirstHistoryID == 0 {
		o.FirstHistoryID = 88035
	}
	s := &Server{o: o, msgs: map[string]*message{}, historyID: o.FirstHistoryID, tokens: map[string]*token{},
		clients: map[string]string{}, codes: map[string]*authCode{}, refresh: map[string]string{}, nextID: 0x19de000000000000}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	return s
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := New(o)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// BaseURL is the API root (the plugin's config.base_url).
func (s *Server) BaseURL() string { return s.URL }

// AuthURL is the OAuth consent page (config.auth_url).
func (s *Server) AuthURL() string { return s.URL + "/o/oauth2/auth" }

// TokenURL is the OAuth token endpoint (config.token_url).
func (s *Server) TokenURL() string { return s.URL + "/token" }

// AddToken accepts an access token.
func (s *Server) AddToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{}
}

// RevokeToken makes an access token answer 401 from now on.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[tok]; t != nil {
		t.revoked = true
	}
}

// RevokeAccessTokens makes every access token issued or added so far
// answer 401.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// RevokeRefreshTokens makes every refresh token issued so far answer
// invalid_grant (what a client left in "testing" does after 7 days).
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = map[string]string{}
}

// AddClient registers an OAuth client.
func (s *Server) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// Consents returns the query of each consent request received.
func (s *Server) Consents() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.consentParams...)
}

// Fail makes the next n API requests answer status with a Google error of
// that reason, and a Retry-After of retryAfter when it is positive.
func (s *Server) Fail(n, status int, reason string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.failReason, s.failRetry = n, status, reason, retryAfter
}

// Intercept runs fn first on every request; when it returns true it has
// answered. Nil removes it.
func (s *Server) Intercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = fn
}

// Requests is how many requests the server received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// Log returns the requests received so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetLog forgets the requests received so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// HistoryID is the mailbox's current history id.
func (s *Server) HistoryID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.historyID
}

// ExpireHistoryBefore makes history.list answer 404 for a startHistoryId
// below id (Gmail keeps history about a week).
func (s *Server) ExpireHistoryBefore(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireBefore = id
}

// ---- the mailbox ----

// Mail is a message to compose (Compose).
type Mail struct {
	ID, ThreadID string
	From         string
	To           string
	Cc           string
	Subject      string
	// Text and HTML are the bodies; both: multipart/alternative.
	Text, HTML string
	// Charset of the bodies: they are encoded into it (latin1,
	// windows-1252 and iso-8859-1 are supported here, for the bytes;
	// anything else is sent as it is, labelled with that charset).
	Charset string
	// MessageID is the Message-ID header (generated when empty).
	MessageID  string
	InReplyTo  string
	References string
	Labels     []string
	// Date is the Date header and internalDate (default: the clock).
	Date time.Time
	// Attachments are added as parts with an attachmentId (multipart/mixed).
	Attachments []string
}

func b64(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

// encodeCharset encodes UTF-8 text into the charset (Latin-1 family only).
func encodeCharset(s, charset string) []byte {
	switch strings.ToLower(charset) {
	case "latin1", "iso-8859-1", "windows-1252", "cp1252":
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r < 256 {
				out = append(out, byte(r))
			} else {
				out = append(out, '?')
			}
		}
		return out
	}
	return []byte(s)
}

// Compose builds a message in Gmail's "full" shape.
func (s *Server) Compose(m Mail) map[string]any {
	s.mu.Lock()
	if m.ID == "" {
		s.nextID++
		m.ID = strconv.FormatUint(s.nextID, 16)
	}
	s.mu.Unlock()
	if m.ThreadID == "" {
		m.ThreadID = m.ID
	}
	if m.Date.IsZero() {
		m.Date = s.o.Now()
	}
	if m.MessageID == "" {
		m.MessageID = "<" + m.ID + "@mail.example.com>"
	}
	if m.Labels == nil {
		m.Labels = []string{"UNREAD", "INBOX"}
	}
	cs := m.Charset
	if cs == "" {
		cs = "UTF-8"
	}
	leaf := func(mime, text string) map[string]any {
		data := encodeCharset(text, cs)
		return map[string]any{"mimeType": mime, "filename": "",
			"headers": []map[string]string{{"name": "Content-Type", "value": mime + "; charset=\"" + cs + "\""}},
			"body":    map[string]any{"size": len(data), "data": b64(data)}}
	}
	var body map[string]any
	switch {
	case m.Text != "" && m.HTML != "":
		body = map[string]any{"mimeType": "multipart/alternative", "filename": "", "body": map[string]any{"size": 0},
			"headers": []map[string]string{{"name": "Content-Type", "value": "multipart/alternative; boundary=\"alt\""}},
			"parts":   []any{leaf("text/plain", m.Text), leaf("text/html", m.HTML)}}
	case m.HTML != "":
		body = leaf("text/html", m.HTML)
	default:
		body = leaf("text/plain", m.Text)
	}
	payload := body
	if len(m.Attachments) > 0 {
		parts := []any{body}
		for i, name := range m.Attachments {
			parts = append(parts, map[string]any{"mimeType": "application/octet-stream", "filename": name,
				"headers": []map[string]string{{"name": "Content-Disposition", "value": "attachment; filename=\"" + name + "\""}},
				"body":    map[string]any{"attachmentId": fmt.Sprintf("ATT%d%s", i, m.ID), "size": 1024}})
		}
		payload = map[string]any{"mimeType": "multipart/mixed", "filename": "", "body": map[string]any{"size": 0},
			"headers": []map[string]string{{"name": "Content-Type", "value": "multipart/mixed; boundary=\"mix\""}}, "parts": parts}
	}
	hs := []map[string]string{{"name": "MIME-Version", "value": "1.0"},
		{"name": "Date", "value": m.Date.Format(time.RFC1123Z)},
		{"name": "Message-ID", "value": m.MessageID},
		{"name": "Subject", "value": m.Subject},
		{"name": "From", "value": m.From},
		{"name": "To", "value": m.To}}
	if m.Cc != "" {
		hs = append(hs, map[string]string{"name": "Cc", "value": m.Cc})
	}
	if m.InReplyTo != "" {
		hs = append(hs, map[string]string{"name": "In-Reply-To", "value": m.InReplyTo})
	}
	if m.References != "" {
		hs = append(hs, map[string]string{"name": "References", "value": m.References})
	}
	if own, ok := payload["headers"].([]map[string]string); ok {
		hs = append(hs, own...)
	}
	payload["headers"] = hs
	payload["partId"] = ""
	snippet := m.Text
	if snippet == "" {
		snippet = m.HTML
	}
	if len(snippet) > 100 {
		snippet = snippet[:100]
	}
	return map[string]any{"id": m.ID, "threadId": m.ThreadID, "labelIds": m.Labels, "snippet": snippet,
		"payload": payload, "sizeEstimate": 1000 + len(m.Text) + len(m.HTML),
		"internalDate": strconv.FormatInt(m.Date.UnixMilli(), 10)}
}

// Add composes a message and adds it (Compose, then AddMessage).
func (s *Server) Add(m Mail) string { return s.AddMessage(s.Compose(m)) }

// AddMessage adds a message in Gmail's "full" shape (a recorded one, or
// from Compose): a new history record (messageAdded) and a new history id.
// Its id, threadId, labelIds and internalDate are kept (an absent
// internalDate is the clock's now); its historyId is the new one.
func (s *Server) AddMessage(full map[string]any) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &message{full: full}
	m.id, _ = full["id"].(string)
	if m.id == "" {
		s.nextID++
		m.id = strconv.FormatUint(s.nextID, 16)
		full["id"] = m.id
	}
	m.threadID, _ = full["threadId"].(string)
	if m.threadID == "" {
		m.threadID = m.id
		full["threadId"] = m.id
	}
	if ls, ok := full["labelIds"].([]any); ok {
		for _, l := range ls {
			if str, ok := l.(string); ok {
				m.labels = append(m.labels, str)
			}
		}
	} else if ls, ok := full["labelIds"].([]string); ok {
		m.labels = append(m.labels, ls...)
	}
	switch d := full["internalDate"].(type) {
	case string:
		m.internal, _ = strconv.ParseInt(d, 10, 64)
	case float64:
		m.internal = int64(d)
	}
	if m.internal == 0 {
		m.internal = s.o.Now().UnixMilli()
		full["internalDate"] = strconv.FormatInt(m.internal, 10)
	}
	s.historyID += uint64(1 + len(s.history)%3) // ids are increasing, not contiguous
	m.historyID = s.historyID
	full["historyId"] = strconv.FormatUint(m.historyID, 10)
	s.seq++
	m.seq = s.seq
	s.msgs[m.id] = m
	s.history = append(s.history, historyRecord{id: s.historyID, kind: "messageAdded", msgID: m.id, thID: m.threadID})
	return m.id
}

// AddRaw adds a recorded message (JSON of a messages.get answer, format
// full); see AddMessage.
func (s *Server) AddRaw(raw []byte) (string, error) {
	var full map[string]any
	if err := json.Unmarshal(raw, &full); err != nil {
		return "", err
	}
	return s.AddMessage(full), nil
}

// AddLabel records a label change of a message (history type labelAdded).
func (s *Server) AddLabel(id, label string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs[id]
	if m == nil {
		return false
	}
	m.labels = append(m.labels, label)
	m.full["labelIds"] = append([]string(nil), m.labels...)
	s.historyID++
	s.history = append(s.history, historyRecord{id: s.historyID, kind: "labelAdded", msgID: id, thID: m.threadID, added: []string{label}})
	return true
}

// Seed adds n messages, one a minute back from the clock's now, the newest
// last; it returns their ids, oldest first.
func (s *Server) Seed(n int) []string {
	now := s.o.Now()
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, s.Add(Mail{From: fmt.Sprintf("Sender %d <sender%d@example.org>", i, i), To: Email,
			Subject: fmt.Sprintf("Message %d", i), Text: fmt.Sprintf("Body of message %d.", i),
			Date: now.Add(-time.Duration(n-i) * time.Minute)}))
	}
	return ids
}

// ---- serving ----

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &recorder{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Authorization: r.Header.Get("Authorization"), Body: body, Status: rec.status})
		s.mu.Unlock()
	}()
	s.mu.Lock()
	icpt := s.intercept
	s.mu.Unlock()
	if icpt != nil && icpt(rec, r) {
		return
	}
	switch {
	case r.URL.Path == "/o/oauth2/auth" && r.Method == http.MethodGet:
		s.authorize(rec, r)
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		s.token(rec, r)
	case strings.HasPrefix(r.URL.Path, "/gmail/v1/users/"):
		s.api(rec, r)
	default:
		googleError(rec, http.StatusNotFound, "notFound", "Not Found", nil)
	}
}

var statusNames = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

// googleError answers Google's error shape.
func googleError(w http.ResponseWriter, status int, reason, msg string, extra map[string]string) {
	item := map[string]string{"message": msg, "domain": "global", "reason": reason}
	for k, v := range extra {
		item[k] = v
	}
	st := statusNames[status]
	if st == "" {
		st = "UNKNOWN"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg,
		"errors": []any{item}, "status": st}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// api answers an API request: knobs, token, then the route.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN > 0 {
		s.failN--
		if s.failRetry > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(s.failRetry.Round(time.Second)/time.Second)))
		}
		msg := map[string]string{"rateLimitExceeded": "Rate Limit Exceeded", "userRateLimitExceeded": "User-rate limit exceeded",
			"backendError": "Backend Error"}[s.failReason]
		if msg == "" {
			msg = http.StatusText(s.failStatus)
		}
		googleError(w, s.failStatus, s.failReason, msg, nil)
		return
	}
	value, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Authorization")), "Bearer ")
	tok := s.tokens[strings.TrimSpace(value)]
	if !ok || tok == nil || tok.revoked || (!tok.expires.IsZero() && !now.Before(tok.expires)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		googleError(w, http.StatusUnauthorized, "authError",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			map[string]string{"location": "Authorization", "locationType": "header"})
		return
	}
	if r.Method != http.MethodGet {
		googleError(w, http.StatusMethodNotAllowed, "methodNotAllowed", "Method not allowed", nil)
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/gmail/v1/users/"), "/"), "/")
	if parts[0] != "me" && parts[0] != Email {
		googleError(w, http.StatusForbidden, "forbidden", "Delegation denied for "+Email, nil)
		return
	}
	q := r.URL.Query()
	switch {
	case len(parts) == 2 && parts[1] == "profile":
		threads, _ := s.threads()
		writeJSON(w, 200, map[string]any{"emailAddress": Email, "messagesTotal": len(s.msgs),
			"threadsTotal": len(threads), "historyId": strconv.FormatUint(s.historyID, 10)})
	case len(parts) == 2 && parts[1] == "messages":
		s.listMessages(w, q, now)
	case len(parts) == 3 && parts[1] == "messages":
		m := s.msgs[parts[2]]
		if m == nil {
			googleError(w, http.StatusNotFound, "notFound", "Requested entity was not found.", nil)
			return
		}
		out, ok := s.render(w, m, q)
		if ok {
			writeJSON(w, 200, out)
		}
	case len(parts) == 2 && parts[1] == "history":
		s.listHistory(w, q)
	case len(parts) == 2 && parts[1] == "threads":
		s.listThreads(w, q)
	case len(parts) == 3 && parts[1] == "threads":
		s.getThread(w, q, parts[2])
	default:
		googleError(w, http.StatusNotFound, "notFound", "Not Found", nil)
	}
}

// pageParams reads maxResults (default def, at most max) and the offset
// in pageToken.
func pageParams(w http.ResponseWriter, q url.Values, def, maxN int) (size, offset int, ok bool) {
	size = def
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			googleError(w, 400, "invalidArgument", "Invalid value for maxResults: "+v, nil)
			return 0, 0, false
		}
		if n > 0 {
			size = min(n, maxN)
		}
	}
	if v := q.Get("pageToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			googleError(w, 400, "invalidArgument", "Invalid pageToken", nil)
			return 0, 0, false
		}
		offset = n
	}
	return size, offset, true
}

func hasLabel(m *message, l string) bool {
	for _, x := range m.labels {
		if strings.EqualFold(x, l) {
			return true
		}
	}
	return false
}

// matcher is a parsed q: newer_than and in:/-in: terms (and label:).
type matcher func(m *message) bool

func parseQuery(q string, now time.Time) (matcher, error) {
	var ms []matcher
	for _, term := range strings.Fields(q) {
		neg := strings.HasPrefix(term, "-")
		t := strings.TrimPrefix(term, "-")
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("free text %q is not supported here", term)
		}
		var m matcher
		switch strings.ToLower(k) {
		case "newer_than", "older_than":
			if len(v) < 2 {
				return nil, fmt.Errorf("bad %s", term)
			}
			n, err := strconv.Atoi(v[:len(v)-1])
			if err != nil {
				return nil, fmt.Errorf("bad %s", term)
			}
			var cut time.Time
			switch v[len(v)-1] {
			case 'd':
				cut = now.AddDate(0, 0, -n)
			case 'm':
				cut = now.AddDate(0, -n, 0)
			case 'y':
				cut = now.AddDate(-n, 0, 0)
			default:
				return nil, fmt.Errorf("bad %s", term)
			}
			c, newer := cut.UnixMilli(), strings.EqualFold(k, "newer_than")
			m = func(x *message) bool { return (x.internal > c) == newer }
		case "in", "label":
			l := strings.ToUpper(v)
			if l == "CHATS" {
				l = "CHAT"
			}
			m = func(x *message) bool { return hasLabel(x, l) }
		default:
			return nil, fmt.Errorf("operator %s: is not supported here", k)
		}
		if neg {
			inner := m
			m = func(x *message) bool { return !inner(x) }
		}
		ms = append(ms, m)
	}
	return func(x *message) bool {
		for _, m := range ms {
			if !m(x) {
				return false
			}
		}
		return true
	}, nil
}

// sorted returns the messages newest first (internalDate, then added
// later first).
func (s *Server) sorted() []*message {
	out := make([]*message, 0, len(s.msgs))
	for _, m := range s.msgs {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].internal != out[j].internal {
			return out[i].internal > out[j].internal
		}
		return out[i].seq > out[j].seq
	})
	return out
}

func (s *Server) listMessages(w http.ResponseWriter, q url.Values, now time.Time) {
	size, offset, ok := pageParams(w, q, 100, 500)
	if !ok {
		return
	}
	match, err := parseQuery(q.Get("q"), now)
	if err != nil {
		googleError(w, 400, "invalidArgument", "Invalid query: "+err.Error(), nil)
		return
	}
	spamTrash := q.Get("includeSpamTrash") == "true"
	var hits []*message
	for _, m := range s.sorted() {
		if !spamTrash && (hasLabel(m, "SPAM") || hasLabel(m, "TRASH")) {
			continue
		}
		okLabels := true
		for _, l := range q["labelIds"] {
			okLabels = okLabels && hasLabel(m, l)
		}
		if okLabels && match(m) {
			hits = append(hits, m)
		}
	}
	out := map[string]any{"resultSizeEstimate": len(hits)}
	var page []any
	for i := offset; i < len(hits) && i < offset+size; i++ {
		page = append(page, map[string]any{"id": hits[i].id, "threadId": hits[i].threadID})
	}
	if len(page) > 0 {
		out["messages"] = page
	}
	if offset+size < len(hits) {
		out["nextPageToken"] = strconv.Itoa(offset + size)
	}
	writeJSON(w, 200, out)
}

// render answers a message in the format asked for.
func (s *Server) render(w http.ResponseWriter, m *message, q url.Values) (map[string]any, bool) {
	full := map[string]any{}
	raw, _ := json.Marshal(m.full)
	_ = json.Unmarshal(raw, &full)
	full["labelIds"] = append([]string(nil), m.labels...)
	switch q.Get("format") {
	case "", "full":
		return full, true
	case "minimal":
		delete(full, "snippet")
		full["payload"] = map[string]any{"partId": ""}
		return full, true
	case "metadata":
		p, _ := full["payload"].(map[string]any)
		meta := map[string]any{"mimeType": p["mimeType"]}
		want := q["metadataHeaders"]
		var hs []any
		if list, ok := p["headers"].([]any); ok {
			for _, h := range list {
				hm, _ := h.(map[string]any)
				name, _ := hm["name"].(string)
				keep := len(want) == 0
				for _, x := range want {
					keep = keep || strings.EqualFold(x, name)
				}
				if keep {
					hs = append(hs, h)
				}
			}
		}
		meta["headers"] = hs
		full["payload"] = meta
		return full, true
	default:
		googleError(w, 400, "invalidArgument", "Invalid format: "+q.Get("format")+" (this server serves full, metadata and minimal)", nil)
		return nil, false
	}
}

func (s *Server) listHistory(w http.ResponseWriter, q url.Values) {
	start, err := strconv.ParseUint(q.Get("startHistoryId"), 10, 64)
	if err != nil {
		googleError(w, 400, "invalidArgument", "Invalid startHistoryId", nil)
		return
	}
	if start < s.expireBefore {
		googleError(w, http.StatusNotFound, "notFound", "Requested entity was not found.", nil)
		return
	}
	size, offset, ok := pageParams(w, q, 100, 500)
	if !ok {
		return
	}
	types := map[string]bool{}
	for _, t := range q["historyTypes"] {
		types[t] = true
	}
	var hits []historyRecord
	for _, h := range s.history {
		if h.id <= start || (len(types) > 0 && !types[h.kind]) {
			continue
		}
		if l := q.Get("labelId"); l != "" && !hasLabel(s.msgs[h.msgID], l) {
			continue
		}
		hits = append(hits, h)
	}
	out := map[string]any{"historyId": strconv.FormatUint(s.historyID, 10)}
	var page []any
	for i := offset; i < len(hits) && i < offset+size; i++ {
		h := hits[i]
		ref := map[string]any{"id": h.msgID, "threadId": h.thID}
		rec := map[string]any{"id": strconv.FormatUint(h.id, 10), "messages": []any{ref}}
		withLabels := map[string]any{"id": h.msgID, "threadId": h.thID, "labelIds": append([]string(nil), s.msgs[h.msgID].labels...)}
		switch h.kind {
		case "messageAdded":
			rec["messagesAdded"] = []any{map[string]any{"message": withLabels}}
		case "labelAdded":
			rec["labelsAdded"] = []any{map[string]any{"message": withLabels, "labelIds": h.added}}
		}
		page = append(page, rec)
	}
	if len(page) > 0 {
		out["history"] = page
	}
	if offset+size < len(hits) {
		out["nextPageToken"] = strconv.Itoa(offset + size)
	}
	writeJSON(w, 200, out)
}

// threads returns thread ids, newest message first, with their messages
// oldest first.
func (s *Server) threads() ([]string, map[string][]*message) {
	by := map[string][]*message{}
	var order []string
	for _, m := range s.sorted() {
		if _, ok := by[m.threadID]; !ok {
			order = append(order, m.threadID)
		}
		by[m.threadID] = append([]*message{m}, by[m.threadID]...)
	}
	return order, by
}

func threadHistory(ms []*message) uint64 {
	var h uint64
	for _, m := range ms {
		h = max(h, m.historyID)
	}
	return h
}

func (s *Server) listThreads(w http.ResponseWriter, q url.Values) {
	size, offset, ok := pageParams(w, q, 100, 500)
	if !ok {
		return
	}
	order, by := s.threads()
	out := map[string]any{"resultSizeEstimate": len(order)}
	var page []any
	for i := offset; i < len(order) && i < offset+size; i++ {
		ms := by[order[i]]
		snip, _ := ms[len(ms)-1].full["snippet"].(string)
		page = append(page, map[string]any{"id": order[i], "snippet": snip, "historyId": strconv.FormatUint(threadHistory(ms), 10)})
	}
	if len(page) > 0 {
		out["threads"] = page
	}
	if offset+size < len(order) {
		out["nextPageToken"] = strconv.Itoa(offset + size)
	}
	writeJSON(w, 200, out)
}

func (s *Server) getThread(w http.ResponseWriter, q url.Values, id string) {
	_, by := s.threads()
	ms := by[id]
	if len(ms) == 0 {
		googleError(w, http.StatusNotFound, "notFound", "Requested entity was not found.", nil)
		return
	}
	var list []any
	for _, m := range ms {
		out, ok := s.render(w, m, q)
		if !ok {
			return
		}
		list = append(list, out)
	}
	writeJSON(w, 200, map[string]any{"id": id, "historyId": strconv.FormatUint(threadHistory(ms), 10), "messages": list})
}

// ---- OAuth ----

func randomToken(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func oauthError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": msg})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	_, known := s.clients[q.Get("client_id")]
	s.consentParams = append(s.consentParams, q)
	s.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if !known || err != nil || !redirect.IsAbs() {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Error 400: invalid_request (unknown client_id or redirect_uri)")
		return
	}
	if q.Get("response_type") != "code" || q.Get("scope") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Required parameter is missing: response_type or scope")
		return
	}
	code := randomToken("4/0A")
	s.mu.Lock()
	s.codes[code] = &authCode{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), scope: q.Get("scope"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), offline: q.Get("access_type") == "offline"}
	s.mu.Unlock()
	rq := redirect.Query()
	rq.Set("code", code)
	rq.Set("scope", q.Get("scope"))
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token is the token endpoint (form body, client credentials in the body
// or in Basic auth).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	get := r.PostForm.Get
	id, secret := get("client_id"), get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want, known := s.clients[id]; !known || want != secret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	}
	scope, refresh := "", ""
	switch get("grant_type") {
	case "authorization_code":
		c := s.codes[get("code")]
		delete(s.codes, get("code")) // single use
		if c == nil || c.client != id {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
			return
		}
		if get("redirect_uri") != c.redirect {
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
			return
		}
		if c.challenge != "" {
			v := get("code_verifier")
			sum := sha256.Sum256([]byte(v))
			okS256 := c.method == "S256" && base64.RawURLEncoding.EncodeToString(sum[:]) == c.challenge
			okPlain := (c.method == "" || c.method == "plain") && v == c.challenge
			if v == "" || !(okS256 || okPlain) {
				oauthError(w, http.StatusBadRequest, "invalid_grant", "Missing code verifier.")
				return
			}
		}
		scope = c.scope
		if c.offline {
			refresh = randomToken("1//0g")
			s.refresh[refresh] = scope
		}
	case "refresh_token":
		var ok bool
		scope, ok = s.refresh[get("refresh_token")]
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+get("grant_type"))
		return
	}
	access := randomToken("ya29.a0")
	s.tokens[access] = &token{expires: s.o.Now().Add(s.o.TokenLifetime)}
	out := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(s.o.TokenLifetime / time.Second), "scope": scope}
	if refresh != "" {
		out["refresh_token"] = refresh
	}
	if s.o.OnToken != nil {
		s.o.OnToken("oauth_access_token", access)
		if refresh != "" {
			s.o.OnToken("oauth_refresh_token", refresh)
		}
	}
	writeJSON(w, 200, out)
}
