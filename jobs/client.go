package jobs

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/rivercontrib/otelriver"

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
func Workers(a *app.App, cfg config.Jobs) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &PruneSessionsWorker{auth: a.Auth, logger: a.Logger})
	if a.DB != nil {
		river.AddWorker(w, &RefreshNoteSearchWorker{db: a.DB})
		river.AddWorker(w, &PruneChatWorker{db: a.DB, logger: a.Logger})
	}
	if a.AI != nil {
		river.AddWorker(w, &EmbedNoteWorker{ai: a.AI, timeout: cfg.EmbedTimeout})
		river.AddWorker(w, &ProcessDocumentWorker{ai: a.AI, timeout: cfg.EmbedTimeout})
		river.AddWorker(w, &BuildVectorIndexWorker{ai: a.AI})
	}
	if a.Chat != nil {
		river.AddWorker(w, &RunTurnWorker{chat: a.Chat, runner: a.ChatRunner, timeout: cfg.ChatTurnTimeout})
		river.AddWorker(w, &FailOrphansWorker{chat: a.Chat, logger: a.Logger})
	}
	if a.Integrations != nil {
		river.AddWorker(w, &IntegrationSyncWorker{svc: a.Integrations, timeout: cfg.SyncTimeout})
		river.AddWorker(w, &IntegrationScheduleWorker{svc: a.Integrations})
		river.AddWorker(w, &IntegrationPushWorker{svc: a.Integrations})
		river.AddWorker(w, &IntegrationCleanupWorker{svc: a.Integrations})
		river.AddWorker(w, &IntegrationMailScanWorker{svc: a.Integrations})
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
			river.PeriodicInterval(chat.OrphanCheckInterval),
			func() (river.JobArgs, *river.InsertOpts) { return chat.FailOrphansArgs{}, nil },
			&river.PeriodicJobOpts{ID: "chat.fail_orphaned_runs", RunOnStart: true},
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(integration.ScheduleInterval),
			func() (river.JobArgs, *river.InsertOpts) { return integration.ScheduleArgs{}, nil },
			&river.PeriodicJobOpts{ID: "integration.schedule", RunOnStart: true},
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(integration.CleanupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return integration.CleanupArgs{}, nil },
			&river.PeriodicJobOpts{ID: "integration.cleanup", RunOnStart: true},
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
	// ChatQueue is the queue of chat turns, worked with the chat settings
	// of Config (jobs.chat_*); default chat.Queue. With OnlyQueues and no
	// ChatQueue, no chat queue is worked besides Queues.
	ChatQueue string
}

// Client is the app.JobsFunc of the composition root: the River client of
// the graph's pool with the workers of its services (the graph's logger
// when o has none).
func Client(o ClientOptions) app.JobsFunc {
	return func(a *app.App) (*river.Client[pgx.Tx], error) {
		if o.Logger == nil {
			o.Logger = a.Logger
		}
		return NewClient(a.DB.Pool, Workers(a, o.Config), o)
	}
}

// NewClient builds the River client. An insert-only client still knows the
// workers so that inserting an unknown kind fails fast.
func NewClient(pool *pgxpool.Pool, workers *river.Workers, o ClientOptions) (*river.Client[pgx.Tx], error) {
	jc := withJobDefaults(o.Config)
	cfg := &river.Config{
		Workers:         workers,
		Logger:          o.Logger,
		SoftStopTimeout: 15 * time.Second,
		// River requires the rescue delay to be at least the default
		// timeout; jobs with a longer Timeout of their own (AI jobs) are
		// rescued only after it.
		JobTimeout:           min(time.Minute, jc.RescueStuckAfter),
		RescueStuckJobsAfter: jc.RescueStuckAfter,
		TestOnly:             o.TestOnly,
		// The client's cooldown also spaces the insert notifications it
		// sends per queue (River's notify limiter): at River's 100ms, a
		// turn sent within 100ms of another one from the same process
		// would wait for the workers' next poll. The other queues keep
		// theirs (below).
		FetchCooldown:     min(jc.ChatFetchCooldown, cmp.Or(o.FetchCooldown, river.FetchCooldownDefault)),
		FetchPollInterval: o.FetchPollInterval,
	}
	// A span per job worked, linked to the span that queued it (the
	// trace context rides in the job's metadata); no-ops while tracing is
	// off.
	cfg.Middleware = append(cfg.Middleware, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
		EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true}))
	if o.Metrics != nil {
		cfg.Middleware = append(cfg.Middleware, &jobMetrics{m: o.Metrics})
	}
	other := river.QueueConfig{MaxWorkers: jc.MaxWorkers, FetchCooldown: cmp.Or(o.FetchCooldown, river.FetchCooldownDefault)}
	if o.Work {
		cfg.Queues = map[string]river.QueueConfig{}
		if !o.OnlyQueues {
			cfg.Queues[river.QueueDefault] = other
		}
		for _, q := range o.Queues {
			cfg.Queues[q] = other
		}
		if chatQueue := cmp.Or(o.ChatQueue, chat.Queue); !o.OnlyQueues || o.ChatQueue != "" {
			cfg.Queues[chatQueue] = river.QueueConfig{MaxWorkers: jc.ChatWorkers,
				FetchCooldown: jc.ChatFetchCooldown, FetchPollInterval: jc.ChatFetchPollInterval}
		}
		if !o.OnlyQueues {
			cfg.PeriodicJobs = PeriodicJobs(o.Config)
		}
	}
	return river.NewClient(riverpgxv5.New(pool), cfg)
}

// withJobDefaults fills the zero settings of c (a test's partial config)
// with the defaults.
func withJobDefaults(c config.Jobs) config.Jobs {
	d := config.Default().Jobs
	c.MaxWorkers = cmp.Or(c.MaxWorkers, d.MaxWorkers)
	c.ChatWorkers = cmp.Or(c.ChatWorkers, d.ChatWorkers)
	c.ChatFetchCooldown = cmp.Or(c.ChatFetchCooldown, d.ChatFetchCooldown)
	c.ChatFetchPollInterval = cmp.Or(c.ChatFetchPollInterval, d.ChatFetchPollInterval)
	c.ChatTurnTimeout = cmp.Or(c.ChatTurnTimeout, d.ChatTurnTimeout)
	c.RescueStuckAfter = cmp.Or(c.RescueStuckAfter, d.RescueStuckAfter)
	c.SyncTimeout = cmp.Or(c.SyncTimeout, d.SyncTimeout)
	c.EmbedTimeout = cmp.Or(c.EmbedTimeout, d.EmbedTimeout)
	return c
}
