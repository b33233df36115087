package plugin

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

type recorder struct {
	mu       sync.Mutex
	calls    []string // plugin method result
	restarts []string
}

func (r *recorder) ObservePluginCall(plugin, method, result string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d <= 0 {
		result += " (no duration)"
	}
	r.calls = append(r.calls, plugin+" "+method+" "+result)
}

func (r *recorder) PluginRestarted(plugin string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restarts = append(r.restarts, plugin)
}

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), append([]string(nil), r.restarts...)
}

// The observer (the process's metrics) hears every call with its result
// and every restart.
func TestObserverSeesCallsAndRestarts(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	b := setup(t, testConfig(item("tp", testBinaries.plugin)), WithObserver(rec))
	c := b.integration(t, "tp")
	ctx := context.Background()

	if _, err := tool(ctx, c, "echo", "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := toolAs(ctx, c, sdk.Connection{ID: "x"}, "fail", map[string]any{"code": sdk.CodeNotFound}); sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Fatalf("fail: %v", err)
	}
	calls, restarts := rec.snapshot()
	want := []string{"tp ExecuteTool ok", "tp ExecuteTool not_found"}
	if len(calls) != 2 || calls[0] != want[0] || calls[1] != want[1] || len(restarts) != 0 {
		t.Fatalf("calls %q restarts %q, want calls %q and no restart", calls, restarts, want)
	}

	pid := b.host.States()[0].PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the restart", func() bool {
		s, _ := b.host.State("tp")
		return s.State == StateRunning && s.PID != pid
	})
	if _, restarts = rec.snapshot(); len(restarts) != 1 || restarts[0] != "tp" {
		t.Fatalf("restarts %q, want [tp]", restarts)
	}
}
