package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/host"
)

// ErrUnavailable is wrapped by errors of calls to a plugin that is not
// running: starting, restarting after a crash, failed, stopped or disabled.
// River should retry such calls later.
var ErrUnavailable = host.ErrPluginUnavailable

// ErrUnknownPlugin is wrapped by errors about a name no plugin is configured
// under, or configured with another kind.
var ErrUnknownPlugin = errors.New("unknown plugin")

// Host runs the configured plugins.
type Host struct {
	cfg       Config
	logger    *slog.Logger
	lookupEnv func(string) (string, bool)
	version   string

	plugins []*managed
	byName  map[string]*managed

	mu      sync.Mutex
	started bool
	stopped bool

	observer Observer
}

// Option configures a Host.
type Option func(*Host)

// WithLookupEnv sets how the host reads the environment variables named in
// secret_env (and PATH, TMPDIR, TZ, LANG passed to plugins). Default:
// os.LookupEnv.
func WithLookupEnv(fn func(string) (string, bool)) Option {
	return func(h *Host) { h.lookupEnv = fn }
}

// Observer is told about every plugin call and restart (the process's
// metrics).
type Observer interface {
	// ObservePluginCall reports a finished call: result is "ok" or the
	// SDK error code.
	ObservePluginCall(plugin, method, result string, d time.Duration)
	PluginRestarted(plugin string)
}

// WithObserver reports calls and restarts to o.
func WithObserver(o Observer) Option {
	return func(h *Host) { h.observer = o }
}

// WithVersion sets the host version reported to plugins.
func WithVersion(v string) Option {
	return func(h *Host) { h.version = v }
}

// New returns a host for cfg (defaults applied; call cfg.Validate first). It
// starts nothing until Start.
func New(cfg Config, logger *slog.Logger, opts ...Option) *Host {
	if logger == nil {
		logger = slog.Default()
	}
	h := &Host{cfg: cfg.WithDefaults(), logger: logger, lookupEnv: os.LookupEnv, version: "dev", byName: map[string]*managed{}}
	for _, o := range opts {
		o(h)
	}
	for _, pc := range h.cfg.Items {
		m := newManaged(h, pc)
		h.plugins = append(h.plugins, m)
		h.byName[pc.Name] = m
	}
	return h
}

func (h *Host) minLevel() slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if h.logger.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

// Start starts every enabled plugin in the background and returns at once;
// calls fail fast until a plugin is running (see WaitReady). Missing secrets
// are logged. The plugins run until Stop.
func (h *Host) Start(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.stopped {
		return
	}
	h.started = true
	for _, m := range h.plugins {
		if !m.cfg.Enabled {
			m.markReady()
			close(m.done)
			continue
		}
		for name, env := range m.cfg.SecretEnv {
			if v, ok := h.lookupEnv(env); !ok || v == "" {
				m.log.WarnContext(ctx, "secret is not set in the environment", "secret", name, "env", env)
			}
		}
		go m.run()
	}
}

// WaitReady waits until every enabled plugin has finished its first start
// attempt (successful or not), or ctx is done.
func (h *Host) WaitReady(ctx context.Context) error {
	for _, m := range h.plugins {
		select {
		case <-m.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop stops every plugin and waits for the processes to go. A host cannot
// be started again.
func (h *Host) Stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	started := h.started
	h.mu.Unlock()
	if !started {
		return
	}
	for _, m := range h.plugins {
		if m.cfg.Enabled {
			close(m.stop)
		}
	}
	for _, m := range h.plugins {
		<-m.done
	}
}

// States reports every configured plugin, in config order. A nil Host has
// none.
func (h *Host) States() []PluginState {
	if h == nil {
		return nil
	}
	out := make([]PluginState, 0, len(h.plugins))
	for _, m := range h.plugins {
		out = append(out, m.snapshot())
	}
	return out
}

// State reports one plugin.
func (h *Host) State(name string) (PluginState, bool) {
	m, ok := h.byName[name]
	if !ok {
		return PluginState{}, false
	}
	return m.snapshot(), true
}

func (h *Host) lookup(name string, kind sdk.Kind) (*managed, error) {
	m, ok := h.byName[name]
	if !ok {
		return nil, fmt.Errorf("plugin %q is not configured: %w", name, ErrUnknownPlugin)
	}
	if m.cfg.Kind != kind {
		return nil, fmt.Errorf("plugin %q is an %s plugin, not %s: %w", name, m.cfg.Kind, kind, ErrUnknownPlugin)
	}
	return m, nil
}

// LLM returns the llm plugin configured under name. The handle stays valid
// across restarts.
func (h *Host) LLM(name string) (*LLM, error) {
	m, err := h.lookup(name, sdk.KindLLM)
	if err != nil {
		return nil, err
	}
	return &LLM{m: m}, nil
}

// Model returns the llm plugin configured under name as the core services
// see a model provider; Host is their model.Source. A name that is no llm
// plugin's is model.ErrUnknown (and ErrUnknownPlugin).
func (h *Host) Model(name string) (model.LLM, error) {
	c, err := h.LLM(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", model.ErrUnknown, err)
	}
	return c, nil
}

// Integration returns the integration plugin configured under name. The
// handle stays valid across restarts.
func (h *Host) Integration(name string) (*Integration, error) {
	m, err := h.lookup(name, sdk.KindIntegration)
	if err != nil {
		return nil, err
	}
	return &Integration{m: m}, nil
}
