package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/sdk"
)

func tool(ctx context.Context, c *Integration, name string, args any) (json.RawMessage, error) {
	return toolAs(ctx, c, sdk.Connection{}, name, args)
}

func toolAs(ctx context.Context, c *Integration, conn sdk.Connection, name string, args any) (json.RawMessage, error) {
	raw, _ := json.Marshal(args)
	resp, err := c.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: conn, Name: name, Arguments: raw})
	if err != nil {
		return nil, err
	}
	return resp.Output, nil
}

func TestHandshakeAndState(t *testing.T) {
	t.Parallel()
	disabled := item("off", "/nonexistent/plugin")
	disabled.Enabled = false
	b := setup(t, testConfig(item("tp", testBinaries.plugin), disabled))

	states := b.host.States()
	if len(states) != 2 {
		t.Fatalf("states: %+v", states)
	}
	s := states[0]
	if s.State != StateRunning || s.PID == 0 || s.Version != "1.2.3" || s.ProtocolVersion != sdk.ProtocolVersion ||
		s.SDKVersion != sdk.Version || !slices.Contains(s.Capabilities, sdk.CapTools) || !slices.Contains(s.Methods, "ExecuteTool") {
		t.Fatalf("running plugin state: %+v", s)
	}
	if states[1].State != StateDisabled || states[1].Name != "off" {
		t.Fatalf("disabled plugin state: %+v", states[1])
	}
	out, err := tool(context.Background(), b.integration(t, "tp"), "echo", map[string]string{"hello": "world"})
	if err != nil || string(out) != `{"hello":"world"}` {
		t.Fatalf("echo: %s, %v", out, err)
	}
	// A disabled plugin fails fast; an unknown or wrong-kind name is refused.
	off := b.integration(t, "off")
	if _, err := tool(context.Background(), off, "echo", nil); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("call to a disabled plugin: %v", err)
	}
	if _, err := b.host.Integration("nope"); !errors.Is(err, ErrUnknownPlugin) {
		t.Fatalf("unknown plugin: %v", err)
	}
	if _, err := b.host.LLM("tp"); !errors.Is(err, ErrUnknownPlugin) {
		t.Fatalf("wrong kind: %v", err)
	}
}

// The plugin gets only what the host hands it: no host environment, config
// and secrets per call, GOMAXPROCS=1.
func TestPluginEnvironmentAndConnection(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOST_SECRET": "s3cret", "DATABASE_URL": "postgres://do-not-leak"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	pc := item("tp", testBinaries.plugin)
	pc.Config = map[string]string{"region": "eu", "mode": "default"}
	pc.SecretEnv = map[string]string{"api_key": "HOST_SECRET"}
	b := setup(t, testConfig(pc), WithLookupEnv(lookup))
	c := b.integration(t, "tp")

	out, err := tool(context.Background(), c, "env", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = json.Unmarshal(out, &got)
	if !slices.Contains(got, "GOMAXPROCS=1") || !slices.Contains(got, "CONSILIUM_PLUGIN_NAME=tp") {
		t.Fatalf("plugin env lacks GOMAXPROCS=1 or its name: %v", got)
	}
	for _, kv := range got {
		if strings.Contains(kv, "s3cret") || strings.Contains(kv, "do-not-leak") || strings.HasPrefix(kv, "HOME=") {
			t.Fatalf("host environment leaked into the plugin: %q", kv)
		}
	}

	out, err = toolAs(context.Background(), c, sdk.Connection{ID: "acct-1", Config: map[string]string{"mode": "mine"}}, "connection", nil)
	if err != nil {
		t.Fatal(err)
	}
	var conn sdk.Connection
	_ = json.Unmarshal(out, &conn)
	if conn.ID != "acct-1" || conn.Config["region"] != "eu" || conn.Config["mode"] != "mine" || conn.Secrets["api_key"] != "s3cret" {
		t.Fatalf("connection seen by the plugin: %+v", conn)
	}
}

func TestVersionMismatchNamesBothVersions(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("future", testBinaries.proto2)))
	s, _ := b.host.State("future")
	if s.State != StateFailed {
		t.Fatalf("state %s, want failed", s.State)
	}
	if !containsAll(s.LastError, `"future"`, "protocol v2", "host speaks v1", "upgrade Consilium") {
		t.Fatalf("error does not name both versions and the side to upgrade: %s", s.LastError)
	}
	_, err := tool(context.Background(), b.integration(t, "future"), "echo", nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "protocol v2") {
		t.Fatalf("call to the mismatched plugin: %v", err)
	}
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile(testBinaries.plugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(f)
	good := item("good", testBinaries.plugin)
	good.SHA256 = hex.EncodeToString(sum[:])
	bad := item("bad", testBinaries.plugin)
	bad.SHA256 = strings.Repeat("ab", 32)
	b := setup(t, testConfig(good, bad))

	if s, _ := b.host.State("good"); s.State != StateRunning {
		t.Fatalf("plugin with the right checksum: %+v", s)
	}
	s, _ := b.host.State("bad")
	if s.State != StateFailed || !containsAll(s.LastError, "refusing to start", good.SHA256, bad.SHA256) {
		t.Fatalf("plugin with a wrong checksum: state %s, error %q", s.State, s.LastError)
	}
	if s.PID != 0 {
		t.Fatalf("refused plugin has a pid: %d", s.PID)
	}
}

