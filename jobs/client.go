package jobs

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
)

// Services are the core services that workers call.
type Services struct {
	// DB runs the workers that only write derived rows (note search) or
	// prune (chat events).
	DB   *db.DB
	Auth *auth.Service
	AI   *ai.Service
	// Chat and ChatRunner work chat runs; nil Chat leaves them out.
	Chat       *chat.Service
	ChatRunner chat.Runner
	Logger     *slog.Logger
}

// Workers registers every worker. Later capabilities add theirs here.
func Workers(s Services) *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &PruneSessionsWorker{auth: s.Auth, logger: s.Logger})
	if s.DB != nil {
		river.AddWorker(w, &RefreshNoteSearchWorker{db: s.DB})
		river.AddWorker(w, &PruneChatWorker{db: s.DB, logger: s.Logger})
	}
	if s.AI != nil {
		river.AddWorker(w, &EmbedNoteWorker{ai: s.AI})
		river.AddWorker(w, &ProcessDocumentWorker{ai: s.AI})
		river.AddWorker(w, &BuildVectorIndexWorker{ai: s.AI})
	}
	if s.Chat != nil {
		river.AddWorker(w, &RunTurnWorker{chat: s.Chat, runner: s.ChatRunner})
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
}

// NewClient builds the River client. An insert-only client still knows the
// workers so that inserting an unknown kind fails fast.
func NewClient(pool *pgxpool.Pool, workers *river.Workers, o ClientOptions) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Workers:         workers,
		Logger:          o.Logger,
		SoftStopTimeout: 15 * time.Second,
		JobTimeout:      time.Minute,
		TestOnly:        o.TestOnly,
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
