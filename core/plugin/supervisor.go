package plugin

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/host"
)

// stableAfter is how long a plugin must stay up for its restart backoff to
// start again from the minimum.
const stableAfter = 30 * time.Second

// managed is one configured plugin and its supervisor.
type managed struct {
	host *Host
	cfg  PluginConfig
	log  *slog.Logger
	sem  chan struct{}
	lim  *limiter

	callTimeout time.Duration
	calls       sync.Map // call id → func(sdk.Progress)
	callSeq     atomic.Uint64

	mu      sync.Mutex
	state   PluginState
	lastErr error
	inst    *instance
	ready   chan struct{} // closed after the first start attempt ends

	stop chan struct{}
	done chan struct{}
}

// instance is one running plugin process.
type instance struct {
	client *goplugin.Client
	llm    *host.LLMClient
	integ  *host.IntegrationClient
	exited <-chan struct{}
}

func newManaged(h *Host, pc PluginConfig) *managed {
	// A per-plugin value that is not positive means the host-wide one.
	m := &managed{
		host: h, cfg: pc,
		log:         h.logger.With("plugin", pc.Name),
		sem:         make(chan struct{}, cmp.Or(max(pc.MaxConcurrency, 0), h.cfg.MaxConcurrency)),
		lim:         newLimiter(h.cfg.RateLimitMaxWait),
		callTimeout: cmp.Or(max(pc.CallTimeout, 0), h.cfg.CallTimeout),
		ready:       make(chan struct{}),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	m.state = PluginState{Name: pc.Name, Kind: pc.Kind, Path: pc.Path, Enabled: pc.Enabled, State: StateDisabled}
	if pc.Enabled {
		m.state.State = StateStarting
	}
	return m
}

func (m *managed) snapshot() PluginState {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state
	s.Capabilities = append([]sdk.Capability(nil), s.Capabilities...)
	s.Methods = append([]string(nil), s.Methods...)
	return s
}

func (m *managed) current() *instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inst
}

// run supervises the plugin until stop is closed: start, wait for the process
// to exit, back off, start again.
func (m *managed) run() {
	defer close(m.done)
	cfg := m.host.cfg
	backoff := cfg.RestartBackoffMin
	for {
		// A plugin being tried again keeps showing failed or restarting,
		// with the reason, until it runs.
		m.setState(func(s *PluginState) { s.NextAttemptAt = time.Time{} })
		started := time.Now()
		inst, pid, manifest, err := m.start()
		if err != nil {
			m.log.Error("plugin failed to start", "error", err)
			m.setState(func(s *PluginState) { s.State = StateFailed; s.LastError = err.Error(); s.PID = 0 })
			m.mu.Lock()
			m.lastErr = err
			m.mu.Unlock()
		} else {
			m.mu.Lock()
			m.inst = inst
			m.state.State, m.state.PID, m.state.StartedAt, m.state.LastError = StateRunning, pid, started, ""
			m.state.Manifest = manifest
			m.state.DisplayName, m.state.Version = manifest.DisplayName, manifest.Version
			m.state.ProtocolVersion, m.state.SDKVersion = manifest.ProtocolVersion, manifest.SDKVersion
			m.state.Capabilities, m.state.Methods = manifest.Capabilities, manifest.Methods
			m.mu.Unlock()
			m.log.Info("plugin running", "pid", pid, "version", manifest.Version, "protocol", manifest.ProtocolVersion,
				"startup", time.Since(started).Round(time.Millisecond))
		}
		m.markReady()

		if err == nil {
			select {
			case <-inst.exited:
				m.mu.Lock()
				m.inst = nil
				m.state.State, m.state.PID, m.state.LastError = StateRestarting, 0, "plugin process exited unexpectedly"
				m.state.Restarts++
				m.mu.Unlock()
				if o := m.host.observer; o != nil {
					o.PluginRestarted(m.cfg.Name)
				}
				m.log.Error("plugin process exited unexpectedly; restarting", "uptime", time.Since(started).Round(time.Millisecond))
				inst.client.Kill()
			case <-m.stop:
				m.mu.Lock()
				m.inst = nil
				m.mu.Unlock()
				inst.client.Kill()
				m.setState(func(s *PluginState) { s.State = StateStopped; s.PID = 0 })
				return
			}
			if time.Since(started) >= stableAfter {
				backoff = cfg.RestartBackoffMin
			}
		}

		// ±20% jitter so that plugins that died together do not restart in step.
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		backoff = min(backoff*2, cfg.RestartBackoffMax)
		m.setState(func(s *PluginState) { s.NextAttemptAt = time.Now().Add(wait) })
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-m.stop:
			t.Stop()
			m.setState(func(s *PluginState) { s.State = StateStopped; s.NextAttemptAt = time.Time{} })
			return
		}
	}
}

func (m *managed) markReady() {
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}
}

func (m *managed) setState(f func(s *PluginState)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.state)
}

