package task

import (
	"context"
	"encoding/json"
	"fmt"

	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/jsonvalue"
	"github.com/consilium-hq/consilium/core/note"
)

// ChangeOp is what happened to a task in the index.
type ChangeOp string

const (
	Created ChangeOp = "created"
	Updated ChangeOp = "updated"
	Deleted ChangeOp = "deleted"
)

// Change is one task created, updated or deleted by a save. Before is nil
// for Created, After nil for Deleted.
type Change struct {
	Op     ChangeOp
	Before *Task
	After  *Task
}

// Hook runs after a save changed tasks, in the same transaction, with
// every task it changed (a position-only move is not a change). A hook
// that pushes a status to an outside system inserts its River job here.
type Hook func(ctx context.Context, tx db.Tx, changes []Change) error

// Index keeps the tasks table in line with the notes; it is the notes
// service's note.Indexer.
type Index struct {
	hooks []Hook
}

var _ note.Indexer = (*Index)(nil)

// NewIndex returns the task index with the given hooks.
func NewIndex(hooks ...Hook) *Index { return &Index{hooks: hooks} }

// IndexNote brings the note's rows in line with its document: a task keeps
// its id while its block keeps its id in the note; blocks gone from the
// note lose their row.
func (x *Index) IndexNote(ctx context.Context, tx db.Tx, n *note.Note, doc *blocknote.Document) error {
	// When the only edits rewrote task blocks in place (a status change),
	// nothing moved: only those blocks' rows can differ.
	rewritten, structural := doc.Edits()
	if doc.Changed() && !structural && len(rewritten) > 0 {
		done, err := x.indexRewritten(ctx, tx, n, doc, rewritten)
		if done || err != nil {
			return err
		}
	}
	existing, err := noteTasks(ctx, tx, n.UserID, n.ID)
	if err != nil {
		return err
	}
	return x.apply(ctx, tx, n, existing, doc.Tasks(), true)
}

// indexRewritten updates the rows of blocks rewritten in place; false means
// the index did not hold them all and a full pass is needed.
func (x *Index) indexRewritten(ctx context.Context, tx db.Tx, n *note.Note, doc *blocknote.Document, blocks []string) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT `+taskColumns+` FROM tasks WHERE note_id = $1 AND user_id = $2 AND block_id = ANY($3)`,
		n.ID, n.UserID, blocks)
	if err != nil {
		return false, fmt.Errorf("read tasks of note %s: %w", n.ID, err)
	}
	existing, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Task, error) { return scanTask(r) })
	if err != nil {
		return false, fmt.Errorf("read tasks of note %s: %w", n.ID, err)
	}
	if len(existing) != len(blocks) {
		return false, nil
	}
	want := make(map[string]bool, len(blocks))
	for _, b := range blocks {
		want[b] = true
	}
	var found []blocknote.Task
	for _, t := range doc.Tasks() {
		if want[t.BlockID] {
			found = append(found, t)
		}
	}
	if len(found) != len(blocks) {
		return false, nil
	}
	return true, x.apply(ctx, tx, n, existing, found, false)
}

// apply writes the difference between the rows and the task blocks found.
// Unless complete, found covers only some blocks: rows are not deleted and
// parents are kept.
func (x *Index) apply(ctx context.Context, tx db.Tx, n *note.Note, existing []*Task, found []blocknote.Task, complete bool) error {
	byBlock := make(map[string]*Task, len(existing))
	for _, t := range existing {
		byBlock[t.BlockID] = t
	}
	ids := make(map[string]uuid.UUID, len(found))
	for _, f := range found {
		if t, ok := byBlock[f.BlockID]; ok {
			ids[f.BlockID] = t.ID
		} else {
			ids[f.BlockID] = uuid.New()
		}
	}
	goals, err := ownGoals(ctx, tx, n.UserID, found)
	if err != nil {
		return fmt.Errorf("index tasks of note %s: %w", n.ID, err)
	}
	var ins, upd, moved []*Task
	var changes []Change
	seen := make(map[string]bool, len(found))
	for _, f := range found {
		seen[f.BlockID] = true
		t := fromBlock(n, ids, &f, goals)
		old, ok := byBlock[f.BlockID]
		if ok && !complete {
			t.ParentTaskID = old.ParentTaskID
		}
		switch {
		case !ok:
			ins = append(ins, t)
			changes = append(changes, Change{Op: Created, After: t})
		case !sameTask(old, t):
			t.Version, t.CreatedAt = old.Version+1, old.CreatedAt
			upd = append(upd, t)
			changes = append(changes, Change{Op: Updated, Before: old, After: t})
		case old.Position != t.Position:
			moved = append(moved, t)
		}
	}
	var del []uuid.UUID
	for _, t := range existing {
		if complete && !seen[t.BlockID] {
			del = append(del, t.ID)
			changes = append(changes, Change{Op: Deleted, Before: t})
		}
	}
	if err := writeIndex(ctx, tx, n.UserID, ins, upd, moved, del); err != nil {
		return fmt.Errorf("index tasks of note %s: %w", n.ID, err)
	}
	if len(changes) == 0 {
		return nil
	}
	for _, h := range x.hooks {
		if err := h(ctx, tx, changes); err != nil {
			return fmt.Errorf("task hook (note %s): %w", n.ID, err)
		}
	}
	return nil
}

// ownGoals returns which of the goals the task blocks name are the user's.
//
// A block's goalId is linked (the row's goal_id) only when it names one of
// the note owner's goals; any other id, another user's goal or no goal at
// all, stays in the block but is not linked. Refusing the save instead
// (422 on the block's props.goalId) would leave notes that cannot be saved
// through no fault of the editor: an old version restored after its goal
// was deleted, content pasted from another account, a goalId the editor
// does not even show. Keeping the prop keeps the note's content whole, and
// the row stays a pure function of the note and the owner's goals, so the
// index and the note never disagree (rebuilding the index gives the same
// rows) and a task is never linked across users (goal ids are made by the
// server, so an id that is not the user's now never becomes the user's;
// deleting a goal clears it from the blocks, see Service.UnlinkGoals).
func ownGoals(ctx context.Context, tx db.Tx, userID uuid.UUID, found []blocknote.Task) (map[string]bool, error) {
	var named []string
	for _, f := range found {
		if f.GoalID != "" {
			named = append(named, f.GoalID)
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id::text FROM goals WHERE user_id = $1 AND id = ANY($2::uuid[])`, userID, named)
	if err != nil {
		return nil, fmt.Errorf("find goals of tasks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find goals of tasks: %w", err)
	}
	own := make(map[string]bool, len(ids))
	for _, id := range ids {
		own[id] = true
	}
	return own, nil
}

