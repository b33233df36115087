// Package clickuptest is a local server that speaks ClickUp's API v2 for
// tests: the paths, parameters and JSON shapes of ClickUp's OpenAPI spec and
// of its recorded answers (../shared/fixtures/clickup), over a real socket.
//
// It keeps workspaces (teams), spaces with their statuses (custom ones
// included), folderless lists and tasks in memory, and serves:
//
//	GET    /api                          OAuth consent (approves at once: 302 to redirect_uri?code&state)
//	POST   /api/v2/oauth/token           code exchange (PKCE checked when the consent had a challenge) and refresh_token
//	GET    /api/v2/user                  the token's user
//	GET    /api/v2/team                  the token's workspaces
//	GET    /api/v2/team/{team_id}/space  spaces with statuses
//	GET    /api/v2/space/{space_id}/list folderless lists
//	GET    /api/v2/list/{list_id}        a list with its statuses
//	GET    /api/v2/list/{list_id}/task   a list's tasks (pages of 100)
//	POST   /api/v2/list/{list_id}/task   create a task
//	GET    /api/v2/team/{team_id}/task   the workspace-level task query (pages of 100, last_page)
//	GET    /api/v2/task/{task_id}        a task
//	PUT    /api/v2/task/{task_id}        update a task (only the fields sent)
//	DELETE /api/v2/task/{task_id}        delete a task (204)
//
// The task query honours page, order_by (created, updated, id, due_date;
// newest first as ClickUp answers, reverse=true for oldest first),
// include_closed, subtasks, archived, date_updated_gt/lt, date_created_gt/lt,
// list_ids[] and statuses[]. Personal tokens (AddToken) go in the
// Authorization header as they are, OAuth access tokens as "Bearer ...";
// errors are ClickUp's {"err", "ECODE"} (401 OAUTH_025 for an unknown or
// revoked token, 401 OAUTH_027 for a workspace the token may not see).
//
// Knobs for faults: Storm (429s with X-RateLimit-Reset), Fail (500s or any
// status), Outage and Heal (statuses in turn, 429s included, for as long
// as a test likes), Garbage (200 with a body that is not JSON), RevokeToken,
// SetRateLimit (ClickUp's 100 requests per minute per token, on or off), and
// Intercept for anything else. Requests counts and Log records every request.
// Seed fills a workspace with N tasks across lists.
//
// Dates the server gives (date_updated, date_created, ...) are Unix
// milliseconds from Options.Now, strictly increasing: two changes never share
// a date_updated.
//
// The package imports only the standard library so that tests anywhere in
// the repository can use it.
package clickuptest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
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

// PageSize is how many tasks a page of the task queries holds.
const PageSize = 100

// Options configure a Server.
type Options struct {
	// RateLimit is how many API requests each token may make per Window
	// (ClickUp's is 100 per minute); 0 turns the limit off. SetRateLimit
	// changes it later.
	RateLimit int
	// Window of the rate limit (default one minute).
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// TokenLifetime makes OAuth access tokens expire (expires_in) after it;
	// 0: they do not expire (as ClickUp's do not).
	TokenLifetime time.Duration
	// OnToken, when set, is told every OAuth access and refresh token the
	// server issues (kind "oauth_access_token" or "oauth_refresh_token"),
	// so that a test can check none of them reaches a log.
	OnToken func(kind, token string)
}

// Status is one status of a space or list. Type is open, custom, done or
// closed.
type Status struct {
	Name  string
	Type  string
	Color string
}

// DefaultStatuses are a new space's statuses in ClickUp.
var DefaultStatuses = []Status{{"to do", "open", "#87909e"}, {"in progress", "custom", "#1090e0"}, {"complete", "closed", "#008844"}}

// SeedStatuses are the statuses of the space Seed creates: every type, and
// custom statuses that mean in progress, waiting and in review.
var SeedStatuses = []Status{{"to do", "open", "#87909e"}, {"in progress", "custom", "#1090e0"},
	{"in review", "custom", "#f8ae00"}, {"blocked", "custom", "#e50000"}, {"done", "done", "#6bc950"},
	{"complete", "closed", "#008844"}}

// Team is a workspace.
type Team struct{ ID, Name string }

// Space belongs to a team and holds the statuses of its lists.
type Space struct {
	ID, Name, TeamID string
	Statuses         []Status
}

// List holds tasks. Nil Statuses: the space's.
type List struct {
	ID, Name, SpaceID string
	Statuses          []Status
}

// Task is a task as the server keeps it. Dates are Unix milliseconds, 0 when
// unset.
type Task struct {
	ID          string
	CustomID    string
	Name        string
	Description string
	// Status is the name of one of the list's statuses.
	Status string
	ListID string
	Parent string
	// Priority: 0 none, 1 urgent, 2 high, 3 normal, 4 low.
	Priority int
	DueDate  int64
	// DueDateTime, when set, is answered as due_date_time (ClickUp's own
	// task answers in the fixtures carry no due_date_time).
	DueDateTime *bool
	Tags        []string
	DateCreated int64
	DateUpdated int64
	DateClosed  int64
	DateDone    int64
	Archived    bool
}

