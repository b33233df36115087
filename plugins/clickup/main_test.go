package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

const token = "pk_302438666_TESTTOKEN"

func connection(s *clickuptest.Server, kv ...string) sdk.Connection {
	c := sdk.Connection{ID: "conn-1", Config: map[string]string{"base_url": s.BaseURL()}, Secrets: map[string]string{"token": token}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Config[kv[i]] = kv[i+1]
	}
	return c
}

type run struct {
	records []sdk.Record
	pages   int
	resets  []int // pages (from 1) that said Reset
	cursor  string
}

func (r *run) ids() map[string]int {
	out := map[string]int{}
	for _, rec := range r.records {
		out[rec.ExternalID]++
	}
	return out
}

func (r *run) find(id string) *sdk.Record {
	for i := len(r.records) - 1; i >= 0; i-- {
		if r.records[i].ExternalID == id {
			return &r.records[i]
		}
	}
	return nil
}

// syncPages calls Sync from cursor until HasMore is false, or for at most
// limit pages (0: no limit).
func syncPages(t *testing.T, p *plugintest.Plugin, conn sdk.Connection, cursor string, limit int) *run {
	t.Helper()
	r := &run{cursor: cursor}
	for {
		resp, err := p.Integration.Sync(context.Background(), &sdk.SyncRequest{Connection: conn, Cursor: r.cursor})
		if err != nil {
			t.Fatalf("sync page %d: %v", r.pages+1, err)
		}
		r.pages++
		if resp.Reset {
			r.resets = append(r.resets, r.pages)
		}
		if resp.NextCursor == "" || len(resp.Deletes) > 0 {
			t.Fatalf("page %d: cursor %q, deletes %v", r.pages, resp.NextCursor, resp.Deletes)
		}
		r.records = append(r.records, resp.Upserts...)
		r.cursor = resp.NextCursor
		if !resp.HasMore || (limit > 0 && r.pages == limit) {
			return r
		}
	}
}

// taskQueries returns the team task queries the server received.
func taskQueries(s *clickuptest.Server) []clickuptest.Request {
	var out []clickuptest.Request
	for _, r := range s.Log() {
		if strings.HasPrefix(r.Path, "/api/v2/team/") && strings.HasSuffix(r.Path, "/task") {
			out = append(out, r)
		}
	}
	return out
}

func code(err error) (sdk.Code, time.Duration) {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code, e.RetryAfter
	}
	return "", 0
}