// fromBlock makes a task's row from its block; goals are the user's goals
// among those the blocks name (see ownGoals).
func fromBlock(n *note.Note, ids map[string]uuid.UUID, f *blocknote.Task, goals map[string]bool) *Task {
	t := &Task{
		ID: ids[f.BlockID], UserID: n.UserID, NoteID: n.ID, BlockID: f.BlockID, BlockType: f.BlockType,
		Position: f.Position, Title: f.Title, Description: f.Description, Status: f.Status, Priority: f.Priority,
		DueDate: f.DueDate, DueTime: f.DueTime, Size: f.Size, Source: f.Source, SourceReference: f.SourceReference,
		Metadata: f.Metadata, Version: 1,
	}
	if t.Source == "" {
		t.Source = blocknote.SourceNote
	}
	if t.Metadata == nil {
		t.Metadata = json.RawMessage(`{}`)
	}
	if f.ParentBlockID != "" {
		p := ids[f.ParentBlockID]
		t.ParentTaskID = &p
	}
	if f.GoalID != "" && goals[f.GoalID] {
		g := uuid.MustParse(f.GoalID)
		t.GoalID = &g
	}
	return t
}

// sameTask compares what a task says, not where it sits in the note.
func sameTask(a, b *Task) bool {
	eqID := func(x, y *uuid.UUID) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	eqSize := (a.Size == nil && b.Size == nil) || (a.Size != nil && b.Size != nil && *a.Size == *b.Size)
	return a.BlockType == b.BlockType && a.Title == b.Title && a.Description == b.Description &&
		a.Status == b.Status && a.Priority == b.Priority && a.DueDate == b.DueDate && a.DueTime == b.DueTime &&
		eqSize && eqID(a.ParentTaskID, b.ParentTaskID) && a.Source == b.Source &&
		a.SourceReference == b.SourceReference && eqID(a.GoalID, b.GoalID) && sameJSON(a.Metadata, b.Metadata)
}

func sameJSON(a, b json.RawMessage) bool { return jsonvalue.Equal(a, b) }

