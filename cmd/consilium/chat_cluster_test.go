package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/testsecrets"
)

// subprocessEnv, set in a process's environment, makes the test binary run
// `consilium <its value>` (serve, worker) with streamRunner answering chat
// runs, instead of running tests; with orchestratorEnv=1 beside it the
// real orchestrator answers them (with the configured providers).
const (
	subprocessEnv   = "CONSILIUM_TEST_SUBPROCESS"
	orchestratorEnv = "CONSILIUM_TEST_ORCHESTRATOR"
)

func runSubprocess(args string) int {
	if os.Getenv(orchestratorEnv) != "1" {
		chatRunner = streamRunner{}
	}
	cmd := newRootCmd()
	cmd.SetArgs(strings.Fields(args))
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "consilium:", errorText(err))
		return 1
	}
	return 0
}

// streamRunner answers a message "slow N" with N message.delta events 50ms
// apart (each its own batch, as a model's stream is), then the message;
// any other message with one delta at once. It stops when ctx ends (a
// cancel from any process, the worker stopping).
type streamRunner struct{}

func (streamRunner) RunTurn(ctx context.Context, t *chat.Turn) error {
	n, step := 1, time.Duration(0)
	if f := strings.Fields(t.Message.Content); len(f) == 2 && f[0] == "slow" {
		n, _ = strconv.Atoi(f[1])
		step = 50 * time.Millisecond
	}
	id := uuid.New()
	var text strings.Builder
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(step):
			}
		}
		part := fmt.Sprintf("[%d of attempt %d]", i+1, t.Attempt)
		if err := t.Emit(ctx, chat.DeltaEvent(t.Run.ID, id, part)); err != nil {
			return err
		}
		text.WriteString(part)
	}
	_, err := t.AddMessage(ctx, &chat.NewMessage{ID: id, Role: chat.RoleAssistant, Content: text.String(), AgentID: t.Agent.Name})
	return err
}

// process is a consilium started from the test binary.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	base   string // serve: http://host:port
}

// startProcess runs `consilium args...` (the test binary standing in for
// it) on the database url with env added; serve waits until it listens,
// worker until its River client runs. It is stopped (SIGTERM) when the
// test ends, and its output shown when the test failed.
func startProcess(t *testing.T, name, url string, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	p := &proc{t: t, name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe)
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSILIUM_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			clean = append(clean, kv)
		}
	}
	level := "info"
	if testsecrets.Dir() != "" {
		level = "debug" // the secrets check reads everything the process logs
	}
	own := []string{
		subprocessEnv + "=" + strings.Join(args, " "),
		"DATABASE_URL=" + url,
		"CONSILIUM_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef",
		"CONSILIUM_HTTP_ADDR=127.0.0.1:0",
		"CONSILIUM_LOG_LEVEL=" + level,
		"CONSILIUM_DATABASE_AUTO_MIGRATE=true",
	}
	for _, kv := range append(own, env...) {
		// Every secret the process is given must stay out of its logs.
		if k, v, _ := strings.Cut(kv, "="); strings.Contains(k, "SECRET") || strings.Contains(k, "KEY") ||
			strings.Contains(k, "TOKEN") || strings.Contains(k, "PASSWORD") {
			testsecrets.Register(strings.ToLower(k), v)
		}
	}
	p.cmd.Env = append(append(clean, own...), env...)
	logs := testsecrets.Writer("consilium-" + name)
	p.cmd.Stdout, p.cmd.Stderr = io.MultiWriter(p.stdout, logs), io.MultiWriter(p.stderr, logs)
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s stdout:\n%s\n--- %s stderr:\n%s", name, p.stdout, name, p.stderr)
		}
	})
	ready := func() bool { return strings.Contains(p.stderr.String(), "worker started") }
	if args[0] == "serve" {
		re := regexp.MustCompile(`Consilium API  (http://\S+)/api`)
		ready = func() bool {
			m := re.FindStringSubmatch(p.stdout.String())
			if m != nil {
				p.base = m[1]
			}
			return m != nil
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s\n%s", name, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s:\n%s", name, p.stderr)
		}
	}
	return p
}

