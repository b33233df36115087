package app_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func testConfig() *config.Config {
	cfg := config.Default()
	cfg.Auth.Password = config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	return &cfg
}

func TestNewNeedsConfigPoolAndJobs(t *testing.T) {
	t.Parallel()
	pool := dbtest.Pool(t)
	jobsFn := jobs.Client(jobs.ClientOptions{TestOnly: true})
	for name, o := range map[string]app.Options{
		"no config": {Pool: pool, Jobs: jobsFn},
		"no pool":   {Config: testConfig(), Jobs: jobsFn},
		"no jobs":   {Config: testConfig(), Pool: pool},
	} {
		_, err := app.New(context.Background(), o)
		require.ErrorContains(t, err, "Config, Pool and Jobs are required", name)
	}
	cfg := testConfig()
	cfg.AI.ChatProvider = "nowhere"
	_, err := app.New(context.Background(), app.Options{Config: cfg, Pool: pool, Jobs: jobsFn})
	require.ErrorContains(t, err, `ai.chat_provider: "nowhere" is not an llm plugin`, "the providers are checked against the plugins")
}

// TestHooks: a note save runs the graph's own hook (the AI service queues
// the embedding job) and then the caller's, all in the save's transaction,
// and the River client New built is the one jobs go through.
func TestHooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var taskChanges atomic.Int32
	var queued atomic.Int32
	a, err := app.New(ctx, app.Options{
		Config: testConfig(), Pool: dbtest.Pool(t), Logger: slog.New(slog.DiscardHandler),
		Models: modeltest.Source{}, AIQueue: "app_test_hooks",
		Jobs: jobs.Client(jobs.ClientOptions{TestOnly: true}),
		NoteHooks: []note.Hook{func(ctx context.Context, tx db.Tx, c *note.Change) error {
			var n int32
			err := tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'ai.embed_note' AND queue = 'app_test_hooks'
				AND args->>'note_id' = $1`, c.Note.ID.String()).Scan(&n)
			queued.Store(n)
			if c.Note.Title == "refuse" {
				return errors.New("refused")
			}
			return err
		}},
		TaskHooks: []task.Hook{func(_ context.Context, _ db.Tx, cs []task.Change) error {
			taskChanges.Add(int32(len(cs)))
			return nil
		}},
	})
	require.NoError(t, err)
	require.NotNil(t, a.River)

	user := uuid.New()
	_, err = a.DB.Pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, user, user.String()+"@example.com")
	require.NoError(t, err)
	content := `[{"type":"checkListItem","content":"buy stamps"}]`
	n, err := a.Notes.Create(ctx, user, &note.CreateParams{Title: "Errands", Content: []byte(content)})
	require.NoError(t, err)
	require.Equal(t, int32(1), queued.Load(), "the AI hook ran first, in the same transaction")
	require.Equal(t, int32(1), taskChanges.Load())

	_, err = a.Notes.Create(ctx, user, &note.CreateParams{Title: "refuse", Content: []byte(content)})
	require.ErrorContains(t, err, "refused")
	var jobCount, notes int
	require.NoError(t, a.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = 'app_test_hooks'`).Scan(&jobCount))
	require.NoError(t, a.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM notes WHERE user_id = $1`, user).Scan(&notes))
	require.Equal(t, 1, jobCount, "a refused save queues nothing")
	require.Equal(t, 1, notes)

	tasks, err := a.Tasks.List(ctx, user, &task.ListParams{})
	require.NoError(t, err)
	require.Len(t, tasks.Items, 1)
	require.Equal(t, n.ID, tasks.Items[0].NoteID)
}

// TestChatTurnsGoToTheChatQueue: a process's graph queues each chat turn,
// in the send's transaction, on the chat queue (which the worker's River
// client works with the jobs.chat_* settings, apart from the AI jobs).
func TestChatTurnsGoToTheChatQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig()
	a, err := app.New(ctx, app.Options{
		Config: cfg, Pool: dbtest.Pool(t), Logger: slog.New(slog.DiscardHandler), Models: modeltest.Source{},
		DefaultProvider: "scripted", Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, TestOnly: true}),
	})
	require.NoError(t, err)
	user := uuid.New()
	_, err = a.DB.Pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, user, user.String()+"@example.com")
	require.NoError(t, err)
	conv, err := a.Chat.CreateConversation(ctx, user, &chat.ConversationFields{})
	require.NoError(t, err)
	sent, err := a.Chat.Send(ctx, user, conv.ID, &chat.SendParams{Content: "hello", ClientMsgID: uuid.NewString()})
	require.NoError(t, err)
	var queue string
	require.NoError(t, a.DB.Pool.QueryRow(ctx, `SELECT queue FROM river_job WHERE kind = 'chat.run_turn' AND args->>'run_id' = $1`,
		sent.RunID.String()).Scan(&queue))
	require.Equal(t, chat.Queue, queue)
	// Nobody else works that queue in this package's database: remove the
	// job so that no worker of another test picks it up.
	_, err = a.DB.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'chat.run_turn' AND args->>'run_id' = $1`, sent.RunID.String())
	require.NoError(t, err)

}

// TestOrphanedRunsAreFailed: a run whose River job ended without ending it
// (the rescuer discarded the job of a worker that died on the last
// attempt) is failed with worker_lost and its events, so that it no longer
// holds its conversation up; a run whose job is still queued is left be.
func TestOrphanedRunsAreFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig()
	a, err := app.New(ctx, app.Options{
		Config: cfg, Pool: dbtest.Pool(t), Logger: slog.New(slog.DiscardHandler), Models: modeltest.Source{},
		DefaultProvider: "scripted", ChatQueue: "app_test_orphans", Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, TestOnly: true}),
	})
	require.NoError(t, err)
	user := uuid.New()
	_, err = a.DB.Pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, user, user.String()+"@example.com")
	require.NoError(t, err)
	send := func() (uuid.UUID, uuid.UUID) {
		conv, err := a.Chat.CreateConversation(ctx, user, &chat.ConversationFields{})
		require.NoError(t, err)
		sent, err := a.Chat.Send(ctx, user, conv.ID, &chat.SendParams{Content: "hello", ClientMsgID: uuid.NewString()})
		require.NoError(t, err)
		return conv.ID, sent.RunID
	}
	orphanConv, orphan := send()
	_, waiting := send()
	// What River leaves when it gives a job up: the job discarded, the run
	// running since its worker took it.
	_, err = a.DB.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
		WHERE kind = 'chat.run_turn' AND args->>'run_id' = $1`, orphan.String())
	require.NoError(t, err)
	_, err = a.DB.Pool.Exec(ctx, `UPDATE chat_runs SET status = 'running', attempts = 3 WHERE id = $1`, orphan)
	require.NoError(t, err)
	_, err = a.DB.Pool.Exec(ctx, `UPDATE chat_runs SET updated_at = now() - interval '2 minutes' WHERE id = ANY($1)`, []uuid.UUID{orphan, waiting})
	require.NoError(t, err)

	n, err := a.Chat.FailOrphanedRuns(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	status := func(id uuid.UUID) (s, code string) {
		require.NoError(t, a.DB.Pool.QueryRow(ctx, `SELECT status, coalesce(error_code, '') FROM chat_runs WHERE id = $1`, id).Scan(&s, &code))
		return s, code
	}
	s, code := status(orphan)
	require.Equal(t, []string{chat.RunFailed, "worker_lost"}, []string{s, code})
	s, _ = status(waiting)
	require.Equal(t, chat.RunQueued, s, "a run whose job is queued is not an orphan")
	evs, err := a.Chat.Events(ctx, user, orphanConv, 0, 100)
	require.NoError(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	require.Equal(t, []string{chat.EventMessageCompleted, chat.EventError, chat.EventRunCompleted}, types)

	// Once ended, nothing more is done to it.
	_, err = a.Chat.FailOrphanedRuns(ctx)
	require.NoError(t, err)
	evs, err = a.Chat.Events(ctx, user, orphanConv, 0, 100)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	_, err = a.DB.Pool.Exec(ctx, `DELETE FROM river_job WHERE queue = 'app_test_orphans'`)
	require.NoError(t, err)
}
