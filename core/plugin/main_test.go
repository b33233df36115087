package plugin

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// testBinaries holds the test plugin built once for the whole package, under
// several names (its behaviour depends on the name).
var testBinaries struct {
	dir                   string
	plugin, noisy, proto2 string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "consilium-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testBinaries.dir = dir
	testBinaries.plugin = filepath.Join(dir, "testplugin")
	testBinaries.proto2 = filepath.Join(dir, "futureplugin")
	// One go build for both binaries keeps the test start short on small machines.
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"-ldflags", fmt.Sprintf("-X main.cookieKey=%s -X main.cookieValue=%s", sdk.Handshake.MagicCookieKey, sdk.Handshake.MagicCookieValue),
		"./testdata/testplugin", "./testdata/futureplugin")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build test plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	testBinaries.noisy = filepath.Join(dir, "testplugin-noisy")
	if err := os.Link(testBinaries.plugin, testBinaries.noisy); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer is a slog handler target that tests can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testBundle struct {
	host *Host
	logs *logBuffer
}

// testConfig is a host config with quick restarts.
func testConfig(items ...PluginConfig) Config {
	return Config{
		CallTimeout:       5 * time.Second,
		StartTimeout:      15 * time.Second,
		RestartBackoffMin: 50 * time.Millisecond,
		RestartBackoffMax: 200 * time.Millisecond,
		RateLimitMaxWait:  2 * time.Second,
		Items:             items,
	}
}

func item(name, path string) PluginConfig {
	return PluginConfig{Name: name, Kind: "integration", Path: path, Enabled: true}
}

// setup starts a host for cfg and waits for its first start attempts.
func setup(t *testing.T, cfg Config, opts ...Option) *testBundle {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	h := New(cfg, logger, opts...)
	h.Start(context.Background())
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("host log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return &testBundle{host: h, logs: logs}
}

func (b *testBundle) integration(t *testing.T, name string) *Integration {
	t.Helper()
	c, err := b.host.Integration(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