// stop ends the process as SIGTERM does, killing it if it lingers.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once (SIGKILL): nothing of it runs after. Its
// plugin processes, which it had no chance to stop, must end by themselves
// (the SDK's plugins exit once their host is gone): an orphaned plugin
// would run on forever.
func (p *proc) kill() {
	p.t.Helper()
	plugins := childPIDs(p.cmd.Process.Pid)
	require.NoError(p.t, p.cmd.Process.Kill())
	<-p.done
	deadline := time.Now().Add(time.Minute)
	for _, pid := range plugins {
		for processAlive(pid) {
			require.False(p.t, time.Now().After(deadline), "plugin process %d outlived its killed host %s by a minute", pid, p.name)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// childPIDs are the processes whose parent is pid (from /proc; none where
// there is no /proc).
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// processAlive: pid runs (a zombie waiting to be reaped counts as ended).
func processAlive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// procStat reads a process's parent pid and state from /proc/PID/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// do makes a request to the process; body is JSON-encoded.
func (p *proc) do(method, path, token string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(p.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	require.NoError(p.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(p.t, err)
	return res.StatusCode, raw
}

// connect connects the user to provider as a client does: while the API
// answers 503 unavailable (the provider's plugin is still starting, which
// takes longer on a loaded machine than the API takes to listen), it asks
// again after a moment, for up to a minute. It requires 200.
func (p *proc) connect(token, provider string, body any) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, raw := p.do(http.MethodPost, "/api/external/connect/"+provider, token, body)
		if status == http.StatusServiceUnavailable && bytes.Contains(raw, []byte(`"code":"unavailable"`)) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		require.Equal(p.t, http.StatusOK, status, string(raw))
		return
	}
}

func (p *proc) register() (id, token string) {
	p.t.Helper()
	status, raw := p.do(http.MethodPost, "/api/auth/register", "", map[string]any{
		"email": "u-" + uuid.NewString()[:13] + "@example.com", "password": "long enough password"})
	require.Equal(p.t, http.StatusCreated, status, string(raw))
	var out struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	require.NoError(p.t, json.Unmarshal(raw, &out))
	testsecrets.Register("access_token", out.AccessToken)
	testsecrets.Register("password", "long enough password")
	return out.User.ID, out.AccessToken
}

func (p *proc) newConversation(token string) string {
	p.t.Helper()
	status, raw := p.do(http.MethodPost, "/api/conversations", token, map[string]any{})
	require.Equal(p.t, http.StatusCreated, status, string(raw))
	var c struct {
		ID string `json:"id"`
	}
	require.NoError(p.t, json.Unmarshal(raw, &c))
	return c.ID
}

// send posts a message and returns its run's id.
func (p *proc) send(token, convID, content string) string {
	p.t.Helper()
	status, raw := p.do(http.MethodPost, "/api/conversations/"+convID+"/messages", token,
		map[string]any{"content": content, "client_msg_id": uuid.NewString()})
	require.Equal(p.t, http.StatusAccepted, status, string(raw))
	var s struct {
		RunID string `json:"run_id"`
	}
	require.NoError(p.t, json.Unmarshal(raw, &s))
	return s.RunID
}

// wsClient is a chat socket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (p *proc) dial(token, convID string) (*wsClient, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.base, "http")+"/api/chat/"+convID,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		return nil, res, err
	}
	c := &wsClient{t: p.t, conn: conn}
	p.t.Cleanup(func() { _ = conn.CloseNow() })
	return c, res, nil
}

func (c *wsClient) write(v map[string]any) {
	c.t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageText, raw))
}

// next reads one frame; the bound is generous (it fails only a hung test).
func (c *wsClient) next() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, raw, err := c.conn.Read(ctx)
	require.NoError(c.t, err)
	var m map[string]any
	require.NoError(c.t, json.Unmarshal(raw, &m))
	return m
}

