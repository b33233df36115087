package gmailtest

import (
	"encoding/json"
	"go/parser"
	gotoken "go/token"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/sharedfixtures"
)

const tok = "ya29.test"

func get(t *testing.T, s *Server, path string, q url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	u := s.BaseURL() + "/gmail/v1/users/me/" + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: not JSON: %s", path, raw)
	}
	return resp.StatusCode, resp.Header, out
}

// missingKeys returns the keys of want that got lacks, recursing into
// objects both have and into the first element of arrays both have.
func missingKeys(prefix string, want, got map[string]any) []string {
	var out []string
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		if wa, ok := wv.([]any); ok {
			if ga, ok := gv.([]any); ok && len(wa) > 0 && len(ga) > 0 {
				wv, gv = wa[0], ga[0]
			}
		}
		wm, wok := wv.(map[string]any)
		gm, gok := gv.(map[string]any)
		if wok && gok {
			out = append(out, missingKeys(prefix+k+".", wm, gm)...)
		}
	}
	sort.Strings(out)
	return out
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(sharedfixtures.Read(t, "gmail", name), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestShapes: what the server answers has every key of Gmail's recorded
// answers, and the paths it serves are the discovery document's.
func TestShapes(t *testing.T) {
	s := Start(t, Options{})
	s.AddToken(tok)
	raw := sharedfixtures.Read(t, "gmail", "message-full-reply-with-attachment.json")
	var full map[string]any
	_ = json.Unmarshal(raw, &full)
	full["internalDate"] = strconv.FormatInt(time.Now().Add(-time.Hour).UnixMilli(), 10)
	id := s.AddMessage(full)
	s.Add(Mail{From: "a@example.org", To: Email, Subject: "composed", Text: "t", HTML: "<p>t</p>", ThreadID: "1926aade210af14d"})
	s.Add(Mail{From: "b@example.org", To: Email, Subject: "another thread", Text: "u"})

	cases := []struct {
		fixture, path string
		q             url.Values
	}{
		{"profile.json", "profile", nil},
		{"messages-list.json", "messages", url.Values{"maxResults": {"1"}}},
		{"message-full-reply-with-attachment.json", "messages/" + id, url.Values{"format": {"full"}}},
		{"message-metadata-reply.json", "messages/" + id, url.Values{"format": {"metadata"}}},
		{"message-minimal.json", "messages/" + id, url.Values{"format": {"minimal"}}},
		{"history-list.json", "history", url.Values{"startHistoryId": {"1"}}},
		{"threads-list.json", "threads", url.Values{"maxResults": {"1"}}},
		{"thread-minimal.json", "threads/1926aade210af14d", url.Values{"format": {"minimal"}}},
	}
	for _, c := range cases {
		st, _, got := get(t, s, c.path, c.q)
		if st != 200 {
			t.Fatalf("%s: %d %v", c.path, st, got)
		}
		want := fixture(t, c.fixture)
		if c.fixture == "history-list.json" {
			// The recording's history has label records too; the server's
			// messageAdded ones carry messagesAdded.
			want = map[string]any{"historyId": want["historyId"], "history": []any{map[string]any{"id": "", "messages": []any{map[string]any{"id": "", "threadId": ""}},
				"messagesAdded": []any{map[string]any{"message": map[string]any{"id": "", "threadId": "", "labelIds": nil}}}}}}
		}
		if m := missingKeys("", want, got); len(m) > 0 {
			t.Errorf("%s lacks %v of %s", c.path, m, c.fixture)
		}
	}

	// The discovery document's paths for the methods served.
	var disc struct {
		Resources struct {
			Users struct {
				Methods   map[string]struct{ FlatPath string }
				Resources map[string]struct {
					Methods map[string]struct{ FlatPath string }
				}
			}
		}
	}
	if err := json.Unmarshal(sharedfixtures.Read(t, "gmail", "gmail-v1-discovery.json"), &disc); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"getProfile": disc.Resources.Users.Methods["getProfile"].FlatPath}
	for res, ms := range map[string][]string{"messages": {"list", "get"}, "history": {"list"}, "threads": {"list", "get"}} {
		for _, m := range ms {
			paths[res+"."+m] = disc.Resources.Users.Resources[res].Methods[m].FlatPath
		}
	}
	want := map[string]string{"getProfile": "gmail/v1/users/{userId}/profile", "messages.list": "gmail/v1/users/{userId}/messages",
		"messages.get": "gmail/v1/users/{userId}/messages/{id}", "history.list": "gmail/v1/users/{userId}/history",
		"threads.list": "gmail/v1/users/{userId}/threads", "threads.get": "gmail/v1/users/{userId}/threads/{id}"}
	for k, v := range want {
		if paths[k] != v {
			t.Errorf("discovery %s is %q, the server serves %q", k, paths[k], v)
		}
	}
}

