package task_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
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

// refreshSearchWorker lets the test client insert search jobs; the tests
// run note.RefreshSearch themselves.
type refreshSearchWorker struct {
	river.WorkerDefaults[note.RefreshSearchArgs]
}

func (refreshSearchWorker) Work(context.Context, *river.Job[note.RefreshSearchArgs]) error {
	return nil
}

type testBundle struct {
	db     *db.DB
	notes  *note.Service
	tasks  *task.Service
	userID uuid.UUID
	jobs   func(noteID uuid.UUID) int
}

func setup(t *testing.T, noteHooks []note.Hook, taskHooks ...task.Hook) *testBundle {
	t.Helper()
	return setupWith(t, note.Options{Hooks: noteHooks}, taskHooks...)
}

func setupWith(t *testing.T, o note.Options, taskHooks ...task.Hook) *testBundle {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, &noteChangedWorker{})
	river.AddWorker(workers, &refreshSearchWorker{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, TestOnly: true})
	require.NoError(t, err)
	d := db.New(pool)
	d.SetJobs(rc)
	u, err := user.Create(ctx, pool, &user.CreateParams{Email: "t-" + uuid.NewString()[:12] + "@example.com"})
	require.NoError(t, err)
	o.Indexer = task.NewIndex(taskHooks...)
	notes := note.NewService(d, o)
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
	res, err := b.notes.List(ctx, b.userID, &note.ListParams{AnyArchived: true})
	require.NoError(t, err)
	list := res.Items
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
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "checklist-flat.json")})
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
	// The fixture's goalId becomes one of the user's goals: only those link.
	var goal uuid.UUID
	require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO goals (user_id, title) VALUES ($1, 'g') RETURNING id`, b.userID).Scan(&goal))
	content := bytes.ReplaceAll(fixture(t, "tasks-document.json"), []byte("5e0c1d8a-7b7e-4d53-9a55-2f1f4c1b9a10"), []byte(goal.String()))
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: content})
	require.NoError(t, err)
	res, err := b.tasks.List(ctx, b.userID, &task.ListParams{GoalID: &goal})
	require.NoError(t, err)
	ts := res.Items
	require.Len(t, ts, 1)

	err = b.db.InTx(ctx, func(tx db.Tx) error { return b.tasks.UnlinkGoals(ctx, tx, b.userID, []uuid.UUID{goal}) })
	require.NoError(t, err)
	res, err = b.tasks.List(ctx, b.userID, &task.ListParams{GoalID: &goal})
	require.NoError(t, err)
	ts = res.Items
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

// TestLargeNotesGetTheirSearchVectorFromAJob: with search jobs on, a note
// over SearchInlineBytes is saved with a stale vector and one queued job;
// searches match its current text meanwhile (never its old one), and the
// job's refresh makes the index serve it.
func TestLargeNotesGetTheirSearchVectorFromAJob(t *testing.T) {
	b := setupWith(t, note.Options{SearchJobs: true})
	ctx := context.Background()
	doc := func(word string) []byte {
		blocks := blocknotetest.Blocks(blocknotetest.Options{Blocks: 150, Tasks: 10, Seed: 3})
		blocks[5]["content"] = []any{map[string]any{"type": "text", "text": "about " + word, "styles": map[string]any{}}}
		raw, err := json.Marshal(blocks)
		require.NoError(t, err)
		return raw
	}
	stale := func(id uuid.UUID) bool {
		var v bool
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT search_stale FROM notes WHERE id = $1`, id).Scan(&v))
		return v
	}
	search := func(q string) []uuid.UUID {
		res, err := b.notes.List(ctx, b.userID, &note.ListParams{Q: q})
		require.NoError(t, err)
		ns := res.Items
		var ids []uuid.UUID
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		return ids
	}
	jobs := func(id uuid.UUID) int {
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'note.refresh_search'
			AND (args->>'note_id')::uuid = $1`, id).Scan(&n))
		return n
	}

	big, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "big", Content: doc("zebraword")})
	require.NoError(t, err)
	small, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "small zebraword"})
	require.NoError(t, err)
	require.True(t, stale(big.ID))
	require.False(t, stale(small.ID), "small notes are indexed by the save")
	require.Equal(t, 1, jobs(big.ID))
	require.Equal(t, 0, jobs(small.ID))
	require.ElementsMatch(t, []uuid.UUID{big.ID, small.ID}, search("zebraword"), "a stale note is found by its text")

	_, err = b.notes.Update(ctx, b.userID, big.ID, &note.UpdateParams{Content: doc("quokkaword")})
	require.NoError(t, err)
	require.Equal(t, 1, jobs(big.ID), "one waiting job is enough")
	require.Equal(t, []uuid.UUID{small.ID}, search("zebraword"), "never by its old text")
	require.Equal(t, []uuid.UUID{big.ID}, search("quokkaword"))

	// A task change leaves the text, and so the search state, alone.
	ts, err := b.tasks.OfNote(ctx, b.userID, big.ID)
	require.NoError(t, err)
	st := blocknote.StatusDeferred
	_, err = b.tasks.Update(ctx, b.userID, ts[0].ID, &task.UpdateParams{Status: &st})
	require.NoError(t, err)
	require.True(t, stale(big.ID))

	require.NoError(t, b.db.InTx(ctx, func(tx db.Tx) error { return note.RefreshSearch(ctx, tx, b.userID, big.ID) }))
	require.False(t, stale(big.ID))
	require.Equal(t, []uuid.UUID{big.ID}, search("quokkaword"), "served by the index now")
	require.Equal(t, []uuid.UUID{small.ID}, search("zebraword"))
	var indexed bool
	require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT search @@ websearch_to_tsquery('simple', 'quokkaword') FROM notes WHERE id = $1`, big.ID).Scan(&indexed))
	require.True(t, indexed)
}

