// Command soak runs the real server (bin/consilium serve --with-worker, the
// offline local plugin answering chat, the ClickUp plugin against a local
// clickuptest server) on DATABASE_URL and drives mixed traffic at a fixed
// rate: note saves, task edits, chat turns, RAG queries and ClickUp syncs.
// It records per operation and interval the count, errors, 5xx and p50/p99
// latency; samples the processes' RSS, goroutines and database connections;
// reads back every acknowledged note and task write at the end; and writes
// ops.csv, samples.csv, soak.png and report.md under -out.
//
// Run it through `make soak` (SOAK_DURATION, SOAK_RATE). It exits non-zero
// when a check fails: a 5xx, a lost write, or growth that does not level off.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
)

var (
	flagDuration = flag.Duration("duration", 10*time.Minute, "how long to drive traffic")
	flagRate     = flag.Float64("rate", 20, "operations started per second (open loop)")
	flagUsers    = flag.Int("users", 4, "users sharing the traffic")
	flagBin      = flag.String("bin", "bin/consilium", "the consilium binary (its plugins in bin/plugins)")
	flagOut      = flag.String("out", "docs/soak", "where the report, CSVs and plot go")
	flagInterval = flag.Duration("interval", 10*time.Second, "latency interval")
	flagSample   = flag.Duration("sample", 2*time.Second, "process sampling period")
	flagInflight = flag.Int("max-inflight", 64, "operations in flight at most; a tick finding this many is counted as dropped")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// ---------- the server ----------

type server struct {
	cmd      *exec.Cmd
	base     string
	metrics  string
	done     chan struct{}
	logPath  string
	stdout   *lockedBuf
	serveErr error
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
	f  *os.File
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.f != nil {
		_, _ = l.f.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func startServer(dbURL string, cu *clickuptest.Server, workDir string) (*server, error) {
	bin, err := filepath.Abs(*flagBin)
	if err != nil {
		return nil, err
	}
	clickupBin := filepath.Join(filepath.Dir(bin), "plugins", "clickup")
	cfgPath := filepath.Join(workDir, "consilium.yaml")
	cfg := fmt.Sprintf(`plugins:
  items:
    - name: clickup
      kind: integration
      path: %s
      enabled: true
      config:
        base_url: %s
        auth_url: %s
        token_url: %s
`, clickupBin, cu.BaseURL(), cu.AuthURL(), cu.TokenURL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	maddr, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{metrics: "http://" + maddr + "/metrics", done: make(chan struct{}), logPath: filepath.Join(workDir, "server.log")}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.stdout = &lockedBuf{f: logf}
	s.cmd = exec.Command(bin, "serve", "--with-worker")
	s.cmd.Dir = filepath.Dir(filepath.Dir(bin)) // the repository: bin/plugins/local is found from the binary
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSILIUM_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	s.cmd.Env = append(env,
		"DATABASE_URL="+dbURL,
		"CONSILIUM_CONFIG="+cfgPath,
		"CONSILIUM_AUTH_JWT_SECRET="+randB64(32),
		"CONSILIUM_INTEGRATIONS_MASTER_KEY="+randB64(32),
		"CONSILIUM_HTTP_ADDR=127.0.0.1:0",
		"CONSILIUM_METRICS_ADDR="+maddr,
		"CONSILIUM_LOG_LEVEL=warn",
		"CONSILIUM_DATABASE_AUTO_MIGRATE=true",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stdout
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.serveErr = s.cmd.Wait(); close(s.done) }()
	re := regexp.MustCompile(`Consilium API  (http://\S+)/api`)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			s.base = m[1]
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("server exited before it listened: %v\n%s", s.serveErr, s.stdout)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server not listening within 90s:\n%s", s.stdout)
		}
	}
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// ---------- HTTP client ----------

var client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}

type apiErr struct {
	status     int
	body       string
	retryAfter string
}

func (e *apiErr) Error() string { return fmt.Sprintf("HTTP %d: %.200s", e.status, e.body) }

func call(base, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, &apiErr{res.StatusCode, string(raw), res.Header.Get("Retry-After")}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// ---------- recording ----------

var opNames = []string{"note_save", "task_edit", "chat_turn", "rag_query", "clickup_sync"}

type opStat struct {
	count, errors, s5xx int
	lat                 []float64 // ms
}

type recorder struct {
	mu       sync.Mutex
	cur      map[string]*opStat
	total    map[string]*opStat
	rows     []opRow
	start    time.Time
	flushed  time.Time
	dropped  atomic.Int64
	errLines []string
}

type opRow struct {
	t                   float64
	op                  string
	count, errors, s5xx int
	p50, p99            float64
}

func newRecorder() *recorder {
	r := &recorder{cur: map[string]*opStat{}, total: map[string]*opStat{}, start: time.Now()}
	for _, n := range opNames {
		r.cur[n], r.total[n] = &opStat{}, &opStat{}
	}
	return r
}

func (r *recorder) record(op string, d time.Duration, status int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range []*opStat{r.cur[op], r.total[op]} {
		s.count++
		if err != nil {
			s.errors++
		}
		if status >= 500 {
			s.s5xx++
		}
		if err == nil {
			s.lat = append(s.lat, float64(d.Microseconds())/1000)
		}
	}
	if err != nil && len(r.errLines) < 50 {
		r.errLines = append(r.errLines, fmt.Sprintf("%s at %.0fs: %v", op, time.Since(r.start).Seconds(), err))
	}
}

func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (r *recorder) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed = time.Now()
	t := time.Since(r.start).Seconds()
	for _, n := range opNames {
		s := r.cur[n]
		r.rows = append(r.rows, opRow{t, n, s.count, s.errors, s.s5xx, pct(s.lat, .5), pct(s.lat, .99)})
		r.cur[n] = &opStat{}
	}
}

// ---------- sampling ----------

type sample struct {
	t                     float64
	rssServer, rssPlugins float64 // MiB
	goroutines            float64
	poolConns, poolInUse  float64
	pgConns               float64
}

func rssOf(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// childrenOf lists the child processes of pid (started from any of its
// threads).
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

var metricLine = regexp.MustCompile(`(?m)^(go_goroutines|consilium_db_pool_connections|consilium_db_pool_acquired_connections) ([0-9.eE+-]+)$`)

func takeSample(s *server, pool *pgxpool.Pool, dbName string, start time.Time) sample {
	pid := s.cmd.Process.Pid
	sm := sample{t: time.Since(start).Seconds(), rssServer: rssOf(pid)}
	for _, c := range childrenOf(pid) {
		sm.rssPlugins += rssOf(c)
	}
	if res, err := client.Get(s.metrics); err == nil {
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, m := range metricLine.FindAllStringSubmatch(string(raw), -1) {
			v, _ := strconv.ParseFloat(m[2], 64)
			switch m[1] {
			case "go_goroutines":
				sm.goroutines = v
			case "consilium_db_pool_connections":
				sm.poolConns = v
			case "consilium_db_pool_acquired_connections":
				sm.poolInUse = v
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	// Connections of the server only: ours (the sampler's) are excluded.
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> 'soak'`, dbName).Scan(&n); err == nil {
		sm.pgConns = float64(n)
	}
	return sm
}

// ---------- the traffic ----------

type user struct {
	token    string
	cuToken  string
	mu       sync.Mutex
	notes    map[string]string // id -> last acknowledged title
	tasks    map[string]string // id -> last acknowledged title
	noteIDs  []string
	busy     map[string]bool // ids with a write in flight: one write per id at a time, so the last ack is the stored one
	taskIDs  []string
	convs    chan string
	seq      atomic.Int64
	syncBusy atomic.Bool
}

// pick returns an id with no write in flight and marks it busy, or "".
// Call with u.mu held.
func (u *user) pick(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	id := ids[mrand.IntN(len(ids))]
	if u.busy[id] {
		return ""
	}
	u.busy[id] = true
	return id
}

func (u *user) release(id string) {
	if id == "" {
		return
	}
	u.mu.Lock()
	delete(u.busy, id)
	u.mu.Unlock()
}

var words = strings.Fields("plumber boiler tuesday groceries milk eggs dentist appointment quarterly report budget review garden tomatoes flight booking passport renewal birthday present running shoes marathon training invoice taxes")

func phrase(n int) string {
	var b []string
	for range n {
		b = append(b, words[mrand.IntN(len(words))])
	}
	return strings.Join(b, " ")
}

type driver struct {
	base      string
	rec       *recorder
	cu        *clickuptest.Server
	cuTaskIDs []string
}

func (d *driver) noteSave(u *user) {
	u.mu.Lock()
	id := ""
	if len(u.noteIDs) >= 20 && mrand.IntN(4) != 0 { // mostly edits once a user has a few notes
		id = u.pick(u.noteIDs)
	}
	u.mu.Unlock()
	defer u.release(id)
	title := fmt.Sprintf("Soak note %d %s", u.seq.Add(1), phrase(2))
	body := map[string]any{"title": title, "content": []map[string]any{
		{"type": "heading", "content": phrase(3)},
		{"type": "paragraph", "content": phrase(30)},
		{"type": "checkListItem", "content": "todo " + phrase(4), "props": map[string]any{"checked": mrand.IntN(2) == 0}},
		{"type": "paragraph", "content": phrase(20)},
	}}
	var out struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	start := time.Now()
	var status int
	var err error
	if id == "" {
		status, err = call(d.base, http.MethodPost, "/api/notes", u.token, body, &out)
	} else {
		status, err = call(d.base, http.MethodPut, "/api/notes/"+id, u.token, body, &out)
	}
	d.rec.record("note_save", time.Since(start), status, err)
	if err == nil {
		u.mu.Lock()
		if _, ok := u.notes[out.ID]; !ok {
			u.noteIDs = append(u.noteIDs, out.ID)
		}
		u.notes[out.ID] = title
		u.mu.Unlock()
	}
}

func (d *driver) taskEdit(u *user) {
	u.mu.Lock()
	id := ""
	if len(u.taskIDs) >= 20 && mrand.IntN(3) != 0 {
		id = u.pick(u.taskIDs)
	}
	u.mu.Unlock()
	defer u.release(id)
	title := fmt.Sprintf("Soak task %d %s", u.seq.Add(1), phrase(3))
	statuses := []string{"not_started", "in_progress", "completed", "deferred"}
	var out struct {
		ID string `json:"id"`
	}
	start := time.Now()
	var status int
	var err error
	if id == "" {
		status, err = call(d.base, http.MethodPost, "/api/tasks", u.token, map[string]any{"title": title, "priority": "medium"}, &out)
	} else {
		status, err = call(d.base, http.MethodPut, "/api/tasks/"+id, u.token,
			map[string]any{"title": title, "status": statuses[mrand.IntN(len(statuses))]}, &out)
	}
	d.rec.record("task_edit", time.Since(start), status, err)
	if err == nil {
		u.mu.Lock()
		if _, ok := u.tasks[out.ID]; !ok {
			u.taskIDs = append(u.taskIDs, out.ID)
		}
		u.tasks[out.ID] = title
		u.mu.Unlock()
	}
}

// chatTurn sends a message on a free conversation of the user and waits
// until the answer of its run is stored (the latency is send to answer).
func (d *driver) chatTurn(u *user) {
	start := time.Now()
	var conv string
	select {
	case conv = <-u.convs:
	default:
		var c struct {
			ID string `json:"id"`
		}
		status, err := call(d.base, http.MethodPost, "/api/conversations", u.token, map[string]any{}, &c)
		if err != nil {
			d.rec.record("chat_turn", time.Since(start), status, err)
			return
		}
		conv = c.ID
	}
	defer func() { u.convs <- conv }()
	var sent struct {
		RunID string `json:"run_id"`
	}
	status, err := call(d.base, http.MethodPost, "/api/conversations/"+conv+"/messages", u.token,
		map[string]any{"content": "What about the " + phrase(3) + "?", "client_msg_id": newUUID()}, &sent)
	if err != nil {
		d.rec.record("chat_turn", time.Since(start), status, err)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Items []struct {
				Role  string `json:"role"`
				RunID string `json:"run_id"`
			} `json:"items"`
		}
		status, err = call(d.base, http.MethodGet, "/api/conversations/"+conv+"/messages?order=desc&limit=5", u.token, nil, &list)
		if err != nil {
			d.rec.record("chat_turn", time.Since(start), status, err)
			return
		}
		for _, m := range list.Items {
			if m.Role == "assistant" && m.RunID == sent.RunID {
				d.rec.record("chat_turn", time.Since(start), status, nil)
				return
			}
		}
		if time.Now().After(deadline) {
			d.rec.record("chat_turn", time.Since(start), 0, errors.New("no answer within 30s"))
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the API as a client without a socket does
	}
}

func (d *driver) ragQuery(u *user) {
	start := time.Now()
	status, err := call(d.base, http.MethodPost, "/api/ai/rag/query", u.token, map[string]any{"query": phrase(4), "k": 8}, nil)
	d.rec.record("rag_query", time.Since(start), status, err)
}

// clickupSync changes a task on the ClickUp side and asks for a sync (202;
// the job runs in the worker). One sync per user at a time.
func (d *driver) clickupSync(u *user) {
	if !u.syncBusy.CompareAndSwap(false, true) {
		return
	}
	defer u.syncBusy.Store(false)
	id := d.cuTaskIDs[mrand.IntN(len(d.cuTaskIDs))]
	_, _ = d.cu.UpdateTask(id, func(t *clickuptest.Task) {
		t.Name = "ClickUp " + phrase(3)
		t.DateUpdated = time.Now().UnixMilli()
	})
	start := time.Now()
	status, err := call(d.base, http.MethodPost, "/api/external/sync/clickup", u.token, map[string]any{}, nil)
	if ae := (*apiErr)(nil); errors.As(err, &ae) && ae.status == http.StatusConflict {
		err = nil // a sync already queued
	}
	d.rec.record("clickup_sync", time.Since(start), status, err)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ---------- run ----------

func run() error {
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		return errors.New("DATABASE_URL is not set (make soak sets it)")
	}
	if err := os.MkdirAll(*flagOut, 0o755); err != nil {
		return err
	}
	workDir, err := os.MkdirTemp("", "consilium-soak-")
	if err != nil {
		return err
	}
	fmt.Printf("soak: %s at %.0f ops/s, %d users; server log %s\n", *flagDuration, *flagRate, *flagUsers, filepath.Join(workDir, "server.log"))

	cu := clickuptest.New(clickuptest.Options{})
	defer cu.Close()
	seeded := cu.Seed(clickuptest.SeedOptions{Tasks: 150})

	srv, err := startServer(dbURL, cu, workDir)
	if err != nil {
		return err
	}
	defer srv.stop()

	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = 2
	pcfg.ConnConfig.RuntimeParams["application_name"] = "soak"
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	dbName := pcfg.ConnConfig.Database

	// Users, each connected to ClickUp with a personal token.
	users := make([]*user, *flagUsers)
	for i := range users {
		var reg struct {
			AccessToken string `json:"access_token"`
		}
		if _, err := call(srv.base, http.MethodPost, "/api/auth/register", "", map[string]any{
			"email": fmt.Sprintf("soak-%d-%s@example.com", i, newUUID()[:8]), "password": "a long soak password"}, &reg); err != nil {
			return fmt.Errorf("register: %w", err)
		}
		u := &user{token: reg.AccessToken, cuToken: "pk_soak_" + newUUID(), notes: map[string]string{}, tasks: map[string]string{}, busy: map[string]bool{}, convs: make(chan string, 64)}
		cu.AddToken(u.cuToken)
		if _, err := call(srv.base, http.MethodPost, "/api/external/connect/clickup", u.token, map[string]any{"token": u.cuToken}, nil); err != nil {
			return fmt.Errorf("connect clickup: %w", err)
		}
		users[i] = u
	}
	// Access tokens live 15 minutes by default: refresh is not exercised,
	// so keep the soak under that.
	if *flagDuration > 14*time.Minute {
		fmt.Println("soak: note: access tokens expire after auth.access_token_ttl (15m default); set CONSILIUM_AUTH_ACCESS_TOKEN_TTL longer")
	}

	rec := newRecorder()
	d := &driver{base: srv.base, rec: rec, cu: cu, cuTaskIDs: seeded.TaskIDs}
	var samples []sample
	var smu sync.Mutex
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // sampler
		defer bg.Done()
		t := time.NewTicker(*flagSample)
		defer t.Stop()
		for {
			s := takeSample(srv, pool, dbName, rec.start)
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	go func() { // intervals
		defer bg.Done()
		t := time.NewTicker(*flagInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rec.flush()
				fmt.Printf("soak: %4.0fs %s\n", time.Since(rec.start).Seconds(), rec.lastLine())
			}
		}
	}()

	// Open loop: an operation starts every 1/rate whatever the others do.
	type weighted struct {
		w  int
		fn func(*user)
	}
	mix := []weighted{{35, d.noteSave}, {30, d.taskEdit}, {15, d.chatTurn}, {15, d.ragQuery}, {5, d.clickupSync}}
	totalW := 0
	for _, m := range mix {
		totalW += m.w
	}
	var ops sync.WaitGroup
	var inflight atomic.Int64
	tick := time.NewTicker(time.Duration(float64(time.Second) / *flagRate))
	end := time.After(*flagDuration)
loop:
	for {
		select {
		case <-end:
			break loop
		case <-srv.done:
			return fmt.Errorf("server exited during the soak: %v", srv.serveErr)
		case <-tick.C:
		}
		if inflight.Load() >= int64(*flagInflight) {
			rec.dropped.Add(1)
			continue
		}
		r := mrand.IntN(totalW)
		var fn func(*user)
		for _, m := range mix {
			if r < m.w {
				fn = m.fn
				break
			}
			r -= m.w
		}
		u := users[mrand.IntN(len(users))]
		inflight.Add(1)
		ops.Add(1)
		go func() { defer ops.Done(); defer inflight.Add(-1); fn(u) }()
	}
	tick.Stop()
	ops.Wait()
	close(stop)
	bg.Wait()
	if time.Since(rec.lastFlush()) > *flagInterval/2 { // a short tail would plot as noise; the totals hold it
		rec.flush()
	}
	elapsed := time.Since(rec.start)

	lost, checked, readErr := readBack(srv.base, users)
	jobs := jobStates(pool)
	fmt.Printf("soak: read back %d acknowledged writes, %d lost, %d read errors %v\n", checked, len(lost), sumCounts(readErr), readErr)

	return writeReport(reportInput{rec: rec, samples: samples, users: users, lost: lost, checked: checked,
		readErrors: readErr, jobs: jobs, elapsed: elapsed, dbURL: dbURL, logPath: srv.logPath})
}

func (r *recorder) lastFlush() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flushed.IsZero() {
		return r.start
	}
	return r.flushed
}

func (r *recorder) lastLine() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, row := range r.rows[max(0, len(r.rows)-len(opNames)):] {
		fmt.Fprintf(&b, "%s %d/%derr p50 %.1f p99 %.1f  ", row.op, row.count, row.errors, row.p50, row.p99)
	}
	return b.String()
}

// readBack reads every note and task with an acknowledged write and
// compares its title with the last acknowledged one. The reads go one
// after another as fast as the server answers, so they meet the per-user
// rate limit: a 429 waits for its Retry-After and reads again. readErrors
// counts reads that failed otherwise, by cause.
func readBack(base string, users []*user) (lost []string, checked int, readErrors map[string]int) {
	readErrors = map[string]int{}
	read := func(u *user, kind, id, want string) {
		var v struct {
			Title string `json:"title"`
		}
		checked++
		err := readRetrying(base, "/api/"+kind+"s/"+id, u.token, &v)
		if ae := (*apiErr)(nil); errors.As(err, &ae) && ae.status == http.StatusNotFound {
			lost = append(lost, kind+" "+id+": gone")
			return
		} else if ae != nil {
			readErrors[fmt.Sprintf("HTTP %d", ae.status)]++
			return
		} else if err != nil {
			readErrors[err.Error()]++
			return
		}
		if v.Title != want {
			lost = append(lost, fmt.Sprintf("%s %s: title %q, acknowledged %q", kind, id, v.Title, want))
		}
	}
	for _, u := range users {
		for id, want := range u.notes {
			read(u, "note", id, want)
		}
		for id, want := range u.tasks {
			read(u, "task", id, want)
		}
	}
	return lost, checked, readErrors
}

// readRetrying GETs path, waiting out 429s (Retry-After, else a second;
// at most 5 minutes in all).
func readRetrying(base, path, token string, out any) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		_, err := call(base, http.MethodGet, path, token, nil, out)
		ae := (*apiErr)(nil)
		if !errors.As(err, &ae) || ae.status != http.StatusTooManyRequests || time.Now().After(deadline) {
			return err
		}
		wait := time.Second
		if s, perr := strconv.Atoi(ae.retryAfter); perr == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		time.Sleep(min(wait, 30*time.Second))
	}
}

// jobStates counts River's jobs by kind and state at the end (after a few
// seconds for the last queued ones).
func jobStates(pool *pgxpool.Pool) map[string]map[string]int {
	out := map[string]map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var pending int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available','running','retryable','scheduled') AND kind NOT LIKE '%prune%' AND scheduled_at < now()`).Scan(&pending)
		cancel()
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int
		if rows.Scan(&kind, &state, &n) == nil {
			if out[kind] == nil {
				out[kind] = map[string]int{}
			}
			out[kind][state] = n
		}
	}
	return out
}