func (t *Task) clone() Task {
	c := *t
	c.Tags = append([]string(nil), t.Tags...)
	if t.DueDateTime != nil {
		v := *t.DueDateTime
		c.DueDateTime = &v
	}
	return c
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Header Authorization, as sent.
	Authorization string
	Body          []byte
	// Status answered.
	Status int
}

type token struct {
	teams   []string // nil: every team
	revoked bool
	expires time.Time
	oauth   bool
}

type authCode struct {
	client, redirect, challenge, method string
}

type window struct {
	start time.Time
	count int
}

// Server is a running local ClickUp.
type Server struct {
	// URL is the root, such as http://127.0.0.1:43121.
	URL string
	hs  *httptest.Server
	o   Options

	mu         sync.Mutex
	teams      []*Team
	spaces     map[string]*Space
	spaceOrder []string
	lists      map[string]*List
	listOrder  []string
	tasks      map[string]*Task
	tokens     map[string]*token
	clients    map[string]string
	codes      map[string]*authCode
	refresh    map[string]string
	lastMS     int64
	nextID     int64
	rateLimit  int
	windows    map[string]*window
	failStatus int
	failN      int
	stormN     int
	stormReset time.Duration
	garbageN   int
	outage     []int // statuses answered in turn until Heal
	outageN    int
	intercept  func(w http.ResponseWriter, r *http.Request) bool
	log        []Request
}

// New starts a server; Close stops it.
func New(o Options) *Server {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, spaces: map[string]*Space{}, lists: map[string]*List{}, tasks: map[string]*Task{},
		tokens: map[string]*token{}, clients: map[string]string{}, codes: map[string]*authCode{},
		refresh: map[string]string{}, windows: map[string]*window{}, rateLimit: o.RateLimit, nextID: 1}
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
func (s *Server) BaseURL() string { return s.URL + "/api/v2" }

// AuthURL is the OAuth consent page (config.auth_url).
func (s *Server) AuthURL() string { return s.URL + "/api" }

// TokenURL is the OAuth token endpoint (config.token_url).
func (s *Server) TokenURL() string { return s.URL + "/api/v2/oauth/token" }

// ---- data ----

// AddTeam adds a workspace.
func (s *Server) AddTeam(id, name string) Team {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &Team{ID: id, Name: name}
	s.teams = append(s.teams, t)
	return *t
}

// AddSpace adds a space to a team; nil statuses: DefaultStatuses.
func (s *Server) AddSpace(teamID, id, name string, statuses []Status) Space {
	s.mu.Lock()
	defer s.mu.Unlock()
	if statuses == nil {
		statuses = DefaultStatuses
	}
	sp := &Space{ID: id, Name: name, TeamID: teamID, Statuses: append([]Status(nil), statuses...)}
	s.spaces[id] = sp
	s.spaceOrder = append(s.spaceOrder, id)
	return *sp
}

// AddList adds a folderless list to a space; nil statuses: the space's.
func (s *Server) AddList(spaceID, id, name string, statuses []Status) List {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &List{ID: id, Name: name, SpaceID: spaceID, Statuses: append([]Status(nil), statuses...)}
	s.lists[id] = l
	s.listOrder = append(s.listOrder, id)
	return *l
}

// AddTask adds a task. An empty ID is assigned, an empty Status is the
// list's first, zero dates are now.
func (s *Server) AddTask(t Task) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[t.ListID]
	if l == nil {
		return Task{}, fmt.Errorf("clickuptest: no list %q", t.ListID)
	}
	if t.ID == "" {
		t.ID = s.newTaskID()
	}
	if _, dup := s.tasks[t.ID]; dup {
		return Task{}, fmt.Errorf("clickuptest: task %q exists", t.ID)
	}
	if t.Status == "" {
		t.Status = s.statusesOf(l)[0].Name
	}
	st, ok := s.findStatus(l, t.Status)
	if !ok {
		return Task{}, fmt.Errorf("clickuptest: list %s has no status %q", l.ID, t.Status)
	}
	t.Status = st.Name
	if t.DateUpdated == 0 {
		t.DateUpdated = s.tick()
	} else if t.DateUpdated > s.lastMS {
		s.lastMS = t.DateUpdated
	}
	if t.DateCreated == 0 {
		t.DateCreated = t.DateUpdated
	}
	s.closeDates(&t, st, t.DateUpdated)
	c := t.clone()
	s.tasks[t.ID] = &c
	return t, nil
}

// UpdateTask changes a task with fn. date_updated becomes now unless fn
// set it; date_closed and date_done follow the status.
func (s *Server) UpdateTask(id string, fn func(*Task)) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil {
		return Task{}, fmt.Errorf("clickuptest: no task %q", id)
	}
	before := t.DateUpdated
	fn(t)
	if st, ok := s.findStatus(s.lists[t.ListID], t.Status); ok {
		t.Status = st.Name
		if t.DateUpdated == before {
			t.DateUpdated = s.tick()
		} else if t.DateUpdated > s.lastMS {
			s.lastMS = t.DateUpdated
		}
		s.closeDates(t, st, t.DateUpdated)
	} else {
		return Task{}, fmt.Errorf("clickuptest: list %s has no status %q", t.ListID, t.Status)
	}
	return t.clone(), nil
}

