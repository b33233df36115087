package api_test

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/api/apitest"
)

// FuzzRequestBody sends fuzzed JSON bodies to every operation of the
// served OpenAPI document that takes one, through the real server (every
// middleware, the real handlers, real Postgres), as one user that owns
// the resources the paths name (the hostile walk's fixtures). Whatever
// the body, the answer is never a 5xx, a 4xx is problem+json and a 2xx is
// JSON (or an event stream).
//
// The input is an operation id and a body; an id that names no operation
// picks one by its hash, so every mutation still reaches a handler. The
// seeds are each operation's valid body (as the hostile walk builds it)
// and the corpus in testdata/fuzz/FuzzRequestBody.
//
// Run: go test -run '^$' -fuzz '^FuzzRequestBody$' -fuzztime 60s ./api/
func FuzzRequestBody(f *testing.F) {
	e := apitest.New(f, apitest.Options{Hello: true})
	doc := loadOpenAPIFrom(f, e)
	var ops []*apiOperation
	byID := map[string]*apiOperation{}
	for _, op := range doc.operations(f) {
		if _, skip := hostileSkips[op.ID]; skip || op.Body == nil {
			continue
		}
		ops = append(ops, op)
		byID[op.ID] = op
	}
	if len(ops) < 20 {
		f.Fatalf("only %d operations take a body: is the walker broken?", len(ops))
	}
	// One set of fixtures for every operation, owned by a superuser so
	// that the admin operations answer too.
	fx := newHostileFixtures(f, e, &apiOperation{ID: "fuzz", Path: "/admin/fuzz"})
	for _, op := range ops {
		b, err := json.Marshal(fx.validBody(f, op))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(op.ID, b)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, opID string, body []byte) {
		op := byID[opID]
		if op == nil {
			h := fnv.New32a()
			h.Write([]byte(opID))
			op = ops[h.Sum32()%uint32(len(ops))]
		}
		path := op.Path
		for _, p := range op.Params {
			if p.In == "path" {
				path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(fx.pathValue(t, op, p.Name)))
			}
		}
		req, err := http.NewRequest(op.Method, e.Server.URL+"/api"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if !op.Public {
			req.Header.Set("Authorization", "Bearer "+fx.u.AccessToken)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", op.Method, path, err)
		}
		defer res.Body.Close()
		ctype := res.Header.Get("Content-Type")
		var raw []byte
		if !strings.HasPrefix(ctype, "text/event-stream") { // a stream never ends by itself
			if raw, err = io.ReadAll(res.Body); err != nil {
				t.Fatalf("%s: read the answer: %v", op.ID, err)
			}
		}
		switch {
		case res.StatusCode >= 500:
			t.Fatalf("%s: %d for body %q:\n%s", op.ID, res.StatusCode, body, raw)
		case res.StatusCode >= 400:
			if !strings.HasPrefix(ctype, "application/problem+json") || !json.Valid(raw) {
				t.Fatalf("%s: %d is not problem+json (%s) for body %q:\n%s", op.ID, res.StatusCode, ctype, body, raw)
			}
		case res.StatusCode >= 200 && res.StatusCode < 300:
			if len(raw) > 0 && (!strings.HasPrefix(ctype, "application/json") || !json.Valid(raw)) {
				t.Fatalf("%s: %d is not JSON (%s) for body %q:\n%s", op.ID, res.StatusCode, ctype, body, raw)
			}
		default:
			t.Fatalf("%s: unexpected status %d for body %q", op.ID, res.StatusCode, body)
		}
	})
}