// TestUnchangedSaveMakesNoVersion: saving back what was read (keys in
// Postgres' order), pretty-printed, or with metadata keys reordered is no
// change: same version, no version row, no job, no index change; a real
// change still is one.
func TestUnchangedSaveMakesNoVersion(t *testing.T) {
	queue := func(ctx context.Context, tx db.Tx, c *note.Change) error {
		_, err := tx.InsertJob(ctx, noteChangedArgs{NoteID: c.Note.ID, Version: c.Note.Version}, nil)
		return err
	}
	b := setup(t, []note.Hook{queue})
	ctx := context.Background()
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Title: "a", Content: fixture(t, "tasks-document.json"),
		Metadata: []byte(`{"b":1,"a":{"y":2,"x":[1.0]}}`)})
	require.NoError(t, err)
	versions := func() int {
		var c int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM note_versions WHERE note_id = $1`, n.ID).Scan(&c))
		return c
	}
	got, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	require.NotEqual(t, string(fixture(t, "tasks-document.json")), string(got.Content), "Postgres answers keys in its own order")

	var v any
	require.NoError(t, json.Unmarshal(got.Content, &v))
	pretty, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	for name, content := range map[string][]byte{"as read": got.Content, "pretty": pretty, "as sent": fixture(t, "tasks-document.json")} {
		out, err := b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Content: content,
			Metadata: []byte(`{"a": {"x": [1], "y": 2}, "b": 1.00}`)})
		require.NoError(t, err, name)
		require.Equal(t, 1, out.Version, name)
		require.Equal(t, 1, versions(), name)
		require.Equal(t, 1, b.jobs(n.ID), name)
	}

	// A task saved with the metadata it has, as the index answers it (keys
	// in Postgres' order) or reordered, is no change.
	ts, err := b.tasks.OfNote(ctx, b.userID, n.ID)
	require.NoError(t, err)
	set := func(meta string) *task.Task {
		t.Helper()
		tk, err := b.tasks.Update(ctx, b.userID, ts[0].ID, &task.UpdateParams{
			Metadata: task.Optional[json.RawMessage]{Set: true, Value: json.RawMessage(meta)}})
		require.NoError(t, err)
		return tk
	}
	tk := set(`{"zeta":1,"alpha":{"b":2,"a":1}}`)
	require.Equal(t, 2, versions(), "a real task change")
	for _, meta := range []string{string(tk.Metadata), `{"alpha":{"a":1,"b":2.0},"zeta":1}`} {
		again := set(meta)
		require.Equal(t, tk.Version, again.Version, meta)
		require.Equal(t, 2, versions(), meta)
	}
	got, err = b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)

	// A real change is one.
	content := []byte(strings.Replace(string(got.Content), `"Week plan"`, `"Month plan"`, 1))
	require.NotEqual(t, string(got.Content), string(content))
	out, err := b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Content: content})
	require.NoError(t, err)
	require.Equal(t, 3, out.Version)
	require.Equal(t, 3, versions())
	require.Equal(t, 3, b.jobs(n.ID))
}

// TestUnchangedSaveOverAnOldHash: a note whose stored hash is of the bytes
// once sent (written before hashes were of the JSON value) is compared in
// Postgres once: the same document keeps its version and gets the value
// hash; a different one is a change.
func TestUnchangedSaveOverAnOldHash(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	oldHash := func(id uuid.UUID) {
		_, err := b.db.Pool.Exec(ctx, `UPDATE notes SET content_hash = sha256(convert_to(content::text || 'sent', 'UTF8')) WHERE id = $1`, id)
		require.NoError(t, err)
	}
	hashLen := func(id uuid.UUID) int {
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT length(content_hash) FROM notes WHERE id = $1`, id).Scan(&n))
		return n
	}
	n, err := b.notes.Create(ctx, b.userID, &note.CreateParams{Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	oldHash(n.ID)
	got, err := b.notes.Get(ctx, b.userID, n.ID)
	require.NoError(t, err)
	out, err := b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Content: got.Content})
	require.NoError(t, err)
	require.Equal(t, 1, out.Version)
	require.Equal(t, 33, hashLen(n.ID), "the value hash replaced the old one")
	out, err = b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Content: fixture(t, "tasks-document.json")})
	require.NoError(t, err)
	require.Equal(t, 1, out.Version)

	oldHash(n.ID)
	out, err = b.notes.Update(ctx, b.userID, n.ID, &note.UpdateParams{Content: []byte(strings.Replace(string(got.Content), `"Week plan"`, `"Month plan"`, 1))})
	require.NoError(t, err)
	require.Equal(t, 2, out.Version)
	require.Equal(t, 33, hashLen(n.ID))
}

