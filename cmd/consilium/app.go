package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/tracing"
	"github.com/consilium-hq/consilium/jobs"
)

// loadConfig reads --config (or $CONSILIUM_CONFIG) and the environment
// (see configSource).
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(configSource(cmd))
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// process is a running consilium: the service graph (built by core/app,
// the one composition root, which the API tests use too), the plugin host
// behind its models, and the migrator behind /readyz.
type process struct {
	*app.App
	cfg *config.Config
	mig *db.Migrator
	// plugins is created here (the AI workers need it) and started by the
	// commands that run plugins (serve, worker).
	plugins *plugin.Host
}

// chatRunner answers the chat runs of this process; nil is the graph's
// default (chat.NoModelRunner until the orchestrator lands). Nothing in the
// binary sets it: only this package's tests do, in the processes they start
// from their own test binary (a runner that streams slowly, to cancel and
// kill a turn mid-answer).
var chatRunner chat.Runner

// openApp migrates (or checks migrations), opens the pool and builds the
// graph. work selects a River client that works jobs.
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, work bool) (*process, error) {
	if err := prepareSchema(ctx, cfg, logger); err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: cfg.Database.MaxConns, AcquireTimeout: cfg.Database.AcquireTimeout, Vector: true})
	if err != nil {
		return nil, err
	}
	// The providers are picked from, and the host runs, the configured
	// plugins plus the offline one when none is a model provider.
	cfg.Plugins = withDefaultLLM(cfg.Plugins, cfg.AI.WordNetDir, logger)
	var m *metrics.Metrics
	hostOpts := []plugin.Option{plugin.WithVersion(version)}
	if cfg.Metrics.Enabled() {
		m = metrics.New()
		hostOpts = append(hostOpts, plugin.WithObserver(m))
	}
	p := &process{cfg: cfg, mig: db.NewMigrator(pool, logger), plugins: plugin.New(cfg.Plugins, logger, hostOpts...)}
	p.App, err = app.New(ctx, app.Options{
		Config: cfg, Pool: pool, Logger: logger, Models: p.plugins, ChatRunner: chatRunner, Integrations: p.plugins, Metrics: m,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: work, Metrics: m}),
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// prepareSchema migrates when database.auto_migrate is set and otherwise
// refuses to start on a database with pending migrations.
func prepareSchema(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	m := db.NewMigrator(pool, logger)
	if cfg.Database.AutoMigrate {
		return m.Up(ctx)
	}
	return m.CheckMigrated(ctx)
}

func (p *process) close() { p.DB.Pool.Close() }

// startTracing installs the OTLP exporter when tracing.otlp_endpoint is
// set; the returned function flushes the spans left.
func startTracing(ctx context.Context, cfg *config.Config, logger *slog.Logger) (func(), error) {
	shutdown, err := tracing.Setup(ctx, tracing.Options{OTLPEndpoint: cfg.Tracing.OTLPEndpoint,
		ServiceName: cfg.Tracing.ServiceName, SampleRatio: cfg.Tracing.SampleRatio, Version: version})
	if err != nil {
		return nil, err
	}
	if cfg.Tracing.OTLPEndpoint != "" {
		logger.Info("exporting traces", "otlp_endpoint", cfg.Tracing.OTLPEndpoint, "sample_ratio", cfg.Tracing.SampleRatio)
	}
	return func() {
		if err := shutdown(context.Background()); err != nil {
			logger.Warn("flush traces", "error", err)
		}
	}, nil
}

// serveMetrics serves /metrics on metrics.addr, when set, until ctx ends;
// it returns the address it listens on.
func (p *process) serveMetrics(ctx context.Context) (string, error) {
	if p.cfg.Metrics.Addr == "" || p.Metrics == nil {
		return "", nil
	}
	ln, err := net.Listen("tcp", p.cfg.Metrics.Addr)
	if err != nil {
		return "", fmt.Errorf("metrics.addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	p.Logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return ln.Addr().String(), nil
}

func defaultLog() config.Log { return config.Default().Log }
