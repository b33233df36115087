package clickuptest

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

func get(t *testing.T, s *Server, tok, path string, q url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	u := s.BaseURL() + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header, out
}

// missingKeys returns the keys of want that got lacks, recursing into
// objects both have.
func missingKeys(prefix string, want, got map[string]any) []string {
	var out []string
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			out = append(out, prefix+k)
			continue
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
	if err := json.Unmarshal(sharedfixtures.Read(t, "clickup", name), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestShapes: what the server answers has every key of ClickUp's recorded
// answers.
func TestShapes(t *testing.T) {
	s := Start(t, Options{})
	s.AddToken("pk_1")
	seeded := s.Seed(SeedOptions{Tasks: 12})
	first := func(v map[string]any, key string) map[string]any {
		t.Helper()
		list, _ := v[key].([]any)
		if len(list) == 0 {
			t.Fatalf("no %s in %v", key, v)
		}
		return list[0].(map[string]any)
	}
	q := url.Values{"include_closed": {"true"}, "subtasks": {"true"}}
	_, _, tasks := get(t, s, "pk_1", "/team/"+seeded.Team.ID+"/task", q)
	for _, c := range []struct {
		what      string
		want, got map[string]any
	}{
		{"team task query", first(fixture(t, "tasks-list-page0.json"), "tasks"), first(tasks, "tasks")},
		{"task list", first(fixture(t, "tasks-list-small.json"), "tasks"), first(tasks, "tasks")},
		{"teams", first(fixture(t, "teams-list.json"), "teams"), first(must(get(t, s, "pk_1", "/team", nil)), "teams")},
		{"lists", first(fixture(t, "folderless-lists.json"), "lists"), first(must(get(t, s, "pk_1", "/space/"+seeded.Space.ID+"/list", nil)), "lists")},
	} {
		// Members' activity dates and the like are beyond what a sync reads.
		var miss []string
		for _, k := range missingKeys("", c.want, c.got) {
			if !strings.HasPrefix(k, "members") && !strings.HasPrefix(k, "sharing.") {
				miss = append(miss, k)
			}
		}
		if len(miss) > 0 {
			t.Errorf("%s: keys missing: %v", c.what, miss)
		}
	}
	space := first(must(get(t, s, "pk_1", "/team/"+seeded.Team.ID+"/space", nil)), "spaces")
	for _, k := range []string{"id", "name", "statuses", "features", "archived"} {
		if _, ok := space[k]; !ok {
			t.Errorf("space lacks %s", k)
		}
	}
	st := first(tasks, "tasks")
	if _, has := st["due_date_time"]; has && st["due_date"] == nil {
		t.Error("due_date_time without a due date")
	}
}

func must(_ int, _ http.Header, v map[string]any) map[string]any { return v }

func ids(v map[string]any) []string {
	var out []string
	list, _ := v["tasks"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any)["id"].(string))
	}
	return out
}

