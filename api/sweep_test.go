package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
)

// TestCrossTenantSweep is driven by the served OpenAPI document: for every
// operation it creates, as user A, what the operation's path parameters
// name (sweepParams: a parameter without a creator fails the test, so an
// operation is covered the day it lands), then calls it
//
//   - as user B with A's ids in the path, in id-like query parameters and
//     in id-like body properties, and A's marker text as the search query:
//     404 for any operation whose path names A's object; a write whose body
//     names A's object is refused (4xx); everything else answers without
//     a 5xx and without one byte of A's data (no marker string of A's, no
//     id of A's but those B itself sent in a refused request);
//   - for operations with two object ids in the path, once per id with
//     that one A's and the others B's (a parent checked but not its child
//     shows here): 404;
//   - as user B with B's own objects (collections, searches, creates): 2xx
//     without a byte of A's data;
//   - with no token, an expired one, one with a signature bit flipped, B's
//     token with A's id as subject, alg none, HS512 and RS256 (the
//     configured algorithm is HS256): 401 everywhere a token is required.
//
// Nothing A owns may change (every row of every table with a user_id, A's
// users row and the River jobs naming A, fingerprinted before and after
// each operation). The WebSocket /api/chat/{conversation_id} and the SSE
// stream of A's conversation are refused to B and to every bad token.
func TestCrossTenantSweep(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Hello: true})
	doc := loadOpenAPIFrom(t, e)
	ops := doc.operations(t)
	a := newSweepOwner(t, e)
	for name := range sweepParams {
		a.id(name) // every object A can own exists: the collections B lists hold A's data
	}
	tokens := sweepTokens(t, e, a)
	snap := newSnapshotter(t, e)
	rep := &hostileReport{}

	// The sweep's leak check must be able to see a leak: A sees A's data
	// where B must not.
	res := e.Do(http.MethodGet, "/api/notes?q="+url.QueryEscape(a.named["note title"]), nil, a.u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.NotEmpty(t, a.leaks(res.Body, nil), "A's own search shows A's note")

	// Every public operation is named, with why it is not swept.
	for _, op := range ops {
		_, listed := sweepPublic[op.ID]
		require.Equal(t, op.Public, listed, "%s: public (takes no token) must be exactly the operations listed in sweepPublic", op.ID)
	}

	counts, tally := map[string]int{}, map[string]int{}
	discriminating := map[string]bool{}
	for _, op := range ops {
		if op.Public {
			continue
		}
		missing := false
		for _, p := range op.Params {
			if _, ok := sweepParams[p.Name]; p.In == "path" && !ok {
				t.Errorf("%s: no creator for path parameter %q: add one to sweepParams", op.ID, p.Name)
				missing = true
			}
		}
		if missing {
			continue
		}
		t.Run(op.ID, func(t *testing.T) {
			w := &sweepWalk{t: t, e: e, op: op, a: a, rep: rep, tally: tally}
			w.b = newHostileFixtures(t, e, op)
			if w.control() {
				discriminating[op.ID] = true
			}
			before := snap.take(t, a.u.ID)
			n := w.run(tokens)
			if changed := before.diff(snap.take(t, a.u.ID)); changed != "" {
				rep.add(op.ID, "A's data", "-", nil, "calls as B or with bad tokens changed A's "+changed)
			}
			counts["operations"]++
			counts["requests"] += n
		})
	}

	t.Run("websocket and stream of A's conversation", func(t *testing.T) {
		before := snap.take(t, a.u.ID)
		sweepSocket(t, e, a, tokens, rep)
		if changed := before.diff(snap.take(t, a.u.ID)); changed != "" {
			rep.add("chat socket", "A's data", "-", nil, "changed A's "+changed)
		}
	})

	swept := len(ops) - len(sweepPublic)
	t.Logf("cross-tenant sweep: %d of %d operations (%d public ones listed), %d requests, token variants %v; A's GET collections that show A's data to A: %v",
		counts["operations"], len(ops), len(sweepPublic), counts["requests"], slices.Sorted(maps.Keys(tokens)), slices.Sorted(maps.Keys(discriminating)))
	var byVariant []string
	for _, k := range slices.Sorted(maps.Keys(tally)) {
		byVariant = append(byVariant, fmt.Sprintf("%s: %d", k, tally[k]))
	}
	t.Logf("requests by variant: %s", strings.Join(byVariant, "; "))
	require.Equal(t, swept, counts["operations"], "every operation that takes a token is swept")
	require.GreaterOrEqual(t, swept, 60)
	for _, id := range []string{"list-notes", "list-tasks", "list-goals", "list-reflections", "list-conversations", "list-documents", "list-tags", "get-current-user"} {
		assert.True(t, discriminating[id], "%s: A's own call shows none of A's data, so B's call proves nothing: feed the sweep's owner", id)
	}
	if list := rep.list(); list != "" {
		t.Errorf("cross-tenant sweep: %d distinct failures (op | where | kind | status | note | body):\n%s", rep.n(), list)
	}
}