// subscribe subscribes after seq after (nil: from now) and returns the ack.
func (c *wsClient) subscribe(after *int64) map[string]any {
	c.t.Helper()
	e := map[string]any{"type": "subscribe", "ref": "sub"}
	if after != nil {
		e["after_seq"] = *after
	}
	c.write(e)
	ack := c.next()
	require.Equal(c.t, "ack", ack["type"], ack)
	return ack
}

// until reads frames until stop says so and returns the events (frames
// with a seq) read, stop's included.
func (c *wsClient) until(stop func(map[string]any) bool) []map[string]any {
	c.t.Helper()
	var evs []map[string]any
	for {
		m := c.next()
		if m["seq"] != nil {
			evs = append(evs, m)
		}
		if stop(m) {
			return evs
		}
	}
}

func runCompleted(runID string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == chat.EventRunCompleted && m["run_id"] == runID }
}

func seqOf(m map[string]any) int64 { return int64(m["seq"].(float64)) }

// storedSeqs are the seqs of the conversation's stored events.
func storedSeqs(t *testing.T, pool *pgxpool.Pool, convID string) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT seq FROM chat_events WHERE conversation_id = $1 ORDER BY seq`, convID)
	require.NoError(t, err)
	var out []int64
	for rows.Next() {
		var s int64
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// requireGapless: seqs are first, first+1, ... each once.
func requireGapless(t *testing.T, evs []map[string]any, first int64) {
	t.Helper()
	for i, e := range evs {
		require.Equal(t, first+int64(i), seqOf(e), "event %d of %d: %v", i, len(evs), e)
	}
}

// TestChatAcrossProcesses runs two API processes and one worker process
// on one database (each its own pool, hub and River client): a socket on
// the API process that did not take the message gets the run's events,
// which the worker writes, through LISTEN/NOTIFY; run.cancel sent on a
// socket of the second API process stops a run executing in the worker; a
// client whose socket drops resumes on the other process with after_seq
// and misses or repeats nothing; another user's conversation is not found
// on the socket, on SSE and for a ticket, on either process.
func TestChatAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyDatabase(t)
	api1 := startProcess(t, "api1", url, nil, "serve") // migrates first
	api2 := startProcess(t, "api2", url, nil, "serve")
	startProcess(t, "worker", url, nil, "worker")
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	_, token := api1.register()
	conv := api1.newConversation(token)

	t.Run("events reach the other API process", func(t *testing.T) {
		sock, _, err := api2.dial(token, conv)
		require.NoError(t, err)
		sock.subscribe(nil)
		runID := api1.send(token, conv, "slow 5")
		evs := sock.until(runCompleted(runID))
		requireGapless(t, evs, seqOf(evs[0]))
		var types []string
		var text string
		for _, e := range evs {
			types = append(types, e["type"].(string))
			if e["type"] == chat.EventMessageDelta {
				text += e["text"].(string)
			}
		}
		require.Equal(t, []string{"message.completed", "run.started", "message.delta", "message.delta", "message.delta",
			"message.delta", "message.delta", "message.completed", "run.completed"}, types)
		require.Equal(t, "completed", evs[len(evs)-1]["status"])
		require.Equal(t, "[1 of attempt 1][2 of attempt 1][3 of attempt 1][4 of attempt 1][5 of attempt 1]", text)
		require.Equal(t, text, evs[len(evs)-2]["message"].(map[string]any)["content"])
	})

	t.Run("run.cancel on the second API process stops the run in the worker", func(t *testing.T) {
		sock, _, err := api2.dial(token, conv)
		require.NoError(t, err)
		sock.subscribe(nil)
		runID := api1.send(token, conv, "slow 1200") // a minute, unless cancelled
		sock.until(func(m map[string]any) bool { return m["type"] == chat.EventMessageDelta && m["run_id"] == runID })
		sock.write(map[string]any{"type": "run.cancel", "ref": "stop", "run_id": runID})
		var deltas int
		evs := sock.until(func(m map[string]any) bool {
			if m["type"] == "error" {
				t.Fatalf("cancel refused: %v", m)
			}
			if m["type"] == chat.EventMessageDelta {
				deltas++
			}
			return runCompleted(runID)(m)
		})
		require.Equal(t, "cancelled", evs[len(evs)-1]["status"])
		require.Less(t, deltas, 1199, "the run stopped streaming")
		var status string
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT status FROM chat_runs WHERE id = $1`, runID).Scan(&status))
		require.Equal(t, "cancelled", status)
	})

	t.Run("resume on the other process after a dropped socket", func(t *testing.T) {
		var start int64
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT last_event_seq FROM conversations WHERE id = $1`, conv).Scan(&start))
		first, _, err := api1.dial(token, conv)
		require.NoError(t, err)
		first.subscribe(&start)
		runID := api2.send(token, conv, "slow 40")
		var deltas int
		before := first.until(func(m map[string]any) bool {
			if m["type"] == chat.EventMessageDelta {
				deltas++
			}
			return deltas == 5
		})
		_ = first.conn.CloseNow() // dropped mid-run
		last := seqOf(before[len(before)-1])
		second, _, err := api2.dial(token, conv)
		require.NoError(t, err)
		ack := second.subscribe(&last)
		require.Equal(t, float64(last), ack["after_seq"])
		after := second.until(runCompleted(runID))
		all := append(before, after...)
		requireGapless(t, all, start+1)
		require.Equal(t, storedSeqs(t, pool, conv)[start:], func() []int64 {
			var s []int64
			for _, e := range all {
				s = append(s, seqOf(e))
			}
			return s
		}(), "every stored event, each once")
		var text string
		for _, e := range all {
			if e["type"] == chat.EventMessageDelta {
				text += e["text"].(string)
			}
		}
		require.Equal(t, text, all[len(all)-2]["message"].(map[string]any)["content"], "the deltas make up the answer")
		require.Equal(t, "completed", all[len(all)-1]["status"])
	})

	t.Run("another user's conversation is not found anywhere", func(t *testing.T) {
		_, other := api2.register()
		for _, p := range []*proc{api1, api2} {
			_, res, err := p.dial(other, conv)
			require.Error(t, err)
			require.NotNil(t, res)
			require.Equal(t, http.StatusNotFound, res.StatusCode, "socket on %s", p.name)

			status, raw := p.do(http.MethodGet, "/api/conversations/"+conv+"/events", other, nil)
			require.Equal(t, http.StatusNotFound, status, "SSE on %s: %s", p.name, raw)
			status, raw = p.do(http.MethodPost, "/api/chat/ticket", other, map[string]any{"conversation_id": conv})
			require.Equal(t, http.StatusNotFound, status, "ticket on %s: %s", p.name, raw)
		}
		// The owner's SSE stream on the second process replays the log from
		// Last-Event-ID, every event once and in order.
		req, err := http.NewRequest(http.MethodGet, api2.base+"/api/conversations/"+conv+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Last-Event-ID", "0")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, err := http.DefaultClient.Do(req.WithContext(ctx))
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		stored := storedSeqs(t, pool, conv)
		sc := bufio.NewScanner(res.Body)
		var ids []int64
		for len(ids) < len(stored) && sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				require.NoError(t, err)
				ids = append(ids, n)
			}
		}
		require.Equal(t, stored, ids)
	})
}

// TestChatTurnOfAKilledWorkerIsRescued: a worker killed (SIGKILL) in the
// middle of a turn leaves its River job running; River's rescuer, on the
// worker that takes over, retries it once jobs.chat_turn_timeout and
// jobs.rescue_stuck_after have passed (a few seconds here, 90s by
// default), and the run finishes there as attempt 2, its events gapless;
// the conversation's next message, sent meanwhile, is answered after it.
func TestChatTurnOfAKilledWorkerIsRescued(t *testing.T) {
	t.Parallel()
	url := dbtest.EmptyDatabase(t)
	fast := []string{"CONSILIUM_JOBS_CHAT_TURN_TIMEOUT=6s", "CONSILIUM_JOBS_RESCUE_STUCK_AFTER=6s", "CONSILIUM_AI_CHAT_MAX_DURATION=5s"}
	api := startProcess(t, "api", url, nil, "serve")
	doomed := startProcess(t, "doomed worker", url, fast, "worker")

	_, token := api.register()
	conv := api.newConversation(token)
	sock, _, err := api.dial(token, conv)
	require.NoError(t, err)
	sock.subscribe(nil)
	runID := api.send(token, conv, "slow 20")
	var deltas int
	evs := sock.until(func(m map[string]any) bool {
		if m["type"] == chat.EventMessageDelta {
			deltas++
		}
		return deltas == 3
	})
	doomed.kill()

	started := time.Now()
	// The conversation's next message waits for the rescued run, and is
	// answered after it.
	next := api.send(token, conv, "slow 2")
	startProcess(t, "second worker", url, fast, "worker")
	evs = append(evs, sock.until(func(m map[string]any) bool {
		if time.Since(started) > 3*time.Minute {
			t.Fatal("the runs were not answered within 3 minutes of the kill")
		}
		return runCompleted(next)(m)
	})...)
	t.Logf("rescued, completed and the next message answered %s after the kill", time.Since(started).Round(time.Second))
	requireGapless(t, evs, seqOf(evs[0]))
	type start struct {
		run     string
		attempt float64
	}
	var starts []start
	var completed []string
	var answer string
	for _, e := range evs {
		switch e["type"] {
		case chat.EventRunStarted:
			starts = append(starts, start{e["run_id"].(string), e["attempt"].(float64)})
		case chat.EventRunCompleted:
			require.Equal(t, "completed", e["status"], e)
			completed = append(completed, e["run_id"].(string))
		case chat.EventMessageCompleted:
			if m := e["message"].(map[string]any); m["role"] == "assistant" && e["run_id"] == runID {
				answer = m["content"].(string)
			}
		}
	}
	// The killed run starts again as attempt 2 on the second worker. Under
	// a loaded machine an attempt can also run out of its (short, here)
	// turn timeout and be retried once more; whatever the number of
	// attempts, they count up from 1 without a gap, every attempt of the
	// first run starts before the next message's run, and the answer is
	// the last attempt's.
	var first, second []float64
	for i, s := range starts {
		switch s.run {
		case runID:
			require.Empty(t, second, "start %d: the first run started again after the next message's run: %v", i, starts)
			first = append(first, s.attempt)
		case next:
			second = append(second, s.attempt)
		default:
			t.Fatalf("start %d names an unknown run: %v", i, starts)
		}
	}
	require.GreaterOrEqual(t, len(first), 2, "the killed run was started again: %v", starts)
	require.NotEmpty(t, second, "the next message's run started: %v", starts)
	for _, attempts := range [][]float64{first, second} {
		for i, a := range attempts {
			require.Equal(t, float64(i+1), a, "attempts count up from 1: %v", starts)
		}
	}
	require.Equal(t, []string{runID, next}, completed)
	require.Contains(t, answer, fmt.Sprintf("[20 of attempt %d]", len(first)))

	// Stored once: per run, the user's message and one answer.
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	for _, run := range []string{runID, next} {
		var users, answers int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE role = 'user'), count(*) FILTER (WHERE role = 'assistant')
			FROM chat_messages WHERE conversation_id = $1 AND run_id = $2`, conv, run).Scan(&users, &answers))
		require.Equal(t, 1, users, "run %s: user messages", run)
		require.Equal(t, 1, answers, "run %s: answers", run)
	}
}