// DeleteTask deletes a task (and reports whether it existed).
func (s *Server) DeleteTask(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tasks[id]
	delete(s.tasks, id)
	return ok
}

// Task returns a task.
func (s *Server) Task(id string) (Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	if t == nil {
		return Task{}, false
	}
	return t.clone(), true
}

// Tasks returns every task, by id.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, 0, len(s.tasks))
	for _, t := range s.tasks {
		out = append(out, t.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Statuses returns a list's statuses (its own or its space's).
func (s *Server) Statuses(listID string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.lists[listID]; l != nil {
		return append([]Status(nil), s.statusesOf(l)...)
	}
	return nil
}

// SeedOptions say what Seed creates.
type SeedOptions struct {
	// TeamID of the workspace (default "9015000001"); created when missing,
	// with a space of SeedStatuses.
	TeamID string
	// Lists to spread the tasks over (default 3).
	Lists int
	// Tasks to create.
	Tasks int
	// Start is the date_created and date_updated of the first task; each
	// next one is a second later. Default: Tasks+1 seconds before now.
	Start time.Time
}

// Seeded is what Seed created.
type Seeded struct {
	Team    Team
	Space   Space
	Lists   []List
	TaskIDs []string
}

// Seed creates a workspace (when missing), a space and lists, and N tasks
// across the lists round robin: statuses cycle over the space's (so a sixth
// are closed), priorities over none..low, two tasks in three have a due date
// (one of them with a time), and every tenth task is a subtask of the task
// Lists places before it (same list).
func (s *Server) Seed(o SeedOptions) Seeded {
	if o.TeamID == "" {
		o.TeamID = "9015000001"
	}
	if o.Lists <= 0 {
		o.Lists = 3
	}
	if o.Start.IsZero() {
		o.Start = s.o.Now().Add(-time.Duration(o.Tasks+1) * time.Second)
	}
	var out Seeded
	s.mu.Lock()
	var team *Team
	for _, t := range s.teams {
		if t.ID == o.TeamID {
			team = t
		}
	}
	s.mu.Unlock()
	if team == nil {
		out.Team = s.AddTeam(o.TeamID, "Workspace "+o.TeamID)
	} else {
		out.Team = *team
	}
	s.mu.Lock()
	n := s.nextID
	s.nextID++
	s.mu.Unlock()
	out.Space = s.AddSpace(out.Team.ID, fmt.Sprintf("9016%08d", n), fmt.Sprintf("Space %d", n), SeedStatuses)
	for i := range o.Lists {
		out.Lists = append(out.Lists, s.AddList(out.Space.ID, fmt.Sprintf("9017%04d%04d", n, i), fmt.Sprintf("List %d.%d", n, i+1), nil))
	}
	yes, no := true, false
	for i := range o.Tasks {
		at := o.Start.Add(time.Duration(i) * time.Second).UnixMilli()
		t := Task{Name: fmt.Sprintf("Task %d.%04d", n, i+1), Description: fmt.Sprintf("Seeded task %d", i+1),
			ListID: out.Lists[i%o.Lists].ID, Status: SeedStatuses[i%len(SeedStatuses)].Name, Priority: i % 5,
			DateCreated: at, DateUpdated: at}
		switch i % 3 {
		case 1:
			t.DueDate, t.DueDateTime = at+int64(i%30)*86400000, &yes
		case 2:
			t.DueDate, t.DueDateTime = at+int64(i%30)*86400000, &no
		}
		if i%10 == 9 && i >= o.Lists {
			t.Parent = out.TaskIDs[i-o.Lists]
		}
		if i%4 == 0 {
			t.Tags = []string{"seed"}
		}
		added, err := s.AddTask(t)
		if err != nil {
			panic(err) // the seed's own data
		}
		out.TaskIDs = append(out.TaskIDs, added.ID)
	}
	return out
}

// ---- tokens and knobs ----

// AddToken accepts a personal token (sent as it is, like ClickUp's pk_...)
// for the given teams (none: every team).
func (s *Server) AddToken(tok string, teamIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{teams: teamIDs}
}

// RevokeToken makes a token (personal or OAuth) answer 401 from now on.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[tok]; t != nil {
		t.revoked = true
	}
}

// AddClient registers an OAuth app.
func (s *Server) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// SetRateLimit sets the requests each token may make per window; 0 turns
// the limit off. Counting starts afresh.
func (s *Server) SetRateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = n
	s.windows = map[string]*window{}
}

// Storm makes the next n API requests answer 429 with X-RateLimit-Reset
// (Unix seconds) reset from now, whole seconds.
func (s *Server) Storm(n int, reset time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stormN, s.stormReset = n, reset
}

// Fail makes the next n API requests answer status with a ClickUp error.
func (s *Server) Fail(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// Outage makes every API request answer the statuses in turn until Heal:
// a 429 as Storm does (X-RateLimit-Reset two seconds ahead), any other status
// with a ClickUp error. Outage(500, 429) is an API that is down and
// throttling for as long as the test keeps it so.
func (s *Server) Outage(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage, s.outageN = append([]int(nil), statuses...), 0
}

// Heal ends an Outage.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = nil
}