// sweepPublic are the operations that take no token, with why they are not
// called as another user. A new public operation fails the sweep until it
// is listed here.
var sweepPublic = map[string]string{
	"register":       "makes an account: names nothing of anyone's (TestHostileInput, users_test)",
	"login":          "the password is the credential: TestLoginLimit and auth_test",
	"refresh-token":  "the refresh token is the credential: auth_test (rotation, reuse, revocation)",
	"oauth-callback": "the single-use state, bound to the user who started the connect, is the credential: TestOAuthCallbackAPI and core/integration's TestOAuthRoundTrip",
}

// sweepParam is what a path parameter names.
type sweepParam struct {
	// id: the value names one object of its owner, so another user's
	// value answers 404. Not an id: a name every user shares (a
	// provider: B addresses B's own connection) or a number inside the
	// object another parameter names (a note's version).
	id bool
	// create makes, as the owner, what the parameter names and returns
	// the value to put in the path.
	create func(o *sweepOwner) string
}

// sweepParams has one creator per path parameter of the document (set in
// init: the creators call each other through it).
var sweepParams map[string]sweepParam

func init() { sweepParams = sweepCreators() }

func sweepCreators() map[string]sweepParam {
	return map[string]sweepParam{
		"note_id": {id: true, create: func(o *sweepOwner) string {
			id := o.post("/api/notes", o.noteBody(), http.StatusCreated)
			// A second version (the first is the one restored and read),
			// made before a task of A's lives in the note.
			body := o.noteBody()
			body["content"] = append(body["content"].([]any), map[string]any{"id": "sw-b2", "type": "paragraph", "props": map[string]any{},
				"content": []any{map[string]any{"type": "text", "text": o.marker("note text v2"), "styles": map[string]any{}}}, "children": []any{}})
			res := o.e.Do(http.MethodPut, "/api/notes/"+id, body, o.u.Bearer())
			require.Equal(o.t, http.StatusOK, res.Status, "owner: update note: %s", res)
			return id
		}},
		"version": {create: func(o *sweepOwner) string {
			o.id("note_id")
			return "1"
		}},
		"task_id": {id: true, create: func(o *sweepOwner) string {
			return o.post("/api/tasks", map[string]any{"title": o.marker("task title"), "description": o.marker("task description"),
				"note_id": o.id("note_id"), "goal_id": o.id("goal_id"), "metadata": map[string]any{"k": o.marker("task metadata")}}, http.StatusCreated)
		}},
		"goal_id": {id: true, create: func(o *sweepOwner) string {
			return o.post("/api/goals", map[string]any{"title": o.marker("goal title"), "description": o.marker("goal description")}, http.StatusCreated)
		}},
		"reflection_id": {id: true, create: func(o *sweepOwner) string {
			return o.post("/api/reflections", map[string]any{"content": o.marker("reflection"), "reflection_type": "goal_review",
				"goal_id": o.id("goal_id")}, http.StatusCreated)
		}},
		"document_id": {id: true, create: func(o *sweepOwner) string {
			return o.post("/api/ai/documents/process", map[string]any{"title": o.marker("document title"), "text": o.marker("document text")}, http.StatusAccepted)
		}},
		"conversation_id": {id: true, create: func(o *sweepOwner) string {
			return o.post("/api/conversations", map[string]any{"title": o.marker("conversation title")}, http.StatusCreated)
		}},
		"run_id": {id: true, create: func(o *sweepOwner) string {
			res := o.e.Do(http.MethodPost, "/api/conversations/"+o.id("conversation_id")+"/messages",
				map[string]any{"content": o.marker("message"), "client_msg_id": uuid.NewString()}, o.u.Bearer())
			require.Equal(o.t, http.StatusAccepted, res.Status, "owner: send message: %s", res)
			m := res.Map(o.t)
			if mid, ok := m["message_id"].(string); ok {
				o.ids = append(o.ids, mid)
			}
			return m["run_id"].(string)
		}},
		"approval_id": {id: true, create: func(o *sweepOwner) string {
			return pendingApproval(o.t, o.e, o.u, o.id("conversation_id"))
		}},
		"suggestion_id": {id: true, create: func(o *sweepOwner) string {
			// Suggestions come from scanned mail, not from a request: the
			// owner's is stored as the scan stores them.
			return seedSuggestion(o.t, o.e, o.u.ID, o.marker("suggestion title"), o.marker("mail subject"))
		}},
		"provider": {create: func(o *sweepOwner) string {
			res := o.e.Do(http.MethodPost, "/api/external/connect/"+integrationtest.HelloName, map[string]any{}, o.u.Bearer())
			require.Equal(o.t, http.StatusOK, res.Status, "owner: connect: %s", res)
			var c struct {
				Status map[string]any `json:"status"`
			}
			res.JSON(o.t, &c)
			if id, ok := c.Status["id"].(string); ok {
				o.ids = append(o.ids, id)
			}
			return integrationtest.HelloName
		}},
	}
}