func TestQueryPagingAndFilters(t *testing.T) {
	s := Start(t, Options{})
	s.AddToken("pk_1")
	seeded := s.Seed(SeedOptions{Tasks: 250})
	path := "/team/" + seeded.Team.ID + "/task"
	all := url.Values{"include_closed": {"true"}, "subtasks": {"true"}, "order_by": {"updated"}}
	seen := map[string]bool{}
	var order []string
	for page, want := range []int{100, 100, 50} {
		q := url.Values{}
		for k, v := range all {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		_, _, v := get(t, s, "pk_1", path, q)
		got := ids(v)
		if len(got) != want || v["last_page"] != (page == 2) {
			t.Fatalf("page %d: %d tasks, last_page %v", page, len(got), v["last_page"])
		}
		for _, id := range got {
			seen[id] = true
		}
		order = append(order, got...)
	}
	if len(seen) != 250 {
		t.Errorf("%d distinct tasks over the pages", len(seen))
	}
	// Newest change first.
	if order[0] != seeded.TaskIDs[249] || order[249] != seeded.TaskIDs[0] {
		t.Errorf("order: first %s last %s", order[0], order[249])
	}
	q := url.Values{"page": {"3"}, "include_closed": {"true"}, "subtasks": {"true"}}
	if _, _, v := get(t, s, "pk_1", path, q); len(ids(v)) != 0 || v["last_page"] != true {
		t.Errorf("past the end: %v", v)
	}

	count := func(q url.Values) int {
		n := 0
		for page := 0; ; page++ {
			q.Set("page", strconv.Itoa(page))
			_, _, v := get(t, s, "pk_1", path, q)
			n += len(ids(v))
			if v["last_page"] == true {
				return n
			}
		}
	}
	closed, subtasks := 0, 0
	for _, tk := range s.Tasks() {
		if tk.Status == "complete" {
			closed++
		}
		if tk.Parent != "" {
			subtasks++
		}
	}
	if closed == 0 || subtasks == 0 {
		t.Fatalf("seed made %d closed tasks and %d subtasks", closed, subtasks)
	}
	if n := count(url.Values{"subtasks": {"true"}}); n != 250-closed {
		t.Errorf("without include_closed: %d tasks, want %d", n, 250-closed)
	}
	if n := count(url.Values{"include_closed": {"true"}}); n != 250-subtasks {
		t.Errorf("without subtasks: %d tasks, want %d", n, 250-subtasks)
	}
	mid, _ := s.Task(seeded.TaskIDs[199])
	if n := count(url.Values{"include_closed": {"true"}, "subtasks": {"true"}, "date_updated_gt": {strconv.FormatInt(mid.DateUpdated, 10)}}); n != 50 {
		t.Errorf("date_updated_gt: %d tasks, want 50", n)
	}
	if st, _, v := get(t, s, "pk_1", path, url.Values{"date_updated_gt": {"soon"}}); st != 400 || v["ECODE"] == nil {
		t.Errorf("a bad number: %d %v", st, v)
	}
}

func TestAuthAndFaults(t *testing.T) {
	now := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	s := Start(t, Options{Now: func() time.Time { return now }})
	s.AddToken("pk_all")
	s.AddToken("pk_other", "777")
	seeded := s.Seed(SeedOptions{Tasks: 3})
	path := "/team/" + seeded.Team.ID + "/task"

	for _, c := range []struct {
		tok, ecode string
		status     int
	}{{"", "OAUTH_017", 400}, {"pk_nope", "OAUTH_025", 401}, {"pk_other", "OAUTH_027", 401}} {
		if st, _, v := get(t, s, c.tok, path, nil); st != c.status || v["ECODE"] != c.ecode {
			t.Errorf("token %q: %d %v, want %d %s", c.tok, st, v, c.status, c.ecode)
		}
	}
	if st, _, _ := get(t, s, "Bearer pk_all", path, nil); st != 200 {
		t.Errorf("Bearer form: %d", st)
	}

	s.Storm(2, 37*time.Second)
	for range 2 {
		st, h, v := get(t, s, "pk_all", path, nil)
		if st != 429 || h.Get("X-RateLimit-Reset") != strconv.FormatInt(now.Unix()+37, 10) || v["ECODE"] != "APP_002" {
			t.Errorf("storm: %d reset %s %v", st, h.Get("X-RateLimit-Reset"), v)
		}
	}
	s.Fail(1, 503)
	if st, _, _ := get(t, s, "pk_all", path, nil); st != 503 {
		t.Errorf("fail: %d", st)
	}
	s.Garbage(1)
	if st, _, v := get(t, s, "pk_all", path, nil); st != 200 || v != nil {
		t.Errorf("garbage: %d %v", st, v)
	}
	if st, _, _ := get(t, s, "pk_all", path, nil); st != 200 {
		t.Errorf("after the knobs: %d", st)
	}

	s.SetRateLimit(3)
	for i := range 4 {
		st, h, _ := get(t, s, "pk_all", "/team", nil)
		want := 200
		if i == 3 {
			want = 429
		}
		if st != want || h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Reset") != strconv.FormatInt(now.Add(time.Minute).Unix(), 10) {
			t.Errorf("request %d: %d limit %s reset %s", i+1, st, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Reset"))
		}
	}
	now = now.Add(time.Minute) // a new window
	if st, _, _ := get(t, s, "pk_all", "/team", nil); st != 200 {
		t.Errorf("next window: %d", st)
	}
	s.SetRateLimit(0)

	s.RevokeToken("pk_all")
	if st, _, v := get(t, s, "pk_all", "/team", nil); st != 401 || v["ECODE"] != "OAUTH_025" {
		t.Errorf("revoked: %d %v", st, v)
	}
	if s.Requests() == 0 || s.Log()[0].Path != "/api/v2"+path {
		t.Errorf("log: %d requests, first %+v", s.Requests(), s.Log()[0])
	}
}

// TestStandardLibraryOnly: tests anywhere may import the package, so it
// imports nothing but the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	for _, name := range files {
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