func noteTasks(ctx context.Context, q db.Querier, userID, noteID uuid.UUID) ([]*Task, error) {
	rows, err := q.Query(ctx, `SELECT `+taskColumns+` FROM tasks WHERE note_id = $1 AND user_id = $2 ORDER BY position`, noteID, userID)
	if err != nil {
		return nil, fmt.Errorf("read tasks of note %s: %w", noteID, err)
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("read tasks of note %s: %w", noteID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// columns of the index as arrays, for one statement per kind of write.
type columns struct {
	id, blockID, blockType, title, desc, status, priority, due, at, parent, source, ref, goal, meta []string
	position                                                                                        []int32
	size                                                                                            []*float64
}

func toColumns(ts []*Task) *columns {
	c := &columns{}
	str := func(id *uuid.UUID) string {
		if id == nil {
			return ""
		}
		return id.String()
	}
	for _, t := range ts {
		c.id = append(c.id, t.ID.String())
		c.blockID = append(c.blockID, t.BlockID)
		c.blockType = append(c.blockType, t.BlockType)
		c.position = append(c.position, int32(t.Position))
		c.title = append(c.title, t.Title)
		c.desc = append(c.desc, t.Description)
		c.status = append(c.status, string(t.Status))
		c.priority = append(c.priority, string(t.Priority))
		c.due = append(c.due, t.DueDate)
		c.at = append(c.at, t.DueTime)
		c.size = append(c.size, t.Size)
		c.parent = append(c.parent, str(t.ParentTaskID))
		c.source = append(c.source, t.Source)
		c.ref = append(c.ref, t.SourceReference)
		c.goal = append(c.goal, str(t.GoalID))
		c.meta = append(c.meta, string(t.Metadata))
	}
	return c
}

// unnestSelect turns the column arrays ($2..$17) into rows u(...).
const unnestSelect = `SELECT u.id::uuid, u.block_id, u.block_type, u.position, u.title, u.description, u.status,
	nullif(u.priority, ''), nullif(u.due_date, '')::date, nullif(u.due_time, '')::time, u.size,
	nullif(u.parent, '')::uuid, u.source, nullif(u.ref, ''), nullif(u.goal, '')::uuid, u.metadata::jsonb
	FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[],
		$10::text[], $11::text[], $12::float8[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
	AS u(id, block_id, block_type, position, title, description, status, priority, due_date, due_time, size,
		parent, source, ref, goal, metadata)`

func (c *columns) args(userID uuid.UUID, extra ...any) []any {
	return append([]any{userID, c.id, c.blockID, c.blockType, c.position, c.title, c.desc, c.status, c.priority,
		c.due, c.at, c.size, c.parent, c.source, c.ref, c.goal, c.meta}, extra...)
}

func writeIndex(ctx context.Context, tx db.Tx, userID uuid.UUID, ins, upd, moved []*Task, del []uuid.UUID) error {
	if len(ins)+len(upd)+len(moved)+len(del) == 0 {
		return nil
	}
	var b pgx.Batch
	if len(del) > 0 {
		b.Queue(`DELETE FROM tasks WHERE user_id = $1 AND id = ANY($2)`, userID, del)
	}
	if len(upd) > 0 {
		// Updated rows get a new version and updated_at; RETURNING gives
		// them back for the hooks.
		b.Queue(`UPDATE tasks t SET block_type = v.block_type, position = v.position, title = v.title,
				description = v.description, status = v.status, priority = v.priority, due_date = v.due_date,
				due_time = v.due_time, size = v.size, parent_task_id = v.parent, source = v.source,
				source_reference = v.ref, goal_id = v.goal, metadata = v.metadata,
				version = t.version + 1, updated_at = now()
			FROM (`+unnestSelect+`) AS v(id, block_id, block_type, position, title, description, status, priority,
				due_date, due_time, size, parent, source, ref, goal, metadata)
			WHERE t.id = v.id AND t.user_id = $1
			RETURNING t.id, t.updated_at, t.completed_at`, toColumns(upd).args(userID)...).Query(func(rows pgx.Rows) error {
			return stampRows(rows, upd, false)
		})
	}
	if len(moved) > 0 {
		var ids []uuid.UUID
		var pos []int32
		for _, t := range moved {
			ids, pos = append(ids, t.ID), append(pos, int32(t.Position))
		}
		b.Queue(`UPDATE tasks t SET position = m.position FROM unnest($2::uuid[], $3::int[]) AS m(id, position)
			WHERE t.id = m.id AND t.user_id = $1`, userID, ids, pos)
	}
	if len(ins) > 0 {
		b.Queue(`INSERT INTO tasks (user_id, id, block_id, block_type, position, title, description, status,
				priority, due_date, due_time, size, parent_task_id, source, source_reference, goal_id, metadata, note_id)
			SELECT $1, v.*, $18 FROM (`+unnestSelect+`) AS v
			RETURNING id, updated_at, completed_at`, toColumns(ins).args(userID, ins[0].NoteID)...).Query(func(rows pgx.Rows) error {
			return stampRows(rows, ins, true)
		})
	}
	return tx.SendBatch(ctx, &b).Close()
}

// stampRows copies the database's timestamps (updated_at, and completed_at
// which a trigger keeps) onto the written tasks.
func stampRows(rows pgx.Rows, ts []*Task, created bool) error {
	byID := make(map[uuid.UUID]*Task, len(ts))
	for _, t := range ts {
		byID[t.ID] = t
	}
	for rows.Next() {
		var id uuid.UUID
		var at time.Time
		var completed *time.Time
		if err := rows.Scan(&id, &at, &completed); err != nil {
			return err
		}
		if t := byID[id]; t != nil {
			t.UpdatedAt, t.CompletedAt = at, completed
			if created {
				t.CreatedAt = at
			}
		}
	}
	return rows.Err()
}