// start launches a fresh process. go-plugin clients cannot be restarted, so
// every start builds a new exec.Cmd, SecureConfig and Client.
func (m *managed) start() (*instance, int, *sdk.Manifest, error) {
	cfg := m.host.cfg
	cmd := exec.Command(m.cfg.Path)
	cmd.Env = m.env()
	var secure *goplugin.SecureConfig
	if m.cfg.SHA256 != "" {
		sum, err := hex.DecodeString(m.cfg.SHA256)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("sha256: %w", err)
		}
		secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: sdk.Handshake,
		VersionedPlugins: host.ClientPluginSets(host.ClientOptions{
			PluginName: m.cfg.Name, HostVersion: m.host.version, LogLevel: m.host.minLevel(), Services: m,
		}),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     secure,
		SkipHostEnv:      true,
		StartTimeout:     cfg.StartTimeout,
		Logger:           newHCLogger(m.log),
		SyncStdout:       &lineLogger{log: func(l string) { m.log.Info("plugin wrote to stdout", "line", l) }},
		SyncStderr:       io.Discard, // stderr already reaches the logger through go-plugin
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, 0, nil, m.explainStartError(err)
	}
	raw, err := rpc.Dispense(string(m.cfg.Kind))
	if err != nil {
		client.Kill()
		return nil, 0, nil, fmt.Errorf("connect: %w", err)
	}
	if raw == nil {
		client.Kill()
		return nil, 0, nil, fmt.Errorf("connect: the plugin gave no %s client", m.cfg.Kind)
	}
	inst := &instance{client: client}
	var describe func(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error)
	switch c := raw.(type) {
	case *host.LLMClient:
		inst.llm, inst.exited, describe = c, c.Exited(), c.Describe
	case *host.IntegrationClient:
		inst.integ, inst.exited, describe = c, c.Exited(), c.Describe
	default:
		client.Kill()
		return nil, 0, nil, fmt.Errorf("connect: unexpected client %T", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	manifest, err := describe(ctx, &sdk.DescribeRequest{Connection: m.connection(nil)})
	if err != nil {
		client.Kill()
		return nil, 0, nil, fmt.Errorf("describe: %w", err)
	}
	if err := manifest.Validate(); err != nil {
		// A newer plugin may declare things this host does not know yet;
		// run it, but say so.
		m.log.Warn("plugin manifest has problems", "error", err)
	}
	m.lim.configure(manifest.RateLimits)
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	return inst, pid, manifest, nil
}

var versionMismatchRE = regexp.MustCompile(`Plugin version: (\d+)`)

func (m *managed) explainStartError(err error) error {
	if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
		actual := "unreadable"
		if f, ferr := os.Open(m.cfg.Path); ferr == nil {
			h := sha256.New()
			if _, ferr := io.Copy(h, f); ferr == nil {
				actual = hex.EncodeToString(h.Sum(nil))
			}
			f.Close()
		}
		return fmt.Errorf("refusing to start %s: its sha256 is %s but the config expects %s", m.cfg.Path, actual, m.cfg.SHA256)
	}
	if sm := versionMismatchRE.FindStringSubmatch(err.Error()); sm != nil {
		v, _ := strconv.Atoi(sm[1])
		return &host.VersionMismatchError{Plugin: m.cfg.Name, PluginVersion: v, HostVersions: host.SupportedProtocolVersions()}
	}
	return fmt.Errorf("start %s: %w", m.cfg.Path, err)
}

// env is the plugin's whole environment: it never inherits the host's, which
// holds database URLs and API keys.
func (m *managed) env() []string {
	env := []string{"CONSILIUM_PLUGIN_NAME=" + m.cfg.Name}
	if n := m.host.cfg.GoMaxProcs; n > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(n))
	}
	for _, k := range []string{"PATH", "TMPDIR", "TZ", "LANG"} {
		if v, ok := m.host.lookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// connection merges the plugin's config and secrets from the host config
// under the caller's connection.
func (m *managed) connection(c *sdk.Connection) sdk.Connection {
	var out sdk.Connection
	if c != nil {
		out = *c
	}
	if len(m.cfg.Config) > 0 {
		merged := make(map[string]string, len(m.cfg.Config)+len(out.Config))
		for k, v := range m.cfg.Config {
			merged[k] = v
		}
		for k, v := range out.Config {
			merged[k] = v
		}
		out.Config = merged
	}
	if len(m.cfg.SecretEnv) > 0 {
		merged := make(map[string]string, len(m.cfg.SecretEnv)+len(out.Secrets))
		for name, env := range m.cfg.SecretEnv {
			if v, ok := m.host.lookupEnv(env); ok {
				merged[name] = v
			}
		}
		for k, v := range out.Secrets {
			merged[k] = v
		}
		out.Secrets = merged
	}
	return out
}

// Host services the plugin calls back into.

var _ host.HostServices = (*managed)(nil)

func (m *managed) Log(ctx context.Context, rec host.LogRecord) {
	args := make([]any, 0, 2*len(rec.Attrs)+2)
	if rec.CallID != "" {
		args = append(args, "call_id", rec.CallID)
	}
	for k, v := range rec.Attrs {
		args = append(args, k, v)
	}
	m.log.Log(ctx, rec.Level, rec.Message, args...)
}

func (m *managed) ReportProgress(ctx context.Context, callID string, p sdk.Progress) {
	if fn, ok := m.calls.Load(callID); ok {
		fn.(func(sdk.Progress))(p)
	}
}