// Garbage makes the next n API requests answer 200 with a body that is not
// JSON.
func (s *Server) Garbage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.garbageN = n
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
	case r.URL.Path == "/api" && r.Method == http.MethodGet:
		s.authorize(rec, r)
		return
	case r.URL.Path == "/api/v2/oauth/token" && r.Method == http.MethodPost:
		s.token(rec, r)
		return
	case !strings.HasPrefix(r.URL.Path, "/api/v2/"):
		clickupError(rec, http.StatusNotFound, "Route not found", "APP_001")
		return
	}
	s.api(rec, r)
}

func clickupError(w http.ResponseWriter, status int, msg, code string) {
	writeJSON(w, status, map[string]string{"err": msg, "ECODE": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// api answers an API request: knobs, token, rate limit, then the route.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	now := s.o.Now()
	s.mu.Lock()
	storm := s.stormN > 0
	reset := now.Truncate(time.Second).Add(s.stormReset)
	if len(s.outage) > 0 {
		st := s.outage[s.outageN%len(s.outage)]
		s.outageN++
		if st != http.StatusTooManyRequests {
			s.mu.Unlock()
			clickupError(w, st, "Internal Server Error", "SRV_001")
			return
		}
		// Two seconds ahead, whole: always in the future, however late in
		// its second the request came.
		storm, reset = true, now.Truncate(time.Second).Add(2*time.Second)
	} else if storm {
		s.stormN--
	}
	switch {
	case storm:
		s.mu.Unlock()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-RateLimit-Limit", "100")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		clickupError(w, http.StatusTooManyRequests, "Rate limit reached", "APP_002")
		return
	case s.failN > 0:
		s.failN--
		st := s.failStatus
		s.mu.Unlock()
		clickupError(w, st, "Internal Server Error", "SRV_001")
		return
	case s.garbageN > 0:
		s.garbageN--
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
		return
	}
	raw := strings.TrimSpace(r.Header.Get("Authorization"))
	if raw == "" {
		s.mu.Unlock()
		clickupError(w, http.StatusBadRequest, "Authorization header required", "OAUTH_017")
		return
	}
	value := raw
	if v, ok := strings.CutPrefix(raw, "Bearer "); ok {
		value = strings.TrimSpace(v)
	}
	tok := s.tokens[value]
	switch {
	case tok == nil || tok.revoked:
		s.mu.Unlock()
		clickupError(w, http.StatusUnauthorized, "Token invalid", "OAUTH_025")
		return
	case !tok.expires.IsZero() && !now.Before(tok.expires):
		s.mu.Unlock()
		clickupError(w, http.StatusUnauthorized, "Token expired", "OAUTH_025")
		return
	}
	if s.rateLimit > 0 {
		win := s.windows[value]
		if win == nil || !now.Before(win.start.Add(s.o.Window)) {
			win = &window{start: now}
			s.windows[value] = win
		}
		win.count++
		reset := win.start.Add(s.o.Window)
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, s.rateLimit-win.count)))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixMilli())/1000)), 10))
		if win.count > s.rateLimit {
			s.mu.Unlock()
			w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
			clickupError(w, http.StatusTooManyRequests, "Rate limit reached", "APP_002")
			return
		}
	}
	defer s.mu.Unlock()
	s.route(w, r, tok)
}

