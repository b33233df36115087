package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/jobs"
)

// loadConfig reads --config (or $CONSILIUM_CONFIG) and the environment.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("CONSILIUM_CONFIG")
	}
	return config.Load(path, nil)
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

// app is the wired process: pool, services and River client.
type app struct {
	cfg    *config.Config
	logger *slog.Logger
	pool   *pgxpool.Pool
	db     *db.DB
	auth   *auth.Service
	notes  *note.Service
	tasks  *task.Service
	plan   *plan.Service
	ai     *ai.Service
	chat   *chat.Service
	// hub streams chat events to this process's sockets and hears run
	// cancels for its workers; serve and worker start it.
	hub   *chat.Hub
	river *river.Client[pgx.Tx]
	mig   *db.Migrator
	// plugins is created here (the AI workers need it) and started by the
	// commands that run plugins (serve, worker).
	plugins *plugin.Host
}

// openApp migrates (or checks migrations), opens the pool and wires the
// services. work selects a River client that works jobs.
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, work bool) (*app, error) {
	if err := prepareSchema(ctx, cfg, logger); err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, cfg.Database.URL, db.PoolOptions{MaxConns: cfg.Database.MaxConns, Vector: true})
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, logger: logger, pool: pool, db: db.New(pool), mig: db.NewMigrator(pool, logger)}
	a.auth, err = auth.New(ctx, auth.Options{DB: a.db, Config: cfg.Auth, Logger: logger})
	if err != nil {
		pool.Close()
		return nil, err
	}
	pluginCfg := withDefaultLLM(cfg.Plugins, logger)
	a.plugins = plugin.New(pluginCfg, logger, plugin.WithVersion(version))
	providers, err := ai.Resolve(cfg.AI, pluginCfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	// The AI hook queues embedding jobs in every note save's transaction.
	aiHook := func(ctx context.Context, tx db.Tx, c *note.Change) error { return a.ai.NoteHook(ctx, tx, c) }
	a.notes = note.NewService(a.db, note.Options{Indexer: task.NewIndex(), SearchJobs: true, Hooks: []note.Hook{aiHook}})
	a.tasks = task.NewService(a.db, a.notes)
	a.plan = plan.NewService(a.db, a.tasks)
	a.ai, err = ai.New(ai.Options{DB: a.db, Notes: a.notes, Config: cfg.AI, Models: a.plugins, Providers: providers, Logger: logger})
	if err != nil {
		pool.Close()
		return nil, err
	}
	// Chat (issue 11): runs are answered by NoModelRunner until the
	// orchestrator lands.
	a.hub = chat.NewHub(pool, logger)
	a.chat = chat.NewService(chat.Options{DB: a.db, Agents: a.ai, Hub: a.hub, Logger: logger})
	workers := jobs.Workers(jobs.Services{DB: a.db, Auth: a.auth, AI: a.ai, Chat: a.chat, ChatRunner: chat.NoModelRunner{}, Logger: logger})
	a.river, err = jobs.NewClient(pool, workers, jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: work})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("river: %w", err)
	}
	a.db.SetJobs(a.river)
	return a, nil
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

func (a *app) close() { a.pool.Close() }

func defaultLog() config.Log { return config.Default().Log }