// sweepReadPosts are the POST operations that only read: a body naming A's
// object may be answered 2xx (with none of A's data).
var sweepReadPosts = map[string]string{
	"list-agents-post": "lists the agents",
	"query-rag":        "searches the caller's own documents and notes",
}

// sweepNo2xx are the operations B's own valid request cannot succeed here,
// with why; they are still swept for A's data and every token variant.
var sweepNo2xx = map[string]string{
	"transcribe-image": "needs a transcription model (503 by design without one): sent without an image, so refused before the model",
}

// ---- the owner ------------------------------------------------------------

// sweepOwner is user A: objects made by sweepParams, marker strings in
// every text they hold, and every id and secret of theirs.
type sweepOwner struct {
	t       *testing.T
	e       *apitest.Env
	u       *apitest.User
	made    map[string]string // path parameter -> value
	markers []string
	named   map[string]string // what -> marker
	ids     []string          // A's object ids
	secrets []string          // A's tokens
}

func newSweepOwner(t *testing.T, e *apitest.Env) *sweepOwner {
	t.Helper()
	o := &sweepOwner{t: t, e: e, u: e.NewUser(), made: map[string]string{}, named: map[string]string{}}
	res := e.Do(http.MethodPut, "/api/users/me", map[string]any{"email": o.u.Email, "full_name": o.marker("full name")}, o.u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = e.Do(http.MethodPut, "/api/users/preferences", map[string]any{"timezone": "Pacific/Chatham", "week_start": "sunday", "theme": o.marker("theme")}, o.u.Bearer())
	if res.Status != http.StatusOK {
		// The theme is an enum: the timezone alone marks A's preferences
		// then (a plain value B's own never has).
		res = e.Do(http.MethodPut, "/api/users/preferences", map[string]any{"timezone": "Pacific/Chatham", "week_start": "sunday"}, o.u.Bearer())
		require.Equal(t, http.StatusOK, res.Status, res.String())
	}
	o.markers = append(o.markers, o.u.Email)
	o.ids = append(o.ids, o.u.ID)
	o.secrets = append(o.secrets, o.u.AccessToken, o.u.RefreshToken)
	return o
}

// marker is a string only A's data holds (lower case: tags are folded).
func (o *sweepOwner) marker(what string) string {
	m := "sweepa" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	o.markers = append(o.markers, m)
	if _, ok := o.named[what]; !ok {
		o.named[what] = m
	}
	return m
}

// id returns the value of A's object a path parameter names, made once.
func (o *sweepOwner) id(name string) string {
	if v, ok := o.made[name]; ok {
		return v
	}
	p, ok := sweepParams[name]
	require.True(o.t, ok, "no creator for %q in sweepParams", name)
	v := p.create(o)
	o.made[name] = v
	if p.id {
		o.ids = append(o.ids, v)
	}
	return v
}

// noteBody is A's note, the same every time it is sent.
func (o *sweepOwner) noteBody() map[string]any {
	m := func(what string) string {
		if v, ok := o.named[what]; ok {
			return v
		}
		return o.marker(what)
	}
	return map[string]any{
		"title": m("note title"), "tags": []any{m("tag")},
		"metadata": map[string]any{"k": m("note metadata")},
		"content": []any{map[string]any{"id": "sw-b1", "type": "paragraph", "props": map[string]any{},
			"content": []any{map[string]any{"type": "text", "text": m("note text"), "styles": map[string]any{}}}, "children": []any{}}},
	}
}

func (o *sweepOwner) post(path string, body any, status int) string {
	res := o.e.Do(http.MethodPost, path, body, o.u.Bearer())
	require.Equal(o.t, status, res.Status, "owner: %s: %s", path, res)
	return res.Map(o.t)["id"].(string)
}

// bodyIDs are A's values for the id-like properties of request bodies.
func (o *sweepOwner) bodyIDs() map[string]string {
	return map[string]string{
		"note_id": o.id("note_id"), "parent_id": o.id("note_id"), "note_ids": o.id("note_id"),
		"task_id": o.id("task_id"), "parent_task_id": o.id("task_id"),
		"goal_id": o.id("goal_id"), "parent_goal_id": o.id("goal_id"),
		"reflection_id": o.id("reflection_id"), "document_id": o.id("document_id"),
		"conversation_id": o.id("conversation_id"), "run_id": o.id("run_id"), "approval_id": o.id("approval_id"),
		"client_msg_id": uuid.NewString(), "agent_id": "assistant", "provider": o.id("provider"),
	}
}

// leaks lists A's markers and ids in body; allowed are ids the request
// itself carried (a refusal may quote what it refuses).
func (o *sweepOwner) leaks(body []byte, allowed []string) []string {
	var out []string
	for _, m := range o.markers {
		if bytes.Contains(body, []byte(m)) {
			out = append(out, "marker "+m)
		}
	}
	for _, id := range o.ids {
		if !slices.Contains(allowed, id) && bytes.Contains(body, []byte(id)) {
			out = append(out, "id "+id)
		}
	}
	for _, s := range o.secrets {
		if bytes.Contains(body, []byte(s)) {
			out = append(out, "a token of A's")
		}
	}
	return out
}

// ---- tokens ---------------------------------------------------------------

// sweepTokens are the bad Authorization header values ("" sends none),
// each carrying A's identity, so that a token check that lets one through
// acts as A.
func sweepTokens(t *testing.T, e *apitest.Env, a *sweepOwner) map[string]string {
	t.Helper()
	var claims jwt.MapClaims
	_, _, err := jwt.NewParser().ParseUnverified(a.u.AccessToken, &claims)
	require.NoError(t, err)
	base := func() jwt.MapClaims {
		c := jwt.MapClaims{}
		maps.Copy(c, claims)
		c["iat"], c["exp"] = time.Now().Unix(), time.Now().Add(time.Minute).Unix()
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return tok
	}
	// The control: A's claims signed as the server signs are accepted, so
	// each variant below is refused for its one difference.
	good := sign(jwt.SigningMethodHS256, []byte(apitest.TestSecret), base())
	require.Equal(t, http.StatusOK, e.Do(http.MethodGet, "/api/users/me", nil, "Authorization: Bearer "+good).Status)

	expired := base()
	expired["iat"], expired["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
	parts := strings.Split(a.u.AccessToken, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	sig[len(sig)/2] ^= 0x01
	flipped := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// B's real token with A as the subject (B's signature kept).
	b := e.NewUser()
	bp := strings.Split(b.AccessToken, ".")
	var bc map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(bp[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &bc))
	bc["sub"] = a.u.ID
	raw, err = json.Marshal(bc)
	require.NoError(t, err)
	swapped := bp[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + bp[2]

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	return map[string]string{
		"no token":                 "",
		"expired":                  "Bearer " + sign(jwt.SigningMethodHS256, []byte(apitest.TestSecret), expired),
		"signature bit flipped":    "Bearer " + flipped,
		"payload swapped":          "Bearer " + swapped,
		"alg none":                 "Bearer " + none,
		"HS512 (configured HS256)": "Bearer " + sign(jwt.SigningMethodHS512, []byte(apitest.TestSecret), base()),
		"RS256 (configured HS256)": "Bearer " + sign(jwt.SigningMethodRS256, rsaKey, base()),
	}
}

// ---- one operation --------------------------------------------------------

type sweepWalk struct {
	t   *testing.T
	e   *apitest.Env
	op  *apiOperation
	a   *sweepOwner
	b   *hostileFixtures
	rep *hostileReport
	// tally counts the requests by variant, for the log.
	tally map[string]int
}

// sweepRequest is one call: path values, query, body and token.
type sweepRequest struct {
	path  map[string]string
	query url.Values
	body  any // nil: none
	auth  string
	label string
}

func (w *sweepWalk) ownedPath() bool {
	for _, p := range w.op.Params {
		if p.In == "path" && sweepParams[p.Name].id {
			return true
		}
	}
	return false
}

// request builds a call of the operation: path values, id-like query
// parameters and id-like body properties each from A's objects or B's
// own, and A's marker as any search.
func (w *sweepWalk) request(label, auth string, pathA, queryA, bodyA bool) *sweepRequest {
	r := &sweepRequest{path: map[string]string{}, query: url.Values{}, auth: auth, label: label}
	aIDs := w.a.bodyIDs()
	for _, p := range w.op.Params {
		switch {
		case p.In == "path" && pathA:
			r.path[p.Name] = w.a.id(p.Name)
		case p.In == "path":
			r.path[p.Name] = w.b.pathValue(w.t, w.op, p.Name)
		case p.In == "query" && p.Name == "q":
			r.query.Set("q", w.a.named["note title"])
		case p.In == "query" && queryA && aIDs[p.Name] != "" && idLike(p.Name, p.Schema):
			r.query.Set(p.Name, aIDs[p.Name])
		}
	}
	if w.op.Body != nil {
		if bodyA {
			// B's own account values (a logout names A's refresh token).
			f := &hostileFixtures{u: &apitest.User{ID: w.b.u.ID, Email: w.b.u.Email, Password: w.b.u.Password, RefreshToken: w.a.u.RefreshToken},
				ids: aIDs}
			r.body = f.validBody(w.t, w.op)
		} else {
			r.body = w.b.validBody(w.t, w.op)
		}
		if w.op.ID == "query-rag" {
			r.body.(map[string]any)["query"] = w.a.named["note text"]
		}
	}
	return r
}

// control sends the operation's GET as A: A's objects must be there for
// A (or B's 404 proves nothing); true when A sees A's data in a
// collection.
func (w *sweepWalk) control() bool {
	if w.op.Method != http.MethodGet {
		return false
	}
	r := w.request("A's own", "Bearer "+w.a.u.AccessToken, true, false, true)
	r.query = url.Values{} // all of A's data, not one search's or filter's
	res := w.send(r)
	if w.ownedPath() && (res.err != nil || res.status != http.StatusOK) {
		w.rep.add(w.op.ID, r.label, "-", res, "want 200: A reads A's object (or B's 404 proves nothing)")
	}
	return !w.ownedPath() && res.err == nil && res.status == http.StatusOK && len(w.a.leaks(res.body, nil)) > 0
}

func (w *sweepWalk) bearerB() string { return "Bearer " + w.b.u.AccessToken }

func (w *sweepWalk) run(tokens map[string]string) int {
	n := 0
	call := func(r *sweepRequest, ok func(int) bool, want string) {
		res := w.send(r)
		n++
		family, _, _ := strings.Cut(r.label, " but A's ")
		w.tally[family]++
		w.expect(r, res, w.sentIDs(r), ok, want)
		if res.err == nil && res.status/100 == 2 && (w.op.Method == http.MethodDelete || w.op.ID == "logout") {
			w.b = newHostileFixtures(w.t, w.e, w.op) // used up: B starts again
		}
	}
	is404 := func(s int) bool { return s == http.StatusNotFound }
	refused := func(s int) bool { return s/100 == 4 && s != 401 && s != 403 }
	answered := func(s int) bool { return s < 500 && s != 401 }
	readOnly := w.op.Method == http.MethodGet || sweepReadPosts[w.op.ID] != ""

	var idParams []string
	for _, p := range w.op.Params {
		if p.In == "path" && sweepParams[p.Name].id {
			idParams = append(idParams, p.Name)
		}
	}
	if len(idParams) > 0 {
		// B names A's object in the path, with a body of B's own.
		call(w.request("B, A's ids in the path", w.bearerB(), true, false, false), is404, "404: the path names A's object")
		// One of A's ids among B's: each object the path names is checked.
		if len(idParams) > 1 {
			for _, mine := range idParams {
				r := w.request("B's ids but A's "+mine, w.bearerB(), false, false, false)
				r.path[mine] = w.a.id(mine)
				call(r, is404, "404: "+mine+" is A's")
			}
		}
	} else {
		// B's own: collections, searches (for A's marker), creates.
		want, why := func(s int) bool { return s/100 == 2 }, "2xx"
		if reason, ok := sweepNo2xx[w.op.ID]; ok {
			want, why = answered, "no 5xx, no 401 ("+reason+")"
		}
		call(w.request("B with B's own", w.bearerB(), false, false, false), want, why)
	}
	// B filters by A's ids.
	if r := w.request("B, A's ids in the query", w.bearerB(), false, true, false); len(w.sentIDs(r)) > 0 {
		call(r, answered, "no 5xx, no 401")
	}
	// B's body names A's objects.
	if r := w.request("B, A's ids in the body", w.bearerB(), false, false, true); w.op.Body != nil && len(w.sentIDs(r)) > 0 {
		if readOnly {
			call(r, answered, "no 5xx, no 401")
		} else {
			call(r, refused, "4xx: the body names A's object")
		}
	}
	// Bad tokens, each carrying A's identity, on A's own request.
	for _, name := range slices.Sorted(maps.Keys(tokens)) {
		call(w.request("token: "+name, tokens[name], true, true, true), func(s int) bool { return s == http.StatusUnauthorized }, "401")
	}
	return n
}

// sentIDs are A's ids the request carries.
func (w *sweepWalk) sentIDs(r *sweepRequest) []string {
	var raw bytes.Buffer
	for _, v := range r.path {
		raw.WriteString(v + " ")
	}
	raw.WriteString(r.query.Encode() + " ")
	if r.body != nil {
		encodeJSON(&raw, r.body)
	}
	raw.WriteString(r.auth)
	var out []string
	for _, id := range w.a.ids {
		if strings.Contains(raw.String(), id) {
			out = append(out, id)
		}
	}
	return out
}

func (w *sweepWalk) expect(r *sweepRequest, res *probeResult, sent []string, ok func(int) bool, want string) {
	switch {
	case res.err != nil:
		w.rep.add(w.op.ID, r.label, "-", res, "transport error: "+res.err.Error())
		return
	case !ok(res.status):
		w.rep.add(w.op.ID, r.label, "-", res, "want "+want)
	case res.status/100 == 4 && !strings.HasPrefix(res.ctype, "application/problem+json"):
		w.rep.add(w.op.ID, r.label, "-", res, "a refusal that is not problem+json ("+res.ctype+")")
	}
	allowed := sent
	if res.status/100 == 2 {
		allowed = nil // a success quotes nothing of A's
	}
	if l := w.a.leaks(res.body, allowed); len(l) > 0 {
		w.rep.add(w.op.ID, r.label, "-", res, "A's data in the answer: "+strings.Join(l, ", "))
	}
}

func (w *sweepWalk) send(r *sweepRequest) *probeResult {
	path := w.op.Path
	for k, v := range r.path {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	target := w.e.Server.URL + "/api" + path
	if q := r.query.Encode(); q != "" {
		target += "?" + q
	}
	var rd io.Reader
	ctype := ""
	switch {
	case r.body != nil:
		var buf bytes.Buffer
		encodeJSON(&buf, r.body)
		rd, ctype = &buf, "application/json"
	case w.op.Body == nil && w.op.Multipart:
		// A multipart-only operation: an empty form (its fields are
		// read by hand; the refusal comes after the token check).
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		require.NoError(w.t, mw.Close())
		rd, ctype = &buf, mw.FormDataContentType()
	}
	req, err := http.NewRequest(w.op.Method, target, rd)
	require.NoError(w.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	return doProbe(w.e, req)
}

// ---- the socket and the stream ---------------------------------------------

func sweepSocket(t *testing.T, e *apitest.Env, a *sweepOwner, tokens map[string]string, rep *hostileReport) {
	conv := a.id("conversation_id")
	b := e.NewUser()
	refused := func(label string, want int, query string, headers ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := http.Header{}
		for _, kv := range headers {
			k, v, _ := strings.Cut(kv, ":")
			h.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		conn, res, err := websocket.Dial(ctx, wsURL(e, conv, query), &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			_ = conn.CloseNow()
			rep.add("WS /api/chat/{conversation_id}", label, "-", nil, "the socket to A's conversation opened")
			return
		}
		if res == nil {
			rep.add("WS /api/chat/{conversation_id}", label, "-", nil, "no answer: "+err.Error())
			return
		}
		body, _ := io.ReadAll(res.Body)
		pr := &probeResult{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: body}
		if res.StatusCode != want {
			rep.add("WS /api/chat/{conversation_id}", label, "-", pr, fmt.Sprintf("want %d", want))
		}
		if l := a.leaks(body, []string{conv}); len(l) > 0 {
			rep.add("WS /api/chat/{conversation_id}", label, "-", pr, "A's data in the answer: "+strings.Join(l, ", "))
		}
	}
	// A opens it: the refusals below are about who asks.
	conn, _, err := websocket.Dial(context.Background(), wsURL(e, conv, ""), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": []string{"Bearer " + a.u.AccessToken}}})
	require.NoError(t, err, "A opens a socket to A's conversation")
	_ = conn.CloseNow()

	refused("B's bearer token", http.StatusNotFound, "", b.Bearer())
	for _, name := range slices.Sorted(maps.Keys(tokens)) {
		if tokens[name] == "" {
			refused("token: "+name, http.StatusUnauthorized, "")
		} else {
			refused("token: "+name, http.StatusUnauthorized, "", "Authorization: "+tokens[name])
		}
	}
	// B's ticket is for B's conversation only.
	res := e.Do(http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": conv}, b.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, "a ticket for A's conversation: %s", res)
	res = e.Do(http.MethodPost, "/api/conversations", map[string]any{"title": "b's"}, b.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	bConv := res.Map(t)["id"].(string)
	res = e.Do(http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": bConv}, b.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	refused("B's ticket for B's conversation", http.StatusUnauthorized, "?ticket="+url.QueryEscape(res.Map(t)["ticket"].(string)))
	refused("a made-up ticket", http.StatusUnauthorized, "?ticket="+url.QueryEscape(uuid.NewString()))

	// The SSE stream, with a resume point (TestCrossTenantSweep's
	// stream-conversation-events sends none).
	for _, q := range []string{"?after_seq=0", ""} {
		req, err := http.NewRequest(http.MethodGet, e.Server.URL+"/api/conversations/"+conv+"/events"+q, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.AccessToken)
		req.Header.Set("Last-Event-ID", "0")
		pr := doProbe(e, req)
		if pr.err != nil || pr.status != http.StatusNotFound {
			rep.add("stream-conversation-events", "B, resuming"+q, "-", pr, "want 404")
		}
	}
}