func TestCrashDuringCallRestarts(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	c := b.integration(t, "tp")
	ctx := context.Background()
	pid := b.host.States()[0].PID

	errc := make(chan error, 1)
	go func() {
		_, err := tool(ctx, c, "hang", nil)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the call reach the plugin
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// How fast all this happens is measured by make bench, not here: the
	// deadlines below only keep a broken host from hanging the suite.
	killed := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrUnavailable) || sdk.CodeOf(err) != sdk.CodeTemporary {
			t.Fatalf("call during the crash: %v, want a temporary error wrapping ErrUnavailable", err)
		}
		t.Logf("the call failed %s after the kill", time.Since(killed))
	case <-time.After(time.Minute):
		t.Fatal("call did not fail within a minute of the plugin being killed")
	}

	// While it is down, calls fail with ErrUnavailable (or, if it is back
	// already, succeed).
	waitFor(t, time.Minute, "the crash to be noticed", func() bool {
		s, _ := b.host.State("tp")
		return s.State != StateRunning || s.PID != pid
	})
	if s, _ := b.host.State("tp"); s.State != StateRunning {
		if _, err := tool(ctx, c, "echo", nil); err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call while down: %v, want ErrUnavailable", err)
		}
	}

	waitFor(t, time.Minute, "the restart", func() bool {
		s, _ := b.host.State("tp")
		return s.State == StateRunning
	})
	s, _ := b.host.State("tp")
	if s.PID == pid || s.Restarts != 1 {
		t.Fatalf("after restart: pid %d (was %d), restarts %d", s.PID, pid, s.Restarts)
	}
	if out, err := tool(ctx, c, "echo", "again"); err != nil || string(out) != `"again"` {
		t.Fatalf("call after the restart: %s, %v", out, err)
	}
	if !strings.Contains(b.logs.String(), "plugin process exited unexpectedly") {
		t.Fatal("the crash was not logged")
	}
}