// route answers under s.mu.
func (s *Server) route(w http.ResponseWriter, r *http.Request, tok *token) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v2/"), "/"), "/")
	m := r.Method
	switch {
	case len(parts) == 1 && parts[0] == "user" && m == http.MethodGet:
		writeJSON(w, 200, map[string]any{"user": userJSON()})
	case len(parts) == 1 && parts[0] == "team" && m == http.MethodGet:
		teams := []any{}
		for _, t := range s.teams {
			if tok.sees(t.ID) {
				teams = append(teams, map[string]any{"id": t.ID, "name": t.Name, "color": "#40BC86", "avatar": nil,
					"members": []any{map[string]any{"user": userJSON()}}})
			}
		}
		writeJSON(w, 200, map[string]any{"teams": teams})
	case len(parts) == 3 && parts[0] == "team" && parts[2] == "space" && m == http.MethodGet:
		if !s.teamVisible(w, tok, parts[1]) {
			return
		}
		spaces := []any{}
		for _, id := range s.spaceOrder {
			if sp := s.spaces[id]; sp.TeamID == parts[1] {
				spaces = append(spaces, s.spaceJSON(sp))
			}
		}
		writeJSON(w, 200, map[string]any{"spaces": spaces})
	case len(parts) == 3 && parts[0] == "space" && parts[2] == "list" && m == http.MethodGet:
		sp := s.spaces[parts[1]]
		if sp == nil || !tok.sees(sp.TeamID) {
			clickupError(w, http.StatusUnauthorized, "Team not authorized", "OAUTH_027")
			return
		}
		lists := []any{}
		for _, id := range s.listOrder {
			if l := s.lists[id]; l.SpaceID == sp.ID {
				lists = append(lists, s.listJSON(l, false))
			}
		}
		writeJSON(w, 200, map[string]any{"lists": lists})
	case len(parts) == 2 && parts[0] == "list" && m == http.MethodGet:
		l := s.visibleList(w, tok, parts[1])
		if l != nil {
			writeJSON(w, 200, s.listJSON(l, true))
		}
	case len(parts) == 3 && parts[0] == "list" && parts[2] == "task" && m == http.MethodGet:
		if l := s.visibleList(w, tok, parts[1]); l != nil {
			s.query(w, r, func(t *Task) bool { return t.ListID == l.ID })
		}
	case len(parts) == 3 && parts[0] == "list" && parts[2] == "task" && m == http.MethodPost:
		if l := s.visibleList(w, tok, parts[1]); l != nil {
			s.create(w, r, l)
		}
	case len(parts) == 3 && parts[0] == "team" && parts[2] == "task" && m == http.MethodGet:
		if !s.teamVisible(w, tok, parts[1]) {
			return
		}
		s.query(w, r, func(t *Task) bool { return s.teamOf(t) == parts[1] })
	case len(parts) == 2 && parts[0] == "task":
		t := s.tasks[parts[1]]
		if t == nil || !tok.sees(s.teamOf(t)) {
			clickupError(w, http.StatusNotFound, "Task not found, deleted", "ITEM_013")
			return
		}
		switch m {
		case http.MethodGet:
			writeJSON(w, 200, s.taskJSON(t))
		case http.MethodPut:
			s.update(w, r, t)
		case http.MethodDelete:
			delete(s.tasks, t.ID)
			w.WriteHeader(http.StatusNoContent)
		default:
			clickupError(w, http.StatusNotFound, "Route not found", "APP_001")
		}
	default:
		clickupError(w, http.StatusNotFound, "Route not found", "APP_001")
	}
}

func (t *token) sees(teamID string) bool {
	if t.teams == nil {
		return true
	}
	for _, id := range t.teams {
		if id == teamID {
			return true
		}
	}
	return false
}

func (s *Server) teamVisible(w http.ResponseWriter, tok *token, teamID string) bool {
	for _, t := range s.teams {
		if t.ID == teamID && tok.sees(teamID) {
			return true
		}
	}
	clickupError(w, http.StatusUnauthorized, "Team not authorized", "OAUTH_027")
	return false
}

func (s *Server) visibleList(w http.ResponseWriter, tok *token, id string) *List {
	l := s.lists[id]
	if l == nil {
		clickupError(w, http.StatusNotFound, "List not found", "ITEM_013")
		return nil
	}
	if sp := s.spaces[l.SpaceID]; sp == nil || !tok.sees(sp.TeamID) {
		clickupError(w, http.StatusUnauthorized, "Team not authorized", "OAUTH_027")
		return nil
	}
	return l
}

func (s *Server) teamOf(t *Task) string {
	if l := s.lists[t.ListID]; l != nil {
		if sp := s.spaces[l.SpaceID]; sp != nil {
			return sp.TeamID
		}
	}
	return ""
}

func (s *Server) statusesOf(l *List) []Status {
	if l.Statuses != nil {
		return l.Statuses
	}
	if sp := s.spaces[l.SpaceID]; sp != nil {
		return sp.Statuses
	}
	return DefaultStatuses
}

func (s *Server) findStatus(l *List, name string) (Status, bool) {
	if l == nil {
		return Status{}, false
	}
	for _, st := range s.statusesOf(l) {
		if strings.EqualFold(st.Name, name) {
			return st, true
		}
	}
	return Status{}, false
}

func (s *Server) closeDates(t *Task, st Status, at int64) {
	switch st.Type {
	case "closed":
		if t.DateClosed == 0 {
			t.DateClosed = at
		}
		if t.DateDone == 0 {
			t.DateDone = at
		}
	case "done":
		t.DateClosed = 0
		if t.DateDone == 0 {
			t.DateDone = at
		}
	default:
		t.DateClosed, t.DateDone = 0, 0
	}
}

// tick is now in ms, strictly after the last date given.
func (s *Server) tick() int64 {
	ms := s.o.Now().UnixMilli()
	if ms <= s.lastMS {
		ms = s.lastMS + 1
	}
	s.lastMS = ms
	return ms
}

func (s *Server) newTaskID() string {
	for {
		id := "86" + strconv.FormatInt(36*36*36*36+s.nextID, 36)
		s.nextID++
		if _, dup := s.tasks[id]; !dup {
			return id
		}
	}
}

// ---- task queries ----

func boolParam(q url.Values, key string) bool {
	v := q.Get(key)
	return v == "true" || v == "1"
}

func intParam(w http.ResponseWriter, q url.Values, key string) (int64, bool, bool) {
	v := q.Get(key)
	if v == "" {
		return 0, false, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		clickupError(w, http.StatusBadRequest, key+" must be a number", "INPUT_002")
		return 0, false, false
	}
	return n, true, true
}

