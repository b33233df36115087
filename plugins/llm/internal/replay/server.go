package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Options tune a Server.
type Options struct {
	// Strict makes every request body match a recorded request body (as
	// JSON, after Normalize); a request that matches none fails the test.
	Strict bool
	// Normalize rewrites a decoded JSON request body, ours and the
	// recorded one, before they are compared: for example to expand a
	// shorthand the provider accepts in two spellings.
	Normalize func(body any) any
	// Headers lists request headers whose recorded value must be sent
	// exactly (the API key header, a version header).
	Headers []string
	// Override, when set, sees every request first; returning true means
	// it has answered and the recordings are not consulted.
	Override func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

// Request is a request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r Request) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("request body is not a JSON object: %v\n%s", err, r.Body)
	}
	return v
}

// Server answers requests with recorded responses: for each request it
// takes the first not yet used exchange with the same method and path whose
// recorded request body equals the one received, else the first unused one
// with the same method and path, else the last one with them.
type Server struct {
	URL string

	t    testing.TB
	o    Options
	ex   []Exchange
	mu   sync.Mutex
	used []bool
	got  []Request
}

// NewServer starts a server for the exchanges; it stops when the test ends.
func NewServer(t testing.TB, exchanges []Exchange, o Options) *Server {
	t.Helper()
	s := &Server{t: t, o: o, ex: exchanges, used: make([]bool, len(exchanges))}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.got...)
}

// Last returns the last request received, failing the test if there is none.
func (s *Server) Last(t testing.TB) Request {
	t.Helper()
	got := s.Requests()
	if len(got) == 0 {
		t.Fatal("the server received no request")
	}
	return got[len(got)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.o.Override != nil && s.o.Override(w, r, body) {
		return
	}
	ex, problems := s.match(r, body)
	for _, p := range problems {
		s.t.Errorf("replay: %s %s: %s", r.Method, r.URL.Path, p)
	}
	if ex == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"message":"replay: no recording for %s %s","type":"invalid_request_error"}}`, r.Method, r.URL.Path)
		return
	}
	writeResponse(w, ex)
}

func (s *Server) match(r *http.Request, body []byte) (*Exchange, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})

	var sameRoute []int
	for i, ex := range s.ex {
		if ex.Method == r.Method && ex.Path == r.URL.Path {
			sameRoute = append(sameRoute, i)
		}
	}
	if len(sameRoute) == 0 {
		return nil, []string{"no recorded exchange for this method and path"}
	}
	pick, bodyMatched := -1, false
	for _, i := range sameRoute {
		if !s.used[i] && s.bodiesEqual(s.ex[i].RequestBody, body) {
			pick, bodyMatched = i, true
			break
		}
	}
	if pick < 0 {
		for _, i := range sameRoute {
			if !s.used[i] {
				pick = i
				break
			}
		}
	}
	if pick < 0 {
		pick = sameRoute[len(sameRoute)-1]
		bodyMatched = s.bodiesEqual(s.ex[pick].RequestBody, body)
	}
	s.used[pick] = true
	ex := &s.ex[pick]

	var problems []string
	if s.o.Strict && !bodyMatched {
		problems = append(problems, fmt.Sprintf("request body matches no recording\n got: %s\nwant: %s", body, ex.RequestBody))
	}
	for _, h := range s.o.Headers {
		if want, got := ex.RequestHeader.Get(h), r.Header.Get(h); want != got {
			problems = append(problems, fmt.Sprintf("header %s = %q, recorded %q", h, got, want))
		}
	}
	return ex, problems
}

func (s *Server) bodiesEqual(recorded, got []byte) bool {
	if len(recorded) == 0 || len(got) == 0 {
		return len(recorded) == len(got)
	}
	var a, b any
	if json.Unmarshal(recorded, &a) != nil || json.Unmarshal(got, &b) != nil {
		return bytes.Equal(recorded, got)
	}
	if s.o.Normalize != nil {
		a, b = s.o.Normalize(a), s.o.Normalize(b)
	}
	return reflect.DeepEqual(a, b)
}

// skipHeaders are recomputed by net/http or would be wrong after replay.
var skipHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Content-Encoding": true, "Connection": true}

func writeResponse(w http.ResponseWriter, ex *Exchange) {
	for k, vs := range ex.ResponseHeader {
		if skipHeaders[k] {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := ex.ResponseBody
	if ex.CutAt > 0 && ex.CutAt < len(body) {
		w.WriteHeader(ex.Status)
		writeFlushed(w, body[:ex.CutAt])
		// Drop the connection without ending the chunked body: the client
		// reads an unexpected EOF, as when a proxy or the provider dies.
		panic(http.ErrAbortHandler)
	}
	if !strings.HasPrefix(ex.ResponseHeader.Get("Content-Type"), "text/event-stream") {
		w.Header().Set("Content-Length", contentLength(body))
		w.WriteHeader(ex.Status)
		_, _ = w.Write(body)
		return
	}
	w.WriteHeader(ex.Status)
	writeFlushed(w, body)
}

// writeFlushed writes a server-sent event stream one event at a time, so the
// client sees it arrive in pieces as from a real provider.
func writeFlushed(w http.ResponseWriter, b []byte) {
	f, _ := w.(http.Flusher)
	for len(b) > 0 {
		n := bytes.Index(b, []byte("\n\n"))
		if n < 0 {
			n = len(b)
		} else {
			n += 2
		}
		_, _ = w.Write(b[:n])
		if f != nil {
			f.Flush()
		}
		b = b[n:]
	}
}