func TestHangingCallIsCancelledByItsDeadline(t *testing.T) {
	t.Parallel()
	pc := item("tp", testBinaries.plugin)
	pc.CallTimeout = 300 * time.Millisecond
	b := setup(t, testConfig(pc))
	c := b.integration(t, "tp")

	start := time.Now()
	_, err := tool(context.Background(), c, "hang", nil)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || sdk.CodeOf(err) != sdk.CodeTemporary {
		t.Fatalf("hanging call: %v, want a temporary error wrapping context.DeadlineExceeded", err)
	}
	// Not before its deadline; the upper bound only keeps a broken host
	// from hanging the suite (how fast is make bench's business).
	if took < 300*time.Millisecond || took > time.Minute {
		t.Fatalf("hanging call returned after %s, want 300ms or a little more", took)
	}
	// The caller's own deadline wins when it is sooner: against a plugin
	// whose call timeout is an hour, the call returns.
	long := item("tp", testBinaries.plugin)
	long.CallTimeout = time.Hour
	lc := setup(t, testConfig(long)).integration(t, "tp")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := tool(ctx, lc, "hang", nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Minute {
		t.Fatalf("caller deadline: %v after %s", err, time.Since(start))
	}
	// The plugin still serves other calls.
	if _, err := tool(context.Background(), c, "echo", 1); err != nil {
		t.Fatalf("call after the hang: %v", err)
	}
	// The SDK reported the handler that ignored cancellation.
	waitFor(t, 3*time.Second, "the ignored-cancellation warning", func() bool {
		return strings.Contains(b.logs.String(), "still running after the host cancelled")
	})
}

func TestPanicBecomesAnErrorForThatCall(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	c := b.integration(t, "tp")
	pid := b.host.States()[0].PID

	_, err := tool(context.Background(), c, "panic", nil)
	if sdk.CodeOf(err) != sdk.CodeInternal || !strings.Contains(err.Error(), "plugin panicked in ExecuteTool") {
		t.Fatalf("panicking call: %v", err)
	}
	if _, err := tool(context.Background(), c, "echo", 1); err != nil {
		t.Fatalf("call after the panic: %v", err)
	}
	if s, _ := b.host.State("tp"); s.PID != pid || s.Restarts != 0 {
		t.Fatalf("the plugin restarted after a panic: %+v", s)
	}
	waitFor(t, 2*time.Second, "the panic's stack in the host log", func() bool {
		return containsAll(b.logs.String(), "panic in plugin handler", "plugin=tp", "assignment to entry in nil map")
	})
}

func TestStdoutNoiseDoesNotBreakTheHandshake(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("noisy", testBinaries.noisy)))
	s, _ := b.host.State("noisy")
	if s.State != StateRunning {
		t.Fatalf("noisy plugin: %s: %s", s.State, s.LastError)
	}
	c := b.integration(t, "noisy")
	if out, err := tool(context.Background(), c, "print", nil); err != nil || string(out) != `"printed"` {
		t.Fatalf("printing call: %s, %v", out, err)
	}
	if out, err := tool(context.Background(), c, "echo", 2); err != nil || string(out) != "2" {
		t.Fatalf("call after printing: %s, %v", out, err)
	}
	// The noise is not lost: it reaches the host's log under the plugin's name.
	waitFor(t, 2*time.Second, "the noise in the host log", func() bool {
		l := b.logs.String()
		return containsAll(l, "noise from init", "noise before Serve", "noise from a call via os.Stdout", "noise from a call via fd 1")
	})
}

func TestTypedErrorsSurviveTheWire(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	c := b.integration(t, "tp")
	for _, code := range sdk.Codes {
		t.Run(string(code), func(t *testing.T) {
			// Each code on its own connection: a rate_limited answer pauses
			// the connection that got it.
			_, err := toolAs(context.Background(), c, sdk.Connection{ID: string(code)}, "fail", map[string]any{"code": code, "retry_after_ms": 1500})
			var e *sdk.Error
			if !errors.As(err, &e) {
				t.Fatalf("%v (%T) is not an *sdk.Error", err, err)
			}
			if e.Code != code || e.RetryAfter != 1500*time.Millisecond || e.Message != "failed on request" {
				t.Fatalf("got %+v", e)
			}
			if !strings.HasPrefix(err.Error(), "plugin tp: ExecuteTool: ") {
				t.Fatalf("error does not name plugin and method: %v", err)
			}
		})
	}
}