func values(q url.Values, key string) []string {
	return append(q[key], q[key+"[]"]...)
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, scope func(*Task) bool) {
	q := r.URL.Query()
	page, _, ok := intParam(w, q, "page")
	if !ok {
		return
	}
	type bound struct {
		key string
		get func(*Task) int64
		gt  bool
	}
	var filters []func(*Task) bool
	for _, b := range []bound{{"date_updated_gt", func(t *Task) int64 { return t.DateUpdated }, true},
		{"date_updated_lt", func(t *Task) int64 { return t.DateUpdated }, false},
		{"date_created_gt", func(t *Task) int64 { return t.DateCreated }, true},
		{"date_created_lt", func(t *Task) int64 { return t.DateCreated }, false}} {
		v, set, ok := intParam(w, q, b.key)
		if !ok {
			return
		}
		if set {
			filters = append(filters, func(t *Task) bool {
				if b.gt {
					return b.get(t) > v
				}
				return b.get(t) < v
			})
		}
	}
	includeClosed, subtasks, archived := boolParam(q, "include_closed"), boolParam(q, "subtasks"), boolParam(q, "archived")
	lists := values(q, "list_ids")
	statuses := values(q, "statuses")
	var out []*Task
	for _, t := range s.tasks {
		if !scope(t) || t.Archived != archived || (!subtasks && t.Parent != "") {
			continue
		}
		st, _ := s.findStatus(s.lists[t.ListID], t.Status)
		if st.Type == "closed" && !includeClosed {
			continue
		}
		if len(lists) > 0 && !contains(lists, t.ListID) {
			continue
		}
		if len(statuses) > 0 && !containsFold(statuses, t.Status) {
			continue
		}
		keep := true
		for _, f := range filters {
			keep = keep && f(t)
		}
		if keep {
			out = append(out, t)
		}
	}
	key := func(t *Task) int64 { return t.DateCreated }
	switch q.Get("order_by") {
	case "updated":
		key = func(t *Task) int64 { return t.DateUpdated }
	case "due_date":
		key = func(t *Task) int64 { return t.DueDate }
	case "id":
		key = func(*Task) int64 { return 0 }
	}
	reverse := boolParam(q, "reverse")
	newer := func(a, b *Task) bool { return key(a) > key(b) || (key(a) == key(b) && a.ID > b.ID) }
	sort.Slice(out, func(i, j int) bool {
		if reverse {
			return newer(out[j], out[i])
		}
		return newer(out[i], out[j]) // newest first, as ClickUp answers
	})
	start := int(page) * PageSize
	end := start + PageSize
	if start > len(out) {
		start = len(out)
	}
	if end > len(out) {
		end = len(out)
	}
	tasks := make([]any, 0, end-start)
	for _, t := range out[start:end] {
		tasks = append(tasks, s.taskJSON(t))
	}
	writeJSON(w, 200, map[string]any{"tasks": tasks, "last_page": end >= len(out)})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// ---- writes ----

func decodeBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		clickupError(w, http.StatusBadRequest, "Body must be a JSON object", "INPUT_001")
		return nil, false
	}
	return body, true
}

// apply sets the fields of body on t (under s.mu); false when it answered
// an error.
func (s *Server) apply(w http.ResponseWriter, t *Task, body map[string]json.RawMessage, l *List) bool {
	bad := func(msg string) bool {
		clickupError(w, http.StatusBadRequest, msg, "INPUT_005")
		return false
	}
	isNull := func(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }
	for k, raw := range body {
		switch k {
		case "name":
			var v string
			if json.Unmarshal(raw, &v) != nil || strings.TrimSpace(v) == "" {
				return bad("Task name invalid")
			}
			t.Name = v
		case "description", "markdown_content":
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return bad("description must be a string")
			}
			if v == " " {
				v = ""
			}
			t.Description = v
		case "status":
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return bad("status must be a string")
			}
			st, ok := s.findStatus(l, v)
			if !ok {
				clickupError(w, http.StatusBadRequest, "Status does not exist", "ITEM_114")
				return false
			}
			t.Status = st.Name
		case "priority":
			if isNull(raw) {
				t.Priority = 0
				continue
			}
			var v int
			if json.Unmarshal(raw, &v) != nil || v < 1 || v > 4 {
				return bad("Priority invalid")
			}
			t.Priority = v
		case "due_date":
			if isNull(raw) {
				t.DueDate = 0
				continue
			}
			v, err := strconv.ParseInt(strings.Trim(string(raw), `"`), 10, 64)
			if err != nil {
				return bad("due_date must be Unix milliseconds")
			}
			t.DueDate = v
		case "due_date_time":
			var v bool
			if json.Unmarshal(raw, &v) != nil {
				return bad("due_date_time must be a boolean")
			}
			t.DueDateTime = &v
		case "parent":
			if isNull(raw) {
				return bad("A subtask cannot be made a task by setting parent to null")
			}
			var v string
			if json.Unmarshal(raw, &v) != nil || s.tasks[v] == nil || v == t.ID {
				return bad("Parent task invalid")
			}
			t.Parent = v
		case "tags":
			var v []string
			if json.Unmarshal(raw, &v) != nil {
				return bad("tags must be an array of strings")
			}
			t.Tags = v
		case "archived":
			var v bool
			if json.Unmarshal(raw, &v) != nil {
				return bad("archived must be a boolean")
			}
			t.Archived = v
		}
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, l *List) {
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	if _, has := body["name"]; !has {
		clickupError(w, http.StatusBadRequest, "Task name invalid", "INPUT_005")
		return
	}
	t := &Task{ListID: l.ID, Status: s.statusesOf(l)[0].Name}
	if !s.apply(w, t, body, l) {
		return
	}
	t.ID = s.newTaskID()
	t.DateUpdated = s.tick()
	t.DateCreated = t.DateUpdated
	st, _ := s.findStatus(l, t.Status)
	s.closeDates(t, st, t.DateUpdated)
	s.tasks[t.ID] = t
	writeJSON(w, 200, s.taskJSON(t))
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, t *Task) {
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	next := t.clone()
	l := s.lists[t.ListID]
	if !s.apply(w, &next, body, l) {
		return
	}
	next.DateUpdated = s.tick()
	st, _ := s.findStatus(l, next.Status)
	s.closeDates(&next, st, next.DateUpdated)
	*t = next
	writeJSON(w, 200, s.taskJSON(t))
}

