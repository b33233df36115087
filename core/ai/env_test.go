package ai_test

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/jobs"
)

// env is the real pipeline, built by the composition root as a process
// builds it: notes and tasks with the AI hook, the AI service on a model
// source, and a River client working the env's own queue.
type env struct {
	t     testing.TB
	db    *db.DB
	notes *note.Service
	tasks *task.Service
	ai    *ai.Service
	river *river.Client[pgx.Tx]
	queue string
}

type envOptions struct {
	// models are the model providers (default: a host running the local
	// plugin under aitest.LocalName).
	models model.Source
	// plugins are the configured plugins the providers are picked from
	// (default: none, so every kind of work goes to aitest.LocalName).
	plugins   plugin.Config
	configure func(*config.AI)
	// paused leaves the workers stopped until startWorkers.
	paused bool
	// workers is the number of jobs worked at once (default 4).
	workers int
	// riverDefaults keeps River's fetch settings (benchmarks) instead of
	// fetching sooner after each job (tests).
	riverDefaults bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	cfg := config.Default()
	// The graph's auth service hashes one password at start.
	cfg.Auth.Password = config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	cfg.Plugins = o.plugins
	cfg.Jobs.MaxWorkers = cmp.Or(o.workers, 4)
	if o.configure != nil {
		o.configure(&cfg.AI)
	}
	if o.models == nil {
		o.models = aitest.LocalHost(t)
	}
	queue := "ai_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	jo := jobs.ClientOptions{Config: cfg.Jobs, Work: true, TestOnly: true, Queues: []string{queue}, OnlyQueues: true}
	if !o.riverDefaults {
		// Fetch again soon after a job: tests queue hundreds.
		jo.FetchCooldown, jo.FetchPollInterval = 5*time.Millisecond, 50*time.Millisecond
	}
	a, err := app.New(context.Background(), app.Options{Config: &cfg, Pool: dbtest.Pool(t), Logger: slog.New(slog.DiscardHandler),
		Models: o.models, DefaultProvider: aitest.LocalName, AIQueue: queue, Jobs: jobs.Client(jo)})
	require.NoError(t, err)
	e := &env{t: t, db: a.DB, notes: a.Notes, tasks: a.Tasks, ai: a.AI, river: a.River, queue: queue}
	if !o.paused {
		e.startWorkers()
	}
	return e
}

func (e *env) startWorkers() {
	require.NoError(e.t, e.river.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.river.Stop(ctx)
	})
}

func (e *env) newUser() uuid.UUID {
	e.t.Helper()
	id := uuid.New()
	_, err := e.db.Pool.Exec(context.Background(), `INSERT INTO users (id, email) VALUES ($1, $2)`, id, id.String()+"@example.com")
	require.NoError(e.t, err)
	return id
}

// waitIdle waits until no job of this env's queue is left to run.
func (e *env) waitIdle() {
	e.t.Helper()
	e.waitIdleFor(30 * time.Second)
}

func (e *env) waitIdleFor(timeout time.Duration) {
	e.t.Helper()
	e.waitFor(timeout, "the AI jobs to finish", func() bool {
		var n int
		require.NoError(e.t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE queue = $1 AND state IN ('available', 'pending', 'running', 'retryable', 'scheduled')`, e.queue).Scan(&n))
		return n == 0
	})
}

func (e *env) waitFor(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// doc builds a BlockNote document of paragraphs (and "[ ] task" lines as
// checkListItems) with ids b1, b2, ...
func doc(lines ...string) json.RawMessage {
	return ai.MarshalBlocks(numbered(ai.TextToBlocks(strings.Join(lines, "\n\n"))))
}

func numbered(bs []ai.Block) []ai.Block {
	for i := range bs {
		bs[i].ID = "b" + string(rune('1'+i))
	}
	return bs
}

func (e *env) createNote(user uuid.UUID, title string, lines ...string) *note.Note {
	e.t.Helper()
	n, err := e.notes.Create(context.Background(), user, &note.CreateParams{Title: title, Content: doc(lines...)})
	require.NoError(e.t, err)
	return n
}

func (e *env) search(user uuid.UUID, p ai.SearchParams) []ai.Passage {
	e.t.Helper()
	ps, _, err := e.ai.Search(context.Background(), user, &p)
	require.NoError(e.t, err)
	return ps
}

func sourceIDs(ps []ai.Passage) []uuid.UUID {
	var out []uuid.UUID
	for _, p := range ps {
		out = append(out, p.SourceID)
	}
	return out
}