func TestDeclaredRateLimitHolds(t *testing.T) {
	t.Parallel()
	limited := item("limited", testBinaries.plugin)
	limited.Config = map[string]string{"rate_requests": "20", "rate_per": "1s", "rate_burst": "1"}
	strict := item("strict", testBinaries.plugin)
	strict.Config = map[string]string{"rate_requests": "1", "rate_per": "1m", "rate_burst": "1"}
	b := setup(t, testConfig(limited, strict))
	ctx := context.Background()

	// 12 calls on one connection at 20/s with burst 1 take at least 550ms,
	// even from 4 concurrent callers; they wait rather than fail.
	c := b.integration(t, "limited")
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for range 3 {
				if _, err := toolAs(ctx, c, sdk.Connection{ID: "a"}, "echo", 1); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d calls failed", n)
	}
	if took := time.Since(start); took < 550*time.Millisecond {
		t.Fatalf("12 calls at 20/s with burst 1 took %s, want at least 550ms", took)
	}

	// At 1 per minute a second call cannot wait: it fails with rate_limited
	// and a retry-after, without reaching the plugin. Another connection has
	// its own bucket.
	s := b.integration(t, "strict")
	if _, err := toolAs(ctx, s, sdk.Connection{ID: "c"}, "echo", 1); err != nil {
		t.Fatal(err)
	}
	_, err := toolAs(ctx, s, sdk.Connection{ID: "c"}, "echo", 1)
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeRateLimited || e.RetryAfter < 50*time.Second || e.RetryAfter > time.Minute {
		t.Fatalf("second call within the minute: %v", err)
	}
	if _, err := toolAs(ctx, s, sdk.Connection{ID: "d"}, "echo", 1); err != nil {
		t.Fatalf("first call on another connection: %v", err)
	}
	calls, err := toolAs(ctx, s, sdk.Connection{ID: "e"}, "calls", nil)
	if err != nil || string(calls) != "3" { // c, d and this one
		t.Fatalf("calls that reached the plugin: %s (%v), want 3", calls, err)
	}
}

func TestRateLimitedAnswerIsHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	c := b.integration(t, "tp")
	ctx := context.Background()
	slow := sdk.Connection{ID: "slow"}

	_, err := toolAs(ctx, c, slow, "fail", map[string]any{"code": sdk.CodeRateLimited, "retry_after_ms": 1500})
	if sdk.CodeOf(err) != sdk.CodeRateLimited {
		t.Fatal(err)
	}
	before, _ := tool(ctx, c, "calls", nil)
	// The host holds this connection's calls back without asking the plugin…
	_, err = toolAs(ctx, c, slow, "echo", 1)
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != sdk.CodeRateLimited || e.RetryAfter <= 0 || e.RetryAfter > 1500*time.Millisecond {
		t.Fatalf("call during the plugin's wait: %v", err)
	}
	after, _ := tool(ctx, c, "calls", nil)
	var n0, n1 int
	_ = json.Unmarshal(before, &n0)
	_ = json.Unmarshal(after, &n1)
	if n1 != n0+1 { // only the "calls" call itself reached the plugin
		t.Fatalf("the held-back call reached the plugin (%d → %d calls)", n0, n1)
	}
	// …while other connections go through, and it goes through after the wait.
	if _, err := toolAs(ctx, c, sdk.Connection{ID: "other"}, "echo", 1); err != nil {
		t.Fatalf("other connection: %v", err)
	}
	time.Sleep(e.RetryAfter + 20*time.Millisecond)
	if _, err := toolAs(ctx, c, slow, "echo", 1); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	pc := item("tp", testBinaries.plugin)
	pc.MaxConcurrency = 2
	b := setup(t, testConfig(pc))
	c := b.integration(t, "tp")
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := tool(context.Background(), c, "sleep", map[string]int{"ms": 60}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	out, err := tool(context.Background(), c, "max_in_flight", nil)
	if err != nil || string(out) != "2" {
		t.Fatalf("max calls in flight inside the plugin: %s (%v), want 2", out, err)
	}
}