// TestTaskFieldRulesInCore calls the service as an agent or a job would: the
// field rules hold without HTTP, and errors name bare fields.
func TestTaskFieldRulesInCore(t *testing.T) {
	b := setup(t, nil)
	ctx := context.Background()
	tk, err := b.tasks.Create(ctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "Book the dentist"}})
	require.NoError(t, err)
	deep := json.RawMessage(strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat(`}`, 300))
	requireField := func(err error, name string) {
		t.Helper()
		var e *apperr.Error
		require.True(t, errors.As(err, &e), "%v", err)
		require.Equal(t, apperr.Invalid, e.Code)
		require.Equal(t, name, e.Fields[0].Location)
		require.Empty(t, e.Fields[0].In)
	}
	_, err = b.tasks.Update(ctx, b.userID, tk.ID, &task.UpdateParams{Metadata: task.Optional[json.RawMessage]{Set: true, Value: deep}})
	requireField(err, "metadata")
	_, err = b.tasks.Create(ctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "x", Metadata: deep}})
	requireField(err, "metadata")
	nul := "a\x00b"
	_, err = b.tasks.Update(ctx, b.userID, tk.ID, &task.UpdateParams{Description: &nul})
	requireField(err, "description")
	_, err = b.tasks.Create(ctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: " "}})
	requireField(err, "title")
	_, err = b.tasks.List(ctx, b.userID, &task.ListParams{Q: "\xff"})
	requireField(err, "q")

	// The Inbox note was not broken by what was refused: it still takes tasks.
	_, err = b.tasks.Create(ctx, b.userID, &task.CreateParams{Fields: blocknote.TaskFields{Title: "Second", Metadata: json.RawMessage(`{ "a" : 1 }`)}})
	require.NoError(t, err)
	got, err := b.tasks.Get(ctx, b.userID, tk.ID)
	require.NoError(t, err)
	require.Equal(t, tk.Version, got.Version, "refused updates changed nothing")
}
