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
