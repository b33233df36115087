package task_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/core/user"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// noteChangedArgs stands for the jobs later issues queue from a hook
// (embed the note, push a status to an outside system).
type noteChangedArgs struct {
	NoteID  uuid.UUID `json:"note_id"`
	Version int       `json:"version"`
}

func (noteChangedArgs) Kind() string { return "test.note_changed" }

type noteChangedWorker struct {
	river.WorkerDefaults[noteChangedArgs]
}

func (noteChangedWorker) Work(context.Context, *river.Job[noteChangedArgs]) error { return nil }

type testBundle struct {
	db     *db.DB
	notes  *note.Service
	tasks  *task.Service
	userID uuid.UUID
	jobs   func(noteID uuid.UUID) int
}

func setup(t *testing.T, noteHooks []note.Hook, taskHooks ...task.Hook) *testBundle {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, &noteChangedWorker{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, TestOnly: true})
	require.NoError(t, err)
	d := db.New(pool)
	d.SetJobs(rc)
	u, err := user.Create(ctx, pool, &user.CreateParams{Email: "t-" + uuid.NewString()[:12] + "@example.com"})
	require.NoError(t, err)
	notes := note.NewService(d, note.Options{Indexer: task.NewIndex(taskHooks...), Hooks: noteHooks})
	return &testBundle{
		db: d, notes: notes, tasks: task.NewService(d, notes), userID: u.ID,
		jobs: func(noteID uuid.UUID) int {
			var n int
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'test.note_changed'
				AND (args->>'note_id')::uuid = $1`, noteID).Scan(&n))
			return n
		},
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../blocknote/testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestHooksQueueRiverJobsInTheSaveTransaction(t *testing.T) {
	queue := func(ctx context.Context, tx db.Tx, c *note.Change) error {
		_, err := tx.InsertJob(ctx, noteChangedArgs{NoteID: c.Note.ID, Version: c.Note.Version}, nil)
		return err
	}
	refuse := func(ctx context.Context, tx db.Tx, c *note.Change) error {
		if c.Note.Title == "refuse" {
			return errors.New("refused")
		}
		return nil
	}
	b := setup(t, []note.Hook{queue, refuse})
	ctx := context.Background()

	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "a", Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	require.Equal(t, 1, b.jobs(n.ID), "queued with the create")

	title := "refuse"
	_, err = b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Title: &title, Content: []byte(`[]`)})
	require.Error(t, err)
	require.Equal(t, 1, b.jobs(n.ID), "the job of the failed save was rolled back")
	got, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	require.Equal(t, "a", got.Title)
	require.Equal(t, 1, got.Version)
	ts, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	require.Len(t, ts, 9, "the index did not follow the failed save")

	// A task change queues through the same seam.
	st := blocknote.StatusCompleted
	_, err = b.tasks.Update(ctx, b.userID, ts[0].ID, &task.UpdateParams{Status: &st})
	require.NoError(t, err)
	require.Equal(t, 2, b.jobs(n.ID))

	_, err = b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "refuse"})
	require.Error(t, err)
	list, _, err := b.notes.List(ctx, b.userID, &note.ListParams{AnyArchived: true})
	require.NoError(t, err)
	require.Len(t, list, 1, "the refused note was not created")
}

func TestTaskHookFailureRollsBackTheTaskChange(t *testing.T) {
	b := setup(t, nil, func(ctx context.Context, tx db.Tx, cs []task.Change) error {
		for _, c := range cs {
			if c.After != nil && c.After.Status == blocknote.StatusDeferred {
				return errors.New("cannot push deferred")
			}
		}
		return nil
	})
	ctx := context.Background()
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "fixtures/checklist-basic.json")})
	require.NoError(t, err)
	ts, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	_, err = b.tasks.SetStatus(ctx, b.userID, ts[0].ID, blocknote.StatusDeferred, nil)
	require.Error(t, err)
	got, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	again, err := b.tasks.Get(ctx, b.userID, ts[0].ID)
	require.NoError(t, err)
	require.Equal(t, blocknote.StatusNotStarted, again.Status)
	require.Equal(t, "checkListItem", again.BlockType)
}

func TestUnlinkGoals(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	goal := uuid.MustParse("5e0c1d8a-7b7e-4d53-9a55-2f1f4c1b9a10")
	ts, _, err := b.tasks.List(ctx, b.userID, &task.ListParams{GoalID: &goal})
	require.NoError(t, err)
	require.Len(t, ts, 1)

	err = b.db.InTx(ctx, func(tx db.Tx) error { return b.tasks.UnlinkGoals(ctx, tx, b.userID, []uuid.UUID{goal}) })
	require.NoError(t, err)
	ts, _, err = b.tasks.List(ctx, b.userID, &task.ListParams{GoalID: &goal})
	require.NoError(t, err)
	require.Empty(t, ts)
	got, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	doc, err := blocknote.Parse(got.Content, nil)
	require.NoError(t, err)
	require.Equal(t, "", doc.Block("t5").TaskFields().GoalID)
	require.Equal(t, `""`, string(doc.Block("t5").Prop("goalId")))
	require.Equal(t, 2, got.Version)
}

func TestEditWithoutChangeMakesNoVersion(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	ts, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	st := ts[0].Status
	got, err := b.tasks.Update(ctx, b.userID, ts[0].ID, &task.UpdateParams{Status: &st})
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	cur, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	require.Equal(t, 1, cur.Version)

	// Another user's note is not found through EditTx either.
	err = b.db.InTx(ctx, func(tx db.Tx) error {
		_, err := b.notes.EditTx(ctx, tx, uuid.New(), n.ID, note.ChangeTaskUpdate, func(*note.Note, *blocknote.Document) error { return nil })
		return err
	})
	require.ErrorContains(t, err, "not found")
}

// TestInPlaceEditsIndexLikeAFullPass: task edits update only the rewritten
// blocks' rows; a full pass over the saved document afterwards finds
// nothing to change.
func TestInPlaceEditsIndexLikeAFullPass(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	ts, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	byBlock := map[string]*task.Task{}
	for _, x := range ts {
		byBlock[x.BlockID] = x
	}
	// A status change on a parent task, a checklist turned into a task
	// block, a retitled subtask.
	st, deferred := blocknote.StatusCompleted, blocknote.StatusDeferred
	title := "Collect all the data"
	for _, u := range []struct {
		block string
		p     task.UpdateParams
	}{
		{"t1", task.UpdateParams{Status: &st}},
		{"c1b", task.UpdateParams{Status: &deferred}},
		{"t1a", task.UpdateParams{Title: &title}},
	} {
		_, err := b.tasks.Update(ctx, b.userID, byBlock[u.block].ID, &u.p)
		require.NoError(t, err)
	}
	after, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	got := map[string]*task.Task{}
	for _, x := range after {
		got[x.BlockID] = x
	}
	require.Equal(t, byBlock["t1"].ID, *got["t1a"].ParentTaskID, "parents kept")
	require.Equal(t, byBlock["c1b"].ID, *got["t1b1"].ParentTaskID)
	require.Equal(t, "task", got["c1b"].BlockType)
	require.Equal(t, title, got["t1a"].Title)
	require.Equal(t, 1, got["t5"].Version, "untouched tasks untouched")

	var changes []task.Change
	full := task.NewIndex(func(_ context.Context, _ db.Tx, cs []task.Change) error {
		changes = append(changes, cs...)
		return nil
	})
	cur, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	doc, err := blocknote.Parse(cur.Content, nil)
	require.NoError(t, err)
	err = b.db.InTx(ctx, func(tx db.Tx) error { return full.IndexNote(ctx, tx, cur, doc) })
	require.NoError(t, err)
	require.Empty(t, changes, "a full pass agrees with the in-place updates")
}
