// Package plugintest runs a Consilium plugin in a test: in-process through
// go-plugin's reattach support (fast, debuggable) or as a built subprocess
// (exactly what the host does: handshake, AutoMTLS, a clean environment). A
// FakeHost records what the plugin logs and reports, and RunIntegration and
// RunLLM run the conformance suite as subtests.
//
//	func TestConformance(t *testing.T) {
//		p := plugintest.Serve(t, sdk.ServeConfig{Integration: newMyPlugin()})
//		plugintest.RunIntegration(t, p, conformance.Options{})
//	}
package plugintest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/host"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// FakeHost stands in for the host's services: it keeps every log record and
// progress report a plugin sends.
type FakeHost struct {
	mu       sync.Mutex
	logs     []host.LogRecord
	progress map[string][]sdk.Progress
}

var _ host.HostServices = (*FakeHost)(nil)

// Log records a log record.
func (h *FakeHost) Log(_ context.Context, rec host.LogRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, rec)
}

// ReportProgress records a progress report.
func (h *FakeHost) ReportProgress(_ context.Context, callID string, p sdk.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.progress == nil {
		h.progress = map[string][]sdk.Progress{}
	}
	h.progress[callID] = append(h.progress[callID], p)
}

// Logs returns the log records received so far.
func (h *FakeHost) Logs() []host.LogRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]host.LogRecord(nil), h.logs...)
}

// Progress returns the progress reported for a call (see host.WithCallID).
func (h *FakeHost) Progress(callID string) []sdk.Progress {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Progress(nil), h.progress[callID]...)
}

// Plugin is a plugin running for a test. Exactly one of LLM and Integration
// is set, by the kind it serves (Integration when it serves both).
type Plugin struct {
	Host        *FakeHost
	LLM         *host.LLMClient
	Integration *host.IntegrationClient
	// Client is the go-plugin client, for tests that need the process.
	Client *plugin.Client
}

// Serve runs the plugin in this process and connects to it over a real gRPC
// connection, broker callbacks included. It stops when the test ends.
func Serve(t testing.TB, cfg sdk.ServeConfig) *Plugin {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc, closed, err := sdk.ServeTest(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("plugintest: serve: %v", err)
	}
	p := connect(t, &plugin.ClientConfig{Reattach: rc})
	t.Cleanup(func() {
		p.Client.Kill()
		cancel()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Errorf("plugintest: plugin server did not stop")
		}
	})
	return p
}

// Start starts the plugin binary at path as the host would: a clean
// environment with GOMAXPROCS=1, AutoMTLS and the handshake. It is killed
// when the test ends.
func Start(t testing.TB, path string) *Plugin {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = []string{"GOMAXPROCS=1", "PATH=" + os.Getenv("PATH")}
	p := connect(t, &plugin.ClientConfig{Cmd: cmd, AutoMTLS: true, SkipHostEnv: true, StartTimeout: 30 * time.Second})
	t.Cleanup(p.Client.Kill)
	return p
}

// Build compiles the main package in dir (a path such as "." or
// "./cmd/myplugin") into a temporary directory and returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(mustAbs(t, dir)))
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugintest: go build %s: %v\n%s", dir, err, b)
	}
	return out
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func connect(t testing.TB, cfg *plugin.ClientConfig) *Plugin {
	t.Helper()
	fake := &FakeHost{}
	cfg.HandshakeConfig = sdk.Handshake
	cfg.VersionedPlugins = host.ClientPluginSets(host.ClientOptions{PluginName: "plugintest", LogLevel: slog.LevelDebug, Services: fake})
	// Reattaching skips version negotiation and uses Plugins.
	cfg.Plugins = cfg.VersionedPlugins[sdk.ProtocolVersion]
	cfg.AllowedProtocols = []plugin.Protocol{plugin.ProtocolGRPC}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "plugintest", Level: hclog.Warn, Output: testWriter{t}})
	client := plugin.NewClient(cfg)
	p := &Plugin{Host: fake, Client: client}
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		t.Fatalf("plugintest: start plugin: %v", err)
	}
	raw, err := rpc.Dispense(string(sdk.KindIntegration))
	var mismatch *host.KindMismatchError
	if errors.As(err, &mismatch) {
		raw, err = rpc.Dispense(string(sdk.KindLLM))
	}
	if err != nil {
		client.Kill()
		t.Fatalf("plugintest: connect to plugin: %v", err)
	}
	switch c := raw.(type) {
	case *host.IntegrationClient:
		p.Integration = c
	case *host.LLMClient:
		p.LLM = c
	}
	return p
}

// testWriter sends go-plugin's own log lines (and the plugin's stderr) to
// t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

var _ io.Writer = testWriter{}

// RunIntegration runs the integration conformance suite, one subtest per
// check. Options.Logs defaults to the fake host's records.
func RunIntegration(t *testing.T, p *Plugin, o conformance.Options) {
	t.Helper()
	if p.Integration == nil {
		t.Fatal("plugintest: the plugin does not serve an integration")
	}
	if o.Logs == nil {
		o.Logs = p.Host.Logs
	}
	run(t, conformance.IntegrationChecks(p.Integration, o))
}

// RunLLM runs the llm conformance suite, one subtest per check.
func RunLLM(t *testing.T, p *Plugin, o conformance.Options) {
	t.Helper()
	if p.LLM == nil {
		t.Fatal("plugintest: the plugin does not serve an llm")
	}
	if o.Logs == nil {
		o.Logs = p.Host.Logs
	}
	run(t, conformance.LLMChecks(p.LLM, o))
}

func run(t *testing.T, checks []conformance.Check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			r := conformance.Run(context.Background(), []conformance.Check{c})[0]
			switch {
			case r.Skipped != "":
				t.Skip(r.Skipped)
			case r.Err != nil:
				t.Fatal(r.Err)
			}
		})
	}
}
