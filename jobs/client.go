package jobs

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/metrics"
)

// Workers registers the worker of every job kind the graph's services
// queue; a nil service (in a test's partial graph) registers none of its
// own. Later capabilities add theirs here.
func Workers(a *app.App) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &PruneSessionsWorker{auth: a.Auth, logger: a.Logger})
	if a.DB != nil {
		river.AddWorker(w, &RefreshNoteSearchWorker{db: a.DB})
		river.AddWorker(w, &PruneChatWorker{db: a.DB, logger: a.Logger})
	}
	if a.AI != nil {
		river.AddWorker(w, &EmbedNoteWorker{ai: a.AI})
		river.AddWorker(w, &ProcessDocumentWorker{ai: a.AI})
		river.AddWorker(w, &BuildVectorIndexWorker{ai: a.AI})
	}
	if a.Chat != nil {
		river.AddWorker(w, &RunTurnWorker{chat: a.Chat, runner: a.ChatRunner})
	}
	if a.Integrations != nil {
		river.AddWorker(w, &IntegrationSyncWorker{svc: a.Integrations})
		river.AddWorker(w, &IntegrationScheduleWorker{svc: a.Integrations})
	}
	return w
}

// PeriodicJobs are scheduled by the elected leader of the worker processes.
func PeriodicJobs(cfg config.Jobs) []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(
			river.PeriodicInterval(cfg.SessionPruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return auth.PruneSessionsArgs{}, nil },
			&river.PeriodicJobOpts{ID: "auth.prune_sessions", RunOnStart: true},
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(chat.PruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return chat.PruneArgs{}, nil },
			&river.PeriodicJobOpts{ID: "chat.prune", RunOnStart: true},
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(integration.ScheduleInterval),
			func() (river.JobArgs, *river.InsertOpts) { return integration.ScheduleArgs{}, nil },
			&river.PeriodicJobOpts{ID: "integration.schedule", RunOnStart: true},
		),
	}
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	Config config.Jobs
	Logger *slog.Logger
	// Work makes a full client that works jobs (worker and serve
	// --with-worker). Without it the client only inserts jobs.
	Work bool
	// TestOnly skips River's start-up jitter in tests.
	TestOnly bool
	// Queues are worked besides the default queue, with the same number
	// of workers.
	Queues []string
	// OnlyQueues works Queues and not the default queue: a test server
	// whose jobs go to a queue of its own must not work the jobs of the
	// other servers of its package, which share the database.
	OnlyQueues bool
	// FetchCooldown and FetchPollInterval override River's (zero keeps
	// them): tests that queue hundreds of jobs fetch again sooner.
	FetchCooldown, FetchPollInterval time.Duration
	// Metrics counts the jobs this client works (nil: not counted).
	Metrics *metrics.Metrics
}

// Client is the app.JobsFunc of the composition root: the River client of
// the graph's pool with the workers of its services (the graph's logger
// when o has none).
func Client(o ClientOptions) app.JobsFunc {
	return func(a *app.App) (*river.Client[pgx.Tx], error) {
		if o.Logger == nil {
			o.Logger = a.Logger
		}
		return NewClient(a.DB.Pool, Workers(a), o)
	}
}

// NewClient builds the River client. An insert-only client still knows the
// workers so that inserting an unknown kind fails fast.
func NewClient(pool *pgxpool.Pool, workers *river.Workers, o ClientOptions) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Workers:           workers,
		Logger:            o.Logger,
		SoftStopTimeout:   15 * time.Second,
		JobTimeout:        time.Minute,
		TestOnly:          o.TestOnly,
		FetchCooldown:     o.FetchCooldown,
		FetchPollInterval: o.FetchPollInterval,
	}
	if o.Metrics != nil {
		cfg.Middleware = append(cfg.Middleware, &jobMetrics{m: o.Metrics})
	}
	if o.Work {
		cfg.Queues = map[string]river.QueueConfig{}
		if !o.OnlyQueues {
			cfg.Queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: o.Config.MaxWorkers}
		}
		for _, q := range o.Queues {
			cfg.Queues[q] = river.QueueConfig{MaxWorkers: o.Config.MaxWorkers}
		}
		if !o.OnlyQueues {
			cfg.PeriodicJobs = PeriodicJobs(o.Config)
		}
	}
	return river.NewClient(riverpgxv5.New(pool), cfg)
}
