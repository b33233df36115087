package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/jobs"
)

// TestRefreshNoteSearchWorker saves a large note with search jobs on and
// waits for a real River client to build its search vector.
func TestRefreshNoteSearchWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := dbtest.Pool(t)
	d := db.New(pool)
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Workers:  jobs.Workers(&app.App{DB: d}, config.Jobs{}),
		Queues:   map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		TestOnly: true,
	})
	require.NoError(t, err)
	d.SetJobs(rc)
	completed, stop := rc.Subscribe(river.EventKindJobCompleted)
	defer stop()
	require.NoError(t, rc.Start(ctx))
	defer func() { _ = rc.Stop(context.Background()) }()

	userID := uuid.New()
	_, err = pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, userID, userID.String()+"@example.com")
	require.NoError(t, err)
	notes := note.NewService(d, note.Options{Indexer: task.NewIndex(), SearchJobs: true})
	n, err := notes.Create(ctx, userID, &note.CreateParams{
		Title: "large", Content: blocknotetest.Document(blocknotetest.Options{Blocks: 200, Tasks: 20, Seed: 9}),
	})
	require.NoError(t, err)

	for {
		select {
		case ev := <-completed:
			if ev.Job.Kind != (note.RefreshSearchArgs{}).Kind() {
				continue
			}
		case <-ctx.Done():
			t.Fatal("the search job did not complete")
		}
		break
	}
	var stale, found bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT search_stale, search @@ websearch_to_tsquery('simple', 'large')
		FROM notes WHERE id = $1`, n.ID).Scan(&stale, &found))
	require.False(t, stale)
	require.True(t, found)
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'note.refresh_search'`).Scan(&state))
	require.Equal(t, "completed", state)
}
