package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/plugin"
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

// openApp migrates (or checks migrations), opens the pool and builds the
// graph. work selects a River client that works jobs.
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, work bool) (*process, error) {
	if err := prepareSchema(ctx, cfg, logger); err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: cfg.Database.MaxConns, Vector: true})
	if err != nil {
		return nil, err
	}
	// The providers are picked from, and the host runs, the configured
	// plugins plus the offline one when none is a model provider.
	cfg.Plugins = withDefaultLLM(cfg.Plugins, cfg.AI.WordNetDir, logger)
	p := &process{cfg: cfg, mig: db.NewMigrator(pool, logger), plugins: plugin.New(cfg.Plugins, logger, plugin.WithVersion(version))}
	p.App, err = app.New(ctx, app.Options{
		Config: cfg, Pool: pool, Logger: logger, Models: p.plugins,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: work}),
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

func defaultLog() config.Log { return config.Default().Log }
