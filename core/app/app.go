package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/chat/tools"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/core/user"
)

// App is the service graph of one process.
type App struct {
	DB    *db.DB
	Auth  *auth.Service
	Users *user.Service
	Notes *note.Service
	Tasks *task.Service
	Plan  *plan.Service
	AI    *ai.Service
	// Chat serves conversations and runs; Hub is this process's chat event
	// hub (one LISTEN connection): the caller starts it in processes that
	// stream events (serve) or work runs (worker, for run.cancel).
	Chat *chat.Service
	// Agents are the configured chat agents.
	Agents     *chat.Registry
	Hub        *chat.Hub
	ChatRunner chat.Runner
	// Integrations is connections to outside systems.
	Integrations *integration.Service
	River        *river.Client[pgx.Tx]
	Logger       *slog.Logger
	// Metrics is nil when the process exports none.
	Metrics *metrics.Metrics
}

// JobsFunc builds the River client of a finished graph, knowing the
// workers of its services; jobs.Client returns one.
type JobsFunc func(a *App) (*river.Client[pgx.Tx], error)

// Options are what differs between the processes and tests that build the
// graph.
type Options struct {
	// Config is the whole configuration: auth, ai, jobs, and the plugins
	// the AI providers are picked from (see ai.Resolve). Required.
	Config *config.Config
	// Pool is the database; the caller opens and closes it. Required.
	Pool *pgxpool.Pool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Jobs builds the River client (jobs.Client). Required: services insert
	// their jobs in their own transactions.
	Jobs JobsFunc
	// Models are the model providers: the plugin host in a process, a
	// scripted model (modeltest) or a test's own host in tests. Nil: every
	// model call answers unavailable, and everything else works.
	Models model.Source
	// DefaultProvider is the model provider of the work that neither the
	// ai section names nor ai.Resolve finds among the configured plugins.
	// Tests that hand in Models of their own name the provider here; a
	// process leaves it empty and declares its plugins.
	DefaultProvider string
	// AIQueue is the River queue of the AI, chat and integration sync jobs
	// (default: River's default queue). Tests give each graph a queue of its own, so that graphs on
	// one database never work each other's jobs.
	AIQueue string
	// ChatQueue is the River queue of chat turns (default chat.Queue, or
	// AIQueue when a test names only that).
	ChatQueue string
	// NoteHooks and TaskHooks run after the graph's own hooks on every
	// note save and task index change, in the same transaction.
	NoteHooks []note.Hook
	TaskHooks []task.Hook
	// Metrics, when set, watches the pool and River's queues; the API and
	// the jobs count into it.
	Metrics *metrics.Metrics
	// ChatRunner answers chat runs (default the orchestrator over Models);
	// tests may script their own.
	ChatRunner chat.Runner
	// ChatTools are the tools chat agents act through (core/chat/tools
	// builds them over the graph's services); an agent is offered those
	// its config names.
	ChatTools func(a *App) []chat.Tool
	// Integrations runs the integration plugins (the plugin host); nil:
	// no provider is available.
	Integrations integration.Plugins
	// Now is the clock of the integrations' sync and cleanup (default
	// time.Now); tests move it on instead of waiting.
	Now func() time.Time
}

// New builds the graph. It starts nothing: the caller starts River (and
// the plugin host behind Models) when it works jobs.
func New(ctx context.Context, o Options) (*App, error) {
	if o.Config == nil || o.Pool == nil || o.Jobs == nil {
		return nil, errors.New("app.New: Config, Pool and Jobs are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg := o.Config
	a := &App{DB: db.New(o.Pool), Logger: o.Logger, Metrics: o.Metrics}
	o.Metrics.WatchDatabase(o.Pool)
	var err error
	a.Auth, err = auth.New(ctx, auth.Options{DB: a.DB, Config: cfg.Auth, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	a.Users = user.NewService(a.DB)
	a.Notes = note.NewService(a.DB, note.Options{
		Indexer:    task.NewIndex(append(a.taskHooks(), o.TaskHooks...)...),
		Hooks:      append(a.noteHooks(), o.NoteHooks...),
		SearchJobs: true,
	})
	a.Tasks = task.NewService(a.DB, a.Notes)
	a.Plan = plan.NewService(a.DB, a.Tasks)

	providers, err := ai.Resolve(cfg.AI, cfg.Plugins)
	if err != nil {
		return nil, err
	}
	for _, p := range []*string{&providers.Embedding, &providers.Chat, &providers.Transcription} {
		if *p == "" {
			*p = o.DefaultProvider
		}
	}
	a.AI, err = ai.New(ai.Options{DB: a.DB, Notes: a.Notes, Config: cfg.AI, Models: o.Models, Providers: providers,
		Queue: o.AIQueue, Logger: o.Logger})
	if err != nil {
		return nil, err
	}

	// Chat runs go to a queue of their own (a test graph's, which its
	// workers alone work, when it names one).
	chatQueue := o.ChatQueue
	if chatQueue == "" {
		chatQueue = chat.Queue
		if o.AIQueue != "" {
			chatQueue = o.AIQueue
		}
	}
	a.Hub = chat.NewHub(o.Pool, o.Logger)
	a.Agents = chat.NewRegistry(cfg.AI, providers.Chat, o.Models)
	a.Chat = chat.NewService(chat.Options{DB: a.DB, Agents: a.Agents, Hub: a.Hub, Queue: chatQueue, Logger: o.Logger, Metrics: o.Metrics})
	a.Integrations, err = integration.New(integration.Options{DB: a.DB, MasterKey: cfg.Integrations.MasterKey, Plugins: o.Integrations,
		PluginConfig: cfg.Plugins, PublicURL: cfg.HTTP.PublicURL, ReturnURL: cfg.Integrations.ReturnURL,
		SyncInterval: cfg.Integrations.SyncInterval, CompletedGrace: cfg.Integrations.CompletedGrace, Tasks: a.Tasks, Notes: a.Notes,
		Queue: o.AIQueue, Logger: o.Logger, Now: o.Now, Models: o.Models, ChatProvider: providers.Chat, ChatModel: cfg.AI.ChatModel,
		MailConfidenceThreshold: cfg.Integrations.Mail.ConfidenceThreshold})
	if err != nil {
		return nil, err
	}
	o.Metrics.WatchSyncLag(a.Integrations.SyncLag)

	a.ChatRunner = o.ChatRunner
	if a.ChatRunner == nil {
		var agentTools []chat.Tool
		if o.ChatTools != nil {
			agentTools = o.ChatTools(a)
		} else {
			agentTools = tools.New(tools.Services{DB: a.DB, Notes: a.Notes, Tasks: a.Tasks, Plan: a.Plan, AI: a.AI, Users: a.Users})
		}
		a.ChatRunner = chat.NewOrchestrator(chat.OrchestratorOptions{Models: o.Models, Tools: agentTools,
			External: outsideTools{a.Integrations}, Search: a.AI, Agents: a.Agents, Limits: cfg.AI.Chat, Logger: o.Logger, Metrics: o.Metrics})
	}

	a.River, err = o.Jobs(a)
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	a.DB.SetJobs(a.River)
	return a, nil
}