func TestPagingHistoryAndFaults(t *testing.T) {
	s := Start(t, Options{})
	s.AddToken(tok)
	start := s.HistoryID()
	ids := s.Seed(25)
	s.Add(Mail{From: "old@example.org", To: Email, Subject: "old", Text: "x", Date: time.Now().AddDate(0, 0, -30)})

	// newer_than leaves the old one out; pages of 10, newest first.
	var got []string
	q := url.Values{"q": {"newer_than:14d -in:chats"}, "maxResults": {"10"}}
	for {
		st, _, page := get(t, s, "messages", q)
		if st != 200 {
			t.Fatal(st, page)
		}
		for _, m := range page["messages"].([]any) {
			got = append(got, m.(map[string]any)["id"].(string))
		}
		next, _ := page["nextPageToken"].(string)
		if next == "" {
			break
		}
		q.Set("pageToken", next)
	}
	if len(got) != 25 || got[0] != ids[24] || got[24] != ids[0] {
		t.Errorf("listed %v", got)
	}

	// History from the start, in pages of 10, messageAdded only.
	s.AddLabel(ids[0], "STARRED")
	var added []string
	hq := url.Values{"startHistoryId": {strconv.FormatUint(start, 10)}, "historyTypes": {"messageAdded"}, "maxResults": {"10"}}
	last := ""
	for {
		st, _, page := get(t, s, "history", hq)
		if st != 200 {
			t.Fatal(st, page)
		}
		hs, _ := page["history"].([]any)
		for _, h := range hs {
			for _, a := range h.(map[string]any)["messagesAdded"].([]any) {
				added = append(added, a.(map[string]any)["message"].(map[string]any)["id"].(string))
			}
		}
		last, _ = page["historyId"].(string)
		next, _ := page["nextPageToken"].(string)
		if next == "" {
			break
		}
		hq.Set("pageToken", next)
	}
	if len(added) != 26 || last != strconv.FormatUint(s.HistoryID(), 10) {
		t.Errorf("%d added, history id %s (mailbox %d)", len(added), last, s.HistoryID())
	}
	s.ExpireHistoryBefore(s.HistoryID())
	if st, _, body := get(t, s, "history", url.Values{"startHistoryId": {strconv.FormatUint(start, 10)}}); st != 404 ||
		body["error"].(map[string]any)["status"] != "NOT_FOUND" {
		t.Errorf("expired history: %d %v", st, body)
	}

	s.Fail(1, 403, "rateLimitExceeded", 3*time.Second)
	st, h, body := get(t, s, "profile", nil)
	reason := body["error"].(map[string]any)["errors"].([]any)[0].(map[string]any)["reason"]
	if st != 403 || h.Get("Retry-After") != "3" || reason != "rateLimitExceeded" {
		t.Errorf("fail: %d %v %v", st, h, body)
	}
	s.RevokeToken(tok)
	if st, _, _ := get(t, s, "profile", nil); st != 401 {
		t.Errorf("revoked token: %d", st)
	}
}

func TestOAuth(t *testing.T) {
	s := Start(t, Options{})
	s.AddClient("cid", "secret")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	consent := func(offline bool) string {
		q := url.Values{"client_id": {"cid"}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
			"scope": {"https://www.googleapis.com/auth/gmail.readonly"}, "state": {"st"}}
		if offline {
			q.Set("access_type", "offline")
		}
		resp, err := noRedirect.Get(s.AuthURL() + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || loc.Query().Get("state") != "st" {
			t.Fatalf("consent: %d %s", resp.StatusCode, loc)
		}
		return loc.Query().Get("code")
	}
	exchange := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(s.TokenURL(), form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	base := url.Values{"client_id": {"cid"}, "client_secret": {"secret"}, "redirect_uri": {"https://app.example/cb"}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	st, out := exchange(with("grant_type", "authorization_code", "code", consent(false)))
	if st != 200 || out["refresh_token"] != nil || out["access_token"] == "" {
		t.Errorf("online consent: %d %v", st, out)
	}
	code := consent(true)
	st, out = exchange(with("grant_type", "authorization_code", "code", code))
	rt, _ := out["refresh_token"].(string)
	if st != 200 || rt == "" {
		t.Fatalf("offline consent: %d %v", st, out)
	}
	if st, _ := exchange(with("grant_type", "authorization_code", "code", code)); st != 400 {
		t.Errorf("a code used twice: %d", st)
	}
	st, out = exchange(with("grant_type", "refresh_token", "refresh_token", rt))
	if st != 200 || out["refresh_token"] != nil {
		t.Errorf("refresh: %d %v", st, out)
	}
	s.RevokeRefreshTokens()
	if st, out := exchange(with("grant_type", "refresh_token", "refresh_token", rt)); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("revoked refresh: %d %v", st, out)
	}
}

// TestStdlibOnly: the package imports only the standard library.
func TestStdlibOnly(t *testing.T) {
	names, _ := filepath.Glob("*.go")
	fset := gotoken.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