// ---- JSON shapes (as in the fixtures) ----

func userJSON() map[string]any {
	return map[string]any{"id": 302438666, "username": "Consilium Test", "email": "test@example.com", "color": "#595d66",
		"profilePicture": nil, "initials": "CT", "week_start_day": 1, "global_font_support": true, "timezone": "Europe/Berlin"}
}

func statusJSON(l *List, st Status, i int) map[string]any {
	return map[string]any{"id": fmt.Sprintf("sc%s_%d", l.ID, i), "status": st.Name, "type": st.Type,
		"orderindex": i, "color": st.Color}
}

func (s *Server) spaceJSON(sp *Space) map[string]any {
	sts := []any{}
	for i, st := range sp.Statuses {
		sts = append(sts, map[string]any{"id": fmt.Sprintf("p%s_%d", sp.ID, i), "status": st.Name, "type": st.Type,
			"orderindex": i, "color": st.Color})
	}
	return map[string]any{"id": sp.ID, "name": sp.Name, "color": "#03A2FD", "private": false, "avatar": nil,
		"admin_can_manage": true, "statuses": sts, "multiple_assignees": true, "archived": false,
		"features": map[string]any{"due_dates": map[string]any{"enabled": true, "start_date": true,
			"remap_due_dates": false, "remap_closed_due_date": false}}}
}

func (s *Server) listJSON(l *List, withStatuses bool) map[string]any {
	count := 0
	for _, t := range s.tasks {
		if t.ListID == l.ID {
			count++
		}
	}
	sp := s.spaces[l.SpaceID]
	spaceName := ""
	if sp != nil {
		spaceName = sp.Name
	}
	out := map[string]any{"id": l.ID, "name": l.Name, "orderindex": 0, "content": "", "status": nil, "priority": nil,
		"assignee": nil, "task_count": count, "due_date": nil, "start_date": nil,
		"folder":   map[string]any{"id": "f" + l.ID, "name": "hidden", "hidden": true, "archived": false, "access": true},
		"space":    map[string]any{"id": l.SpaceID, "name": spaceName, "archived": false, "access": true},
		"archived": false, "override_statuses": l.Statuses != nil, "permission_level": "create"}
	if withStatuses {
		sts := []any{}
		for i, st := range s.statusesOf(l) {
			sts = append(sts, statusJSON(l, st, i))
		}
		out["statuses"] = sts
		out["inbound_address"] = "a.t." + l.ID + "@tasks.clickup.com"
	}
	return out
}

var priorities = map[int][2]string{1: {"urgent", "#f50000"}, 2: {"high", "#f8ae00"}, 3: {"normal", "#6fddff"}, 4: {"low", "#d8d8d8"}}

func msString(ms int64) any {
	if ms == 0 {
		return nil
	}
	return strconv.FormatInt(ms, 10)
}