// TestPluginProcess builds the plugin and calls it over gRPC as its own
// process, started the way the host starts plugins, against the local
// ClickUp server.
func TestPluginProcess(t *testing.T) {
	bin := plugintest.Build(t, ".")
	p := plugintest.Start(t, bin)
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{})
		s.AddToken(token)
		s.Seed(clickuptest.SeedOptions{Tasks: 150})
		plugintest.RunIntegration(t, p, conformance.Options{Connection: connection(s), MaxSyncPages: 20})
	})

	t.Run("manifest", func(t *testing.T) {
		m, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := []sdk.RateLimit{{Scope: sdk.ScopeConnection, Requests: 100, Per: time.Minute, Burst: 1}}
		if m.Name != "clickup" || m.Auth.Type != sdk.AuthAPIKey || !m.Has(sdk.CapTasksPull) || !m.Has(sdk.CapTasksPush) ||
			!m.Implements("Sync") || !m.Implements("PushTask") || !slices.Equal(m.RateLimits, want) || m.Validate() != nil {
			t.Errorf("manifest %+v (%v)", m, m.Validate())
		}
		m, err = p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{"client_id": "cid"}}})
		if err != nil {
			t.Fatal(err)
		}
		if o := m.Auth.OAuth2; m.Auth.Type != sdk.AuthOAuth2 || o == nil || o.AuthURL != "https://app.clickup.com/api" ||
			o.TokenURL != "https://api.clickup.com/api/v2/oauth/token" || !o.PKCE {
			t.Errorf("oauth manifest %+v %+v", m.Auth, m.Auth.OAuth2)
		}
		m, err = p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{"client_id": "cid",
			"auth_url": "http://127.0.0.1:9/api", "token_url": "http://127.0.0.1:9/api/v2/oauth/token", "pkce": "false"}}})
		if err != nil {
			t.Fatal(err)
		}
		if o := m.Auth.OAuth2; o.AuthURL != "http://127.0.0.1:9/api" || o.TokenURL != "http://127.0.0.1:9/api/v2/oauth/token" || o.PKCE {
			t.Errorf("configured oauth %+v", o)
		}
		for key, v := range map[string]string{"base_url": "api.clickup.com", "sync_overlap": "soon", "pkce": "maybe", "max_response_bytes": "12"} {
			_, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{key: v}}})
			if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "config."+key) {
				t.Errorf("%s=%q: %v", key, v, err)
			}
		}
	})

	t.Run("full sync of 2000 tasks, then incremental with the overlap", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{})
		s.AddToken(token)
		seeded := s.Seed(clickuptest.SeedOptions{Tasks: 2000, Lists: 4})
		conn := connection(s)
		full := syncPages(t, p, conn, "", 0)
		got := full.ids()
		if len(got) != 2000 || len(full.records) != 2000 {
			t.Fatalf("%d records of %d tasks", len(full.records), len(got))
		}
		for _, id := range seeded.TaskIDs {
			if got[id] != 1 {
				t.Fatalf("task %s came %d times", id, got[id])
			}
		}
		if !slices.Equal(full.resets, []int{1}) {
			t.Errorf("Reset on pages %v, want only the first", full.resets)
		}
		// One request per page: the workspaces, 20 pages of 100, and the
		// catch-up of what changed during the run (nothing).
		qs := taskQueries(s)
		if full.pages != 22 || s.Requests() != 22 || len(qs) != 21 {
			t.Errorf("%d pages, %d requests, %d task queries", full.pages, s.Requests(), len(qs))
		}
		newest, _ := s.Task(seeded.TaskIDs[1999])
		for i, q := range qs {
			if q.Query.Get("order_by") != "updated" || q.Query.Get("include_closed") != "true" || q.Query.Get("subtasks") != "true" {
				t.Fatalf("query %d: %v", i, q.Query)
			}
			wantGT := ""
			if i == 20 {
				wantGT = strconv.FormatInt(newest.DateUpdated, 10) // the catch-up
			}
			if q.Query.Get("page") != strconv.Itoa(i%20) || q.Query.Get("date_updated_gt") != wantGT {
				t.Errorf("query %d: page %s date_updated_gt %q", i, q.Query.Get("page"), q.Query.Get("date_updated_gt"))
			}
		}

		// Changes: one now, one dated a minute before the watermark (a
		// change ClickUp indexed late: inside the overlap), one five
		// minutes before (outside it).
		watermark := newest.DateUpdated
		s.ResetLog()
		changed, _ := s.UpdateTask(seeded.TaskIDs[10], func(tk *clickuptest.Task) { tk.Name = "changed now" })
		late, _ := s.UpdateTask(seeded.TaskIDs[20], func(tk *clickuptest.Task) {
			tk.Name, tk.DateUpdated = "indexed late", watermark-60_000
		})
		_, _ = s.UpdateTask(seeded.TaskIDs[30], func(tk *clickuptest.Task) {
			tk.Name, tk.DateUpdated = "too old to see", watermark-300_000
		})
		inc := syncPages(t, p, conn, full.cursor, 0)
		if len(inc.resets) != 0 {
			t.Errorf("incremental sync said Reset")
		}
		if r := inc.find(changed.ID); r == nil || r.Task.Title != "changed now" || !r.UpdatedAt.Equal(time.UnixMilli(changed.DateUpdated)) {
			t.Errorf("the change: %+v", r)
		}
		if r := inc.find(late.ID); r == nil || r.Task.Title != "indexed late" {
			t.Errorf("the change inside the overlap: %+v", r)
		}
		if inc.find(seeded.TaskIDs[30]) != nil {
			t.Errorf("a change older than the overlap came")
		}
		// The seed dates tasks a second apart: the two minutes of overlap
		// read the 120 newest again, and nothing else.
		if n := len(inc.ids()); n > 122 {
			t.Errorf("incremental sync read %d tasks", n)
		}
		qs = taskQueries(s)
		if len(qs) == 0 || qs[0].Query.Get("date_updated_gt") != strconv.FormatInt(watermark-120_000, 10) {
			t.Fatalf("incremental queries %+v", qs)
		}
		// The watermark moved to the newest change seen.
		s.ResetLog()
		syncPages(t, p, conn, inc.cursor, 0)
		if qs = taskQueries(s); qs[0].Query.Get("date_updated_gt") != strconv.FormatInt(changed.DateUpdated-120_000, 10) {
			t.Errorf("next watermark query %v, want after %d", qs[0].Query, changed.DateUpdated)
		}
	})

	t.Run("a run cut midway continues in a new process and misses nothing", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{})
		s.AddToken(token)
		seeded := s.Seed(clickuptest.SeedOptions{Tasks: 1000})
		conn := connection(s)
		first := syncPages(t, p, conn, "", 4) // the workspaces and 3 pages
		// The oldest task (on the last page) changes meanwhile: it moves
		// to the first page, already read.
		moved, _ := s.UpdateTask(seeded.TaskIDs[0], func(tk *clickuptest.Task) { tk.Name = "moved up" })
		other := plugintest.Start(t, bin) // the first process "crashed"
		rest := syncPages(t, other, conn, first.cursor, 0)
		seen := first.ids()
		for id, n := range rest.ids() {
			seen[id] += n
		}
		if len(seen) != 1000 {
			t.Fatalf("%d tasks seen of 1000", len(seen))
		}
		if r := rest.find(moved.ID); r == nil || r.Task.Title != "moved up" {
			t.Errorf("the task changed during the run was not read again: %+v", r)
		}
		if len(rest.resets) != 0 {
			t.Errorf("the continued run said Reset")
		}
		// The first process, asked again from the same stored cursor, gives
		// the same page (the watermark has not moved).
		a, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: first.cursor})
		if err != nil {
			t.Fatal(err)
		}
		b, err := other.Integration.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: first.cursor})
		if err != nil || a.NextCursor != b.NextCursor || len(a.Upserts) != 100 || a.Upserts[0].ExternalID != b.Upserts[0].ExternalID {
			t.Errorf("same cursor, different pages (%v)", err)
		}
	})

	t.Run("mapping", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{})
		s.AddToken(token)
		s.AddTeam("900", "Team")
		s.AddSpace("900", "901", "Space", []clickuptest.Status{{Name: "backlog", Type: "open"}, {Name: "doing", Type: "custom"},
			{Name: "in review", Type: "custom"}, {Name: "on hold", Type: "custom"}, {Name: "Waiting on client", Type: "custom"},
			{Name: "ready", Type: "done"}, {Name: "shipped", Type: "closed"}})
		s.AddList("901", "902", "Launch", nil)
		due := time.Date(2026, 6, 1, 15, 30, 0, 0, time.UTC)
		yes, no := true, false
		add := func(tk clickuptest.Task) string {
			tk.ListID = "902"
			got, err := s.AddTask(tk)
			if err != nil {
				t.Fatal(err)
			}
			return got.ID
		}
		type want struct {
			status         sdk.TaskStatus
			name, priority string
			due            time.Time
			hasTime        bool
			parent         string
		}
		cases := map[string]want{}
		parent := add(clickuptest.Task{Name: "parent", Status: "backlog", Priority: 1, DueDate: due.UnixMilli(), DueDateTime: &yes, Tags: []string{"a", "b"}, CustomID: "LAU-1"})
		cases[parent] = want{sdk.TaskOpen, "backlog", "urgent", due, true, ""}
		cases[add(clickuptest.Task{Name: "doing", Status: "doing", Priority: 2, DueDate: due.UnixMilli(), DueDateTime: &no, Parent: parent})] = want{sdk.TaskInProgress, "doing", "high", due, false, parent}
		cases[add(clickuptest.Task{Name: "review", Status: "in review", Priority: 3, DueDate: due.UnixMilli()})] = want{sdk.TaskInProgress, "in review", "medium", due, false, ""}
		cases[add(clickuptest.Task{Name: "hold", Status: "on hold", Priority: 4})] = want{sdk.TaskOnHold, "on hold", "low", time.Time{}, false, ""}
		cases[add(clickuptest.Task{Name: "waiting", Status: "Waiting on client"})] = want{sdk.TaskOnHold, "Waiting on client", "", time.Time{}, false, ""}
		cases[add(clickuptest.Task{Name: "ready", Status: "ready"})] = want{sdk.TaskDone, "ready", "", time.Time{}, false, ""}
		cases[add(clickuptest.Task{Name: "shipped", Status: "shipped", Description: "all done"})] = want{sdk.TaskDone, "shipped", "", time.Time{}, false, ""}

		r := syncPages(t, p, connection(s), "", 0)
		if len(r.records) != len(cases) {
			t.Fatalf("%d records, want %d", len(r.records), len(cases))
		}
		for id, w := range cases {
			rec := r.find(id)
			tk := rec.Task
			if tk.Status != w.status || tk.StatusName != w.name || tk.Priority != w.priority || !tk.Due.Equal(w.due) ||
				tk.DueHasTime != w.hasTime || tk.ParentExternalID != w.parent || tk.ListID != "902" || tk.List != "Launch" ||
				rec.URL != "https://app.clickup.com/t/"+id || rec.UpdatedAt.IsZero() || tk.Due.Location() != time.UTC {
				t.Errorf("%s: %+v, want %+v", tk.Title, tk, w)
			}
		}
		if tk := r.find(parent).Task; !slices.Equal(tk.Tags, []string{"a", "b"}) {
			t.Errorf("tags %v", tk.Tags)
		}
		var data map[string]any
		_ = json.Unmarshal(r.find(parent).Data, &data)
		if data["custom_id"] != "LAU-1" || data["team_id"] != "900" || data["status_type"] != "open" {
			t.Errorf("data %v", data)
		}
		for _, rec := range r.records {
			if rec.Task.Title == "shipped" && rec.Task.Description != "all done" {
				t.Errorf("description %q", rec.Task.Description)
			}
		}
		// A custom word list decides what is on hold.
		r = syncPages(t, p, connection(s, "on_hold_words", "client"), "", 0)
		for _, rec := range r.records {
			if (rec.Task.StatusName == "Waiting on client") != (rec.Task.Status == sdk.TaskOnHold) {
				t.Errorf("with on_hold_words=client: %q is %s", rec.Task.StatusName, rec.Task.Status)
			}
		}
	})

	t.Run("push sends only what changed", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{})
		s.AddToken(token)
		s.AddTeam("900", "Team")
		s.AddSpace("900", "901", "Space", []clickuptest.Status{{Name: "backlog", Type: "open"}, {Name: "doing", Type: "custom"},
			{Name: "in review", Type: "custom"}, {Name: "on hold", Type: "custom"}, {Name: "shipped", Type: "closed"}})
		s.AddList("901", "902", "Launch", nil)
		tk, _ := s.AddTask(clickuptest.Task{ListID: "902", Name: "Write the plan", Status: "in review", Priority: 3})
		conn := connection(s)
		push := func(fields []sdk.TaskField, task sdk.Task) (*sdk.PushTaskResponse, []clickuptest.Request) {
			t.Helper()
			s.ResetLog()
			resp, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushUpdate,
				ExternalID: tk.ID, Task: task, Fields: fields})
			if err != nil {
				t.Fatal(err)
			}
			return resp, s.Log()
		}
		base := sdk.Task{Title: "Write the plan", Status: sdk.TaskInProgress, StatusName: "in review", ListID: "902", Priority: "medium"}
		lastBody := func(log []clickuptest.Request) map[string]any {
			t.Helper()
			r := log[len(log)-1]
			if r.Method != http.MethodPut {
				t.Fatalf("last request %s %s", r.Method, r.Path)
			}
			var v map[string]any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatal(err)
			}
			return v
		}

		task := base
		task.Title = "Write the launch plan"
		resp, log := push([]sdk.TaskField{sdk.FieldTitle}, task)
		now, _ := s.Task(tk.ID)
		if b := lastBody(log); len(log) != 1 || len(b) != 1 || b["name"] != "Write the launch plan" {
			t.Errorf("title push sent %v in %d requests", b, len(log))
		}
		if resp.ExternalID != tk.ID || !resp.UpdatedAt.Equal(time.UnixMilli(now.DateUpdated)) || resp.URL != "https://app.clickup.com/t/"+tk.ID ||
			now.Name != "Write the launch plan" || now.Status != "in review" {
			t.Errorf("response %+v, task %+v", resp, now)
		}

		// In progress, and "in review" already means that: nothing is sent.
		resp, log = push([]sdk.TaskField{sdk.FieldStatus}, base)
		for _, r := range log {
			if r.Method != http.MethodGet {
				t.Errorf("a status push of the same meaning sent %s %s", r.Method, r.Path)
			}
		}
		if now, _ = s.Task(tk.ID); now.Status != "in review" || !resp.UpdatedAt.IsZero() {
			t.Errorf("status flattened to %q (%+v)", now.Status, resp)
		}

		task = base
		task.Status = sdk.TaskOnHold
		_, log = push([]sdk.TaskField{sdk.FieldStatus}, task)
		if b := lastBody(log); len(b) != 1 || b["status"] != "on hold" || len(log) != 1 {
			t.Errorf("on hold sent %v in %d requests (statuses cached)", b, len(log))
		}
		task = base
		task.Status, task.StatusName = sdk.TaskDone, "on hold"
		_, log = push([]sdk.TaskField{sdk.FieldStatus}, task)
		if b := lastBody(log); b["status"] != "shipped" {
			t.Errorf("done sent %v", b)
		}
		if now, _ = s.Task(tk.ID); now.DateClosed == 0 {
			t.Errorf("the task is not closed: %+v", now)
		}
		// No list known: ClickUp is asked for the task first.
		task = base
		task.Status, task.StatusName, task.ListID = sdk.TaskOpen, "", ""
		_, log = push([]sdk.TaskField{sdk.FieldStatus}, task)
		if log[0].Method != http.MethodGet || log[0].Path != "/api/v2/task/"+tk.ID || lastBody(log)["status"] != "backlog" {
			t.Errorf("status without a list: %+v", log)
		}

		task = base
		task.Due, task.DueHasTime, task.Priority = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC), true, "urgent"
		_, log = push([]sdk.TaskField{sdk.FieldDue, sdk.FieldPriority}, task)
		b := lastBody(log)
		if len(b) != 3 || b["due_date"] != float64(task.Due.UnixMilli()) || b["due_date_time"] != true || b["priority"] != float64(1) {
			t.Errorf("due and priority sent %v", b)
		}
		task.Due, task.Priority, task.Description = time.Time{}, "", ""
		_, log = push([]sdk.TaskField{sdk.FieldDue, sdk.FieldPriority, sdk.FieldDescription}, task)
		b = lastBody(log)
		if v, ok := b["due_date"]; len(b) != 3 || !ok || v != nil || b["priority"] != nil || b["description"] != " " {
			t.Errorf("clearing sent %v", b)
		}
		if now, _ = s.Task(tk.ID); now.DueDate != 0 || now.Priority != 0 {
			t.Errorf("not cleared: %+v", now)
		}

		// Create, with a status of a meaning the list has.
		s.ResetLog()
		created, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushCreate,
			Task: sdk.Task{Title: "New from Consilium", Description: "d", Status: sdk.TaskOnHold, ListID: "902", Priority: "high",
				Due: time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC), ParentExternalID: tk.ID}})
		if err != nil {
			t.Fatal(err)
		}
		nt, ok := s.Task(created.ExternalID)
		if !ok || nt.Name != "New from Consilium" || nt.Status != "on hold" || nt.Priority != 2 || nt.Parent != tk.ID ||
			nt.DueDateTime == nil || *nt.DueDateTime || !created.UpdatedAt.Equal(time.UnixMilli(nt.DateUpdated)) {
			t.Errorf("created %+v from %+v", nt, created)
		}
		_, err = p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushCreate, Task: sdk.Task{Title: "nowhere"}})
		if c, _ := code(err); c != sdk.CodeInvalidConfig {
			t.Errorf("create without a list: %v", err)
		}
		dconn := connection(s, "default_list_id", "902")
		if _, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: dconn, Action: sdk.PushCreate, Task: sdk.Task{Title: "default list"}}); err != nil {
			t.Errorf("create in config.default_list_id: %v", err)
		}

		// Delete, twice.
		for range 2 {
			if _, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushDelete, ExternalID: created.ExternalID}); err != nil {
				t.Errorf("delete: %v", err)
			}
		}
		if _, ok := s.Task(created.ExternalID); ok {
			t.Error("the task is still there")
		}
		_, err = p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushUpdate, ExternalID: "gone",
			Task: sdk.Task{Title: "x"}, Fields: []sdk.TaskField{sdk.FieldTitle}})
		if c, _ := code(err); c != sdk.CodeNotFound {
			t.Errorf("update of a missing task: %v", err)
		}
	})

	t.Run("errors are typed", func(t *testing.T) {
		now := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
		s := clickuptest.Start(t, clickuptest.Options{Now: func() time.Time { return now }})
		s.AddToken(token)
		s.Seed(clickuptest.SeedOptions{Tasks: 300})
		conn := connection(s)
		syncErr := func(c sdk.Connection) error {
			t.Helper()
			_, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: c})
			return err
		}
		s.Storm(1, 37*time.Second)
		if c, wait := code(syncErr(conn)); c != sdk.CodeRateLimited || wait != 37*time.Second {
			t.Errorf("429 with X-RateLimit-Reset: %s after %s", c, wait)
		}
		s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "12")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		})
		if c, wait := code(syncErr(conn)); c != sdk.CodeRateLimited || wait != 12*time.Second {
			t.Errorf("429 with Retry-After: %s after %s", c, wait)
		}
		s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		})
		if c, wait := code(syncErr(conn)); c != sdk.CodeRateLimited || wait != time.Minute {
			t.Errorf("429 naming no wait: %s after %s", c, wait)
		}
		// ClickUp's "Team not authorized" on a task is that task out of
		// reach, not the token refused.
		s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"err":"Team not authorized","ECODE":"OAUTH_027"}`))
			return true
		})
		_, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushUpdate, ExternalID: "x",
			Task: sdk.Task{Title: "t"}, Fields: []sdk.TaskField{sdk.FieldTitle}})
		if c, _ := code(err); c != sdk.CodeNotFound {
			t.Errorf("OAUTH_027 on a task: %v", err)
		}
		if c, _ := code(syncErr(conn)); c != sdk.CodeNeedsReauth {
			t.Errorf("OAUTH_027 on the workspaces: %s", c)
		}
		s.Intercept(nil)

		s.Fail(1, 500)
		if c, _ := code(syncErr(conn)); c != sdk.CodeTemporary {
			t.Errorf("500: %s", c)
		}
		s.Fail(1, 403)
		if c, _ := code(syncErr(conn)); c != sdk.CodeInvalidConfig {
			t.Errorf("403: %s", c)
		}
		s.Garbage(1)
		if err := syncErr(conn); !errors.Is(err, sdk.ErrTemporary) || !strings.Contains(err.Error(), "not the JSON expected") {
			t.Errorf("garbage: %v", err)
		}
		big := connection(s, "max_response_bytes", "4096")
		first, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: big})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: big, Cursor: first.NextCursor})
		if c, _ := code(err); c != sdk.CodePermanent || !strings.Contains(err.Error(), "more than 4096 bytes") {
			t.Errorf("a page over the cap: %v", err)
		}
		if c, _ := code(syncErr(sdk.Connection{Config: conn.Config})); c != sdk.CodeNeedsReauth {
			t.Errorf("no token: %s", c)
		}
		if c, _ := code(syncErr(connection(s, "teams", "12345"))); c != sdk.CodeInvalidConfig {
			t.Errorf("a workspace the token does not see: %s", c)
		}
		s.RevokeToken(token)
		err = syncErr(conn)
		if c, _ := code(err); c != sdk.CodeNeedsReauth || !strings.Contains(err.Error(), "OAUTH_025") {
			t.Errorf("revoked token: %v", err)
		}
		s.ResetLog()
		s.AddToken(token)
		s.SetRateLimit(3)
		_, err = p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: syncPages(t, p, conn, "", 3).cursor})
		if c, wait := code(err); c != sdk.CodeRateLimited || wait != time.Minute {
			t.Errorf("the server's own limit: %s after %s", c, wait)
		}
	})

	t.Run("oauth with PKCE and refresh", func(t *testing.T) {
		s := clickuptest.Start(t, clickuptest.Options{TokenLifetime: time.Hour})
		s.AddClient("cid", "csecret")
		s.Seed(clickuptest.SeedOptions{Tasks: 5})
		m, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{
			"client_id": "cid", "auth_url": s.AuthURL(), "token_url": s.TokenURL()}}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", RedirectURL: "https://consilium.example/api/external/callback/clickup",
			Endpoint: oauth2.Endpoint{AuthURL: m.Auth.OAuth2.AuthURL, TokenURL: m.Auth.OAuth2.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		consent := func(verifier string) string {
			t.Helper()
			resp, err := noRedirect.Get(cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "state-1" ||
				!strings.HasPrefix(loc.String(), cfg.RedirectURL) {
				t.Fatalf("consent: %d %s", resp.StatusCode, loc)
			}
			return loc.Query().Get("code")
		}
		octx := context.WithValue(ctx, oauth2.HTTPClient, http.DefaultClient)
		verifier := oauth2.GenerateVerifier()
		_, err = cfg.Exchange(octx, consent(verifier), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("a wrong verifier: %v", err)
		}
		code1 := consent(verifier)
		tok, err := cfg.Exchange(octx, code1, oauth2.VerifierOption(verifier))
		if err != nil || tok.RefreshToken == "" || tok.Expiry.IsZero() {
			t.Fatalf("exchange: %+v %v", tok, err)
		}
		if _, err := cfg.Exchange(octx, code1, oauth2.VerifierOption(verifier)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("a code used twice: %v", err)
		}
		oconn := func(tk *oauth2.Token) sdk.Connection {
			return sdk.Connection{ID: "c", Config: map[string]string{"base_url": s.BaseURL()},
				Token: &sdk.Token{AccessToken: tk.AccessToken, TokenType: tk.TokenType, Expiry: tk.Expiry}}
		}
		if r := syncPages(t, p, oconn(tok), "", 0); len(r.records) != 5 {
			t.Errorf("sync with the OAuth token: %d records", len(r.records))
		}
		if auth := s.Log()[len(s.Log())-1].Authorization; auth != "Bearer "+tok.AccessToken {
			t.Errorf("Authorization %q", auth)
		}

		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		fresh, err := cfg.TokenSource(octx, &expired).Token()
		if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: %+v %v", fresh, err)
		}
		if _, err := cfg.TokenSource(octx, &expired).Token(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("a refresh token used twice: %v", err)
		}
		if c, _ := code(func() error { _, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: oconn(tok)}); return err }()); c != sdk.CodeNeedsReauth {
			t.Errorf("the access token replaced by the refresh: %s", c)
		}
		if r := syncPages(t, p, oconn(fresh), "", 0); len(r.records) != 5 {
			t.Errorf("sync with the refreshed token: %d records", len(r.records))
		}
	})
}

// BenchmarkFullSync measures a first sync of 10,000 tasks through the plugin
// process against the local server (its rate limit off): records per second
// over the gRPC boundary, ClickUp's JSON decoding and mapping included.
//
//	go test ./plugins/clickup -run '^$' -bench FullSync -benchtime 3x
func BenchmarkFullSync(b *testing.B) {
	p := plugintest.Start(b, plugintest.Build(b, "."))
	s := clickuptest.Start(b, clickuptest.Options{})
	s.AddToken(token)
	s.Seed(clickuptest.SeedOptions{Tasks: 10_000, Lists: 10})
	conn := connection(s)
	b.ResetTimer()
	records := 0
	for range b.N {
		cursor := ""
		for {
			resp, err := p.Integration.Sync(context.Background(), &sdk.SyncRequest{Connection: conn, Cursor: cursor})
			if err != nil {
				b.Fatal(err)
			}
			records += len(resp.Upserts)
			cursor = resp.NextCursor
			if !resp.HasMore {
				break
			}
		}
	}
	if records != 10_000*b.N {
		b.Fatalf("%d records", records)
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "tasks/s")
}