func TestLogsAndProgressReachTheHost(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	var mu sync.Mutex
	var got []sdk.Progress
	ctx := WithProgress(context.Background(), func(p sdk.Progress) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, p)
	})
	if _, err := tool(ctx, b.integration(t, "tp"), "progress", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[2].Done != 3 || got[2].Total != 3 {
		t.Fatalf("progress: %+v", got)
	}
	if l := b.logs.String(); !containsAll(l, "progress reported", "plugin=tp", "call_id=tp-", "method=ExecuteTool", "steps=3") {
		t.Fatalf("plugin log record missing or unattributed:\n%s", l)
	}
}

func TestLLMThroughTheHost(t *testing.T) {
	t.Parallel()
	pc := item("echo", testBinaries.plugin)
	pc.Kind = sdk.KindLLM
	b := setup(t, testConfig(pc))
	// Through the core's seam, as core/ai and core/chat reach it.
	var src model.Source = b.host
	llm, err := src.Model("echo")
	if err != nil {
		t.Fatal(err)
	}
	if !llm.Available() {
		t.Fatal("a running plugin is not available")
	}
	var words []string
	resp, err := llm.Chat(context.Background(), &sdk.ChatRequest{Model: "echo", Stream: true,
		Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "plan my day"}}},
		sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error { words = append(words, ev.Text); return nil }))
	if err != nil || resp.Message.Content != "plan my day" || strings.Join(words, "|") != "plan| my| day" {
		t.Fatalf("chat: %+v %v (streamed %v)", resp, err, words)
	}
	embedder, err := model.Embedder(llm)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := embedder.Embed(context.Background(), &sdk.EmbedRequest{Model: "echo", Texts: []string{"ab", "abc"}})
	if err != nil || emb.Dimension != 3 || len(emb.Vectors) != 2 || emb.Vectors[1][0] != 3 {
		t.Fatalf("embed: %+v %v", emb, err)
	}
	// The host's client always has Transcribe; the plugin without one
	// answers CodeUnimplemented, as model.Transcriber does for a provider
	// that has none.
	tr, err := model.Transcriber(llm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transcribe(context.Background(), &sdk.TranscribeRequest{Image: []byte{1}}); sdk.CodeOf(err) != sdk.CodeUnimplemented {
		t.Fatalf("transcribe: %v", err)
	}
	for _, name := range []string{"nope", "tp-missing"} {
		if _, err := src.Model(name); !errors.Is(err, model.ErrUnknown) || !errors.Is(err, ErrUnknownPlugin) {
			t.Fatalf("Model(%q): %v, want model.ErrUnknown", name, err)
		}
	}
	b.host.Stop()
	if llm.Available() {
		t.Fatal("a stopped plugin is available")
	}
	if _, err := llm.Chat(context.Background(), &sdk.ChatRequest{}, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("chat after Stop: %v", err)
	}
}

// TestModelOfAnotherKind: an integration plugin is no model provider.
func TestModelOfAnotherKind(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	if _, err := b.host.Model("tp"); !errors.Is(err, model.ErrUnknown) || !strings.Contains(err.Error(), "not llm") {
		t.Fatalf("Model(integration): %v", err)
	}
}

func TestStopEndsThePlugins(t *testing.T) {
	t.Parallel()
	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	pid := b.host.States()[0].PID
	b.host.Stop()
	if s, _ := b.host.State("tp"); s.State != StateStopped {
		t.Fatalf("state after Stop: %s", s.State)
	}
	waitFor(t, 3*time.Second, "the process to exit", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	if _, err := tool(context.Background(), b.integration(t, "tp"), "echo", 1); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call after Stop: %v", err)
	}
}