func (s *Server) taskJSON(t *Task) map[string]any {
	l := s.lists[t.ListID]
	st, _ := s.findStatus(l, t.Status)
	idx := 0
	for i, x := range s.statusesOf(l) {
		if x.Name == st.Name {
			idx = i
		}
	}
	var prio any
	if p, ok := priorities[t.Priority]; ok {
		prio = map[string]any{"color": p[1], "id": strconv.Itoa(t.Priority), "orderindex": strconv.Itoa(t.Priority), "priority": p[0]}
	}
	tags := []any{}
	for _, name := range t.Tags {
		tags = append(tags, map[string]any{"name": name, "tag_fg": "#000000", "tag_bg": "#e50000", "creator": 302438666})
	}
	var parent, top any
	if t.Parent != "" {
		parent = t.Parent
		root := t.Parent
		for seen := 0; seen < 100; seen++ {
			p := s.tasks[root]
			if p == nil || p.Parent == "" {
				break
			}
			root = p.Parent
		}
		top = root
	}
	var customID any
	if t.CustomID != "" {
		customID = t.CustomID
	}
	teamID := ""
	if sp := s.spaces[l.SpaceID]; sp != nil {
		teamID = sp.TeamID
	}
	out := map[string]any{
		"id": t.ID, "custom_id": customID, "custom_item_id": 0, "name": t.Name,
		"text_content": t.Description, "description": t.Description,
		"status":       statusJSON(l, st, idx),
		"orderindex":   fmt.Sprintf("%d.00000000000000000000000000000000", t.DateCreated%100000000),
		"date_created": msString(t.DateCreated), "date_updated": msString(t.DateUpdated),
		"date_closed": msString(t.DateClosed), "date_done": msString(t.DateDone), "archived": t.Archived,
		"creator":   map[string]any{"id": 302438666, "username": "Consilium Test", "color": "#595d66", "email": "test@example.com", "profilePicture": nil},
		"assignees": []any{}, "group_assignees": []any{}, "watchers": []any{}, "checklists": []any{},
		"tags": tags, "parent": parent, "top_level_parent": top, "priority": prio,
		"due_date": msString(t.DueDate), "start_date": nil, "points": nil, "time_estimate": nil,
		"custom_fields": []any{}, "dependencies": []any{}, "linked_tasks": []any{}, "locations": []any{},
		"team_id": teamID, "url": "https://app.clickup.com/t/" + t.ID,
		"sharing":          map[string]any{"public": false, "public_share_expires_on": nil, "public_fields": []any{}, "token": nil, "seo_optimized": false},
		"permission_level": "create",
		"list":             map[string]any{"id": l.ID, "name": l.Name, "access": true},
		"project":          map[string]any{"id": "f" + l.ID, "name": "hidden", "hidden": true, "access": true},
		"folder":           map[string]any{"id": "f" + l.ID, "name": "hidden", "hidden": true, "access": true},
		"space":            map[string]any{"id": l.SpaceID},
	}
	if t.DueDateTime != nil && t.DueDate != 0 {
		out["due_date_time"] = *t.DueDateTime
	}
	return out
}

// ---- OAuth ----

func randomToken(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	_, known := s.clients[q.Get("client_id")]
	s.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if !known || err != nil || !redirect.IsAbs() {
		clickupError(w, http.StatusBadRequest, "Invalid client_id or redirect_uri", "OAUTH_001")
		return
	}
	code := randomToken("code_")
	s.mu.Lock()
	s.codes[code] = &authCode{client: q.Get("client_id"), redirect: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method")}
	s.mu.Unlock()
	rq := redirect.Query()
	rq.Set("code", code)
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token is the token endpoint: parameters in the query (as ClickUp
// documents them) or a form body (as OAuth clients send them).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	get := r.Form.Get
	fail := func(status int, code, msg string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": msg, "err": msg, "ECODE": "OAUTH_005"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, known := s.clients[get("client_id")]
	if !known || secret != get("client_secret") {
		fail(http.StatusUnauthorized, "invalid_client", "Client credentials invalid")
		return
	}
	var old string
	switch get("grant_type") {
	case "", "authorization_code":
		c := s.codes[get("code")]
		delete(s.codes, get("code")) // single use
		if c == nil || c.client != get("client_id") {
			fail(http.StatusBadRequest, "invalid_grant", "Code invalid or used")
			return
		}
		if ru := get("redirect_uri"); ru != "" && ru != c.redirect {
			fail(http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the consent's")
			return
		}
		if c.challenge != "" {
			v := get("code_verifier")
			sum := sha256.Sum256([]byte(v))
			okS256 := c.method == "S256" && base64.RawURLEncoding.EncodeToString(sum[:]) == c.challenge
			okPlain := (c.method == "" || c.method == "plain") && v == c.challenge
			if v == "" || !(okS256 || okPlain) {
				fail(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
				return
			}
		}
	case "refresh_token":
		var ok bool
		old, ok = s.refresh[get("refresh_token")]
		delete(s.refresh, get("refresh_token")) // rotated: single use
		if !ok {
			fail(http.StatusBadRequest, "invalid_grant", "Refresh token invalid or used")
			return
		}
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type", "grant_type "+get("grant_type"))
		return
	}
	if t := s.tokens[old]; t != nil {
		t.revoked = true
	}
	access, refresh := randomToken("cu_oauth_"), randomToken("cu_refresh_")
	if s.o.OnToken != nil {
		s.o.OnToken("oauth_access_token", access)
		s.o.OnToken("oauth_refresh_token", refresh)
	}
	t := &token{oauth: true}
	out := map[string]any{"access_token": access, "token_type": "Bearer", "refresh_token": refresh}
	if s.o.TokenLifetime > 0 {
		t.expires = s.o.Now().Add(s.o.TokenLifetime)
		out["expires_in"] = int(s.o.TokenLifetime / time.Second)
	}
	s.tokens[access] = t
	s.refresh[refresh] = access
	writeJSON(w, 200, out)
}

// RevokeRefreshTokens makes every refresh token issued so far invalid.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = map[string]string{}
}
