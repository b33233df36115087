package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// Reference states (external_refs.state).
const (
	RefActive  = "active"  // the record has its task block
	RefDeleted = "deleted" // gone outside
	RefCleaned = "cleaned" // completed outside, cleaned out of the notes
	RefRemoved = "removed" // the user deleted the task here
)

// ref is an external_refs row as a page sees it.
type ref struct {
	ID         uuid.UUID
	ExternalID string
	TaskID     *uuid.UUID
	State      string
	Snapshot   []byte
	ListID     string
	Parent     string
}

// syncPage is one page being stored: its transaction, connection and the
// user's time zone.
type syncPage struct {
	tx      db.Tx
	c       *connection
	loc     *time.Location
	gen     int64
	source  string
	display string
	counts  map[string]int64
	now     time.Time
	// created are the records that got a task block in this page
	// (external id → task id).
	created map[string]uuid.UUID
}

// userLocation is the user's time zone (preferences.timezone), UTC when
// unset or unknown.
func userLocation(ctx context.Context, q db.Querier, userID uuid.UUID) *time.Location {
	var tz string
	_ = q.QueryRow(ctx, `SELECT coalesce(preferences->>'timezone', '') FROM users WHERE id = $1`, userID).Scan(&tz)
	if tz == "" {
		return time.UTC
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return l
}

// store writes one page: task records become task blocks in their list's
// note (subtasks nested under their parent), changed records change their
// task's fields (a field changed on both sides since the last sync goes to
// the latest change, the other recorded as a conflict), records in another
// list or under another parent move there, and deleted records lose their
// block (the reference stays). Records equal to their snapshot (our own
// echo, or nothing new) change nothing.
func (s *Service) store(ctx context.Context, tx db.Tx, c *connection, resp *sdk.SyncResponse, gen int64) (map[string]int64, error) {
	p := &syncPage{tx: tx, c: c, loc: userLocation(ctx, tx, c.UserID), gen: gen, source: sourceOf(c.Provider),
		display: s.displayName(c.Provider), counts: map[string]int64{"upserts": 0, "deletes": 0, "tasks_created": 0},
		now: s.o.Now(), created: map[string]uuid.UUID{}}

	// The page's records, each once (the last one wins).
	var recs []*sdk.Record
	at := map[string]int{}
	for i := range resp.Upserts {
		r := &resp.Upserts[i]
		if r.ExternalID == "" {
			continue
		}
		if j, ok := at[r.ExternalID]; ok {
			recs[j] = r
			continue
		}
		at[r.ExternalID] = len(recs)
		recs = append(recs, r)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ExternalID
	}
	refs, err := s.lockRefs(ctx, p, ids)
	if err != nil {
		return nil, err
	}

	newMail := false
	var creates []*newTask
	edits := map[uuid.UUID]map[string]blocknote.TaskFields{} // note → block → fields
	var editNotes []uuid.UUID
	var moves []*sdk.Record
	var pushes []uuid.UUID
	for _, r := range recs {
		old := refs[r.ExternalID]
		if r.Kind != sdk.RecordTask || r.Task == nil {
			if err := s.upsertRef(ctx, p, r, nil, nil, ""); err != nil {
				return nil, err
			}
			if r.Kind == sdk.RecordEmail && r.Email != nil {
				isNew, err := s.storeEmail(ctx, p, r)
				if err != nil {
					return nil, err
				}
				if isNew {
					newMail = true
				}
			}
			p.counts["upserts"]++
			continue
		}
		th := theirs(r, p.loc)
		p.counts["upserts"]++
		switch {
		case old == nil || (old.State == RefActive && old.TaskID == nil):
			if th.Status == blocknote.StatusCompleted {
				// Already done when first seen: kept as a reference, never
				// placed in a note.
				if err := s.upsertRef(ctx, p, r, &th, nil, RefCleaned); err != nil {
					return nil, err
				}
				continue
			}
			creates = append(creates, &newTask{rec: r, snap: th})
		case old.State == RefRemoved || ((old.State == RefCleaned || old.State == RefDeleted) && th.Status == blocknote.StatusCompleted):
			if err := s.upsertRef(ctx, p, r, &th, old.TaskID, old.State); err != nil {
				return nil, err
			}
		case old.State == RefCleaned || old.State == RefDeleted:
			// Back outside (reopened, restored): placed again.
			creates = append(creates, &newTask{rec: r, snap: th})
		default:
			snap, okSnap := readSnapshot(old.Snapshot)
			moved := okSnap && (snap.ListID != th.ListID || snap.Parent != th.Parent)
			if okSnap && len(diff(&snap, &th)) == 0 && !moved {
				// Nothing new (our own echo among others): the reference
				// only notes that it was seen.
				if err := s.upsertRef(ctx, p, r, &th, old.TaskID, RefActive); err != nil {
					return nil, err
				}
				continue
			}
			t, err := task.Get(ctx, tx, c.UserID, *old.TaskID)
			if apperr.Is(err, apperr.NotFound) {
				creates = append(creates, &newTask{rec: r, snap: th})
				continue
			}
			if err != nil {
				return nil, err
			}
			o := ours(t)
			if !okSnap {
				snap = o // no snapshot: our side counts as unchanged
			}
			apply, conflicts := merge(&o, &snap, &th, t.UpdatedAt, r.UpdatedAt, p.now)
			if err := s.upsertRef(ctx, p, r, &th, old.TaskID, RefActive, conflicts...); err != nil {
				return nil, err
			}
			if len(apply) > 0 {
				f := t.Fields()
				for _, name := range apply {
					setField(&f, name, &th)
				}
				if _, ok := edits[t.NoteID]; !ok {
					edits[t.NoteID] = map[string]blocknote.TaskFields{}
					editNotes = append(editNotes, t.NoteID)
				}
				edits[t.NoteID][t.BlockID] = f
			}
			after := o
			for _, name := range apply {
				after.take(name, &th)
			}
			if len(diff(&after, &th)) > 0 {
				pushes = append(pushes, old.ID) // ours won, or ours changed and theirs did not
			}
			if moved {
				moves = append(moves, r)
			}
		}
	}
	// Snapshots are written first: the task hook compares the blocks
	// rewritten below with them and finds nothing to push back.
	slices.SortFunc(editNotes, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, n := range editNotes {
		_, err := s.o.Notes.EditTx(ctx, tx, c.UserID, n, note.ChangeTaskUpdate, func(_ *note.Note, doc *blocknote.Document) error {
			for block, f := range edits[n] {
				if err := doc.SetTask(block, f); err != nil && !errors.Is(err, blocknote.ErrNoTaskBlock) {
					return err
				}
			}
			return nil
		})
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return nil, fmt.Errorf("apply changes to note %s: %w", n, err)
		}
	}
	for _, r := range moves {
		if err := s.placeExisting(ctx, p, r); err != nil {
			return nil, err
		}
	}
	if err := s.createTasks(ctx, p, creates); err != nil {
		return nil, err
	}
	if err := s.adoptOrphans(ctx, p); err != nil {
		return nil, err
	}
	if err := s.removeRecords(ctx, p, resp.Deletes, RefDeleted); err != nil {
		return nil, err
	}
	for _, id := range pushes {
		if err := s.queuePush(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	if newMail {
		if err := s.queueMailScan(ctx, tx, c.ID); err != nil {
			return nil, err
		}
	}
	return p.counts, nil
}

// merge decides each field of an existing record: a field only they
// changed is applied; one both changed (to different values) goes to the
// later change (ties to theirs), the loser recorded as a conflict.
func merge(o, snap, th *snapshot, oursAt, theirsAt, now time.Time) ([]sdk.TaskField, []Conflict) {
	var apply []sdk.TaskField
	var conflicts []Conflict
	for _, f := range pushFields {
		if th.value(f) == snap.value(f) || th.value(f) == o.value(f) {
			continue // they did not change it, or both agree
		}
		if o.value(f) == snap.value(f) {
			apply = append(apply, f)
			continue
		}
		c := Conflict{Field: f, Ours: o.value(f), Theirs: th.value(f), Winner: "theirs", At: now}
		if oursAt.After(theirsAt) {
			c.Winner = "ours"
		} else {
			apply = append(apply, f)
		}
		conflicts = append(conflicts, c)
	}
	return apply, conflicts
}

// setField sets one pushable field of a task block from a snapshot.
func setField(f *blocknote.TaskFields, name sdk.TaskField, v *snapshot) {
	switch name {
	case sdk.FieldTitle:
		f.Title = v.Title
	case sdk.FieldDescription:
		f.Description = v.Description
	case sdk.FieldStatus:
		f.Status = v.Status
	case sdk.FieldDue:
		f.DueDate, f.DueTime = v.DueDate, v.DueTime
	case sdk.FieldPriority:
		f.Priority = v.Priority
	}
}

func (s *Service) lockRefs(ctx context.Context, p *syncPage, ids []string) (map[string]*ref, error) {
	out := map[string]*ref{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := p.tx.Query(ctx, `SELECT id, external_id, task_id, state, snapshot, list_id, parent_external_id FROM external_refs
		WHERE user_id = $1 AND system = $2 AND external_id = ANY($3) ORDER BY external_id FOR UPDATE`, p.c.UserID, p.c.Provider, ids)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*ref, error) {
		var r ref
		return &r, row.Scan(&r.ID, &r.ExternalID, &r.TaskID, &r.State, &r.Snapshot, &r.ListID, &r.Parent)
	})
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		out[r.ExternalID] = r
	}
	return out, nil
}

// upsertRef writes a record's reference: its snapshot (when given), task,
// state, list, parent and when it was seen; conflicts are appended.
func (s *Service) upsertRef(ctx context.Context, p *syncPage, r *sdk.Record, snap *snapshot, taskID *uuid.UUID, state string, conflicts ...Conflict) error {
	raw := []byte("{}")
	var list, parent string
	if snap != nil {
		raw, _ = json.Marshal(snap)
		list, parent = snap.ListID, snap.Parent
	}
	if state == "" {
		state = RefActive
	}
	cj, _ := json.Marshal(conflicts)
	if conflicts == nil {
		cj = []byte("[]")
	}
	var updated *time.Time
	if !r.UpdatedAt.IsZero() {
		updated = &r.UpdatedAt
	}
	_, err := p.tx.Exec(ctx, `INSERT INTO external_refs (user_id, system, external_id, task_id, url, snapshot, sync_status, last_synced_at,
			state, list_id, parent_external_id, remote_updated_at, seen_gen, conflicts)
		VALUES ($1, $2, $3, $4, $5, $6, 'synced', now(), $7, $8, $9, $10, $11, $12)
		ON CONFLICT (user_id, system, external_id) DO UPDATE SET task_id = $4, url = $5, snapshot = $6, last_synced_at = now(),
			state = $7, list_id = $8, parent_external_id = $9, remote_updated_at = coalesce($10, external_refs.remote_updated_at),
			seen_gen = $11,
			sync_status = CASE WHEN external_refs.sync_status = 'pending' THEN 'pending' ELSE 'synced' END,
			conflicts = (SELECT coalesce(jsonb_agg(x ORDER BY n), '[]'::jsonb) FROM (
				SELECT x, n FROM jsonb_array_elements(external_refs.conflicts || $12::jsonb) WITH ORDINALITY AS e(x, n)
				ORDER BY n DESC LIMIT $13) k)`,
		p.c.UserID, p.c.Provider, r.ExternalID, taskID, r.URL, raw, state, list, parent, updated, p.gen, cj, maxConflicts)
	return err
}

// newTask is a record to place as a new task block, with the records of
// the same page nested in it.
type newTask struct {
	rec      *sdk.Record
	snap     snapshot
	children []*newTask
	nested   bool
	size     int
	blockID  string
	noteID   uuid.UUID
}

func (n *newTask) count() int {
	n.size = 1
	for _, c := range n.children {
		n.size += c.count()
	}
	return n.size
}

func (n *newTask) fields(source string) blocknote.TaskFields {
	return blocknote.TaskFields{Title: n.snap.Title, Description: n.snap.Description, Status: n.snap.Status,
		Priority: n.snap.Priority, DueDate: n.snap.DueDate, DueTime: n.snap.DueTime, Source: source,
		SourceReference: clip(n.rec.ExternalID, blocknote.MaxReferenceLength)}
}

// appendTree appends n and its nested records under parentBlock.
func appendTree(doc *blocknote.Document, parentBlock string, n *newTask, source string, noteID uuid.UUID) error {
	b, err := doc.AppendTask(parentBlock, n.fields(source))
	if err != nil {
		return err
	}
	n.blockID, n.noteID = b.ID(), noteID
	for _, c := range n.children {
		if err := appendTree(doc, n.blockID, c, source, noteID); err != nil {
			return err
		}
	}
	return nil
}

// activeTask is the task of a record's active reference (nil when none).
func (s *Service) activeTask(ctx context.Context, p *syncPage, externalID string) (*task.Task, error) {
	if id, ok := p.created[externalID]; ok {
		return task.Get(ctx, p.tx, p.c.UserID, id)
	}
	var id uuid.UUID
	err := p.tx.QueryRow(ctx, `SELECT task_id FROM external_refs WHERE user_id = $1 AND system = $2 AND external_id = $3
		AND state = 'active' AND task_id IS NOT NULL`, p.c.UserID, p.c.Provider, externalID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := task.Get(ctx, p.tx, p.c.UserID, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	return t, err
}

// createTasks places new records: nested under their parent when the
// parent is in this page or already has its task, else at the end of their
// list's note (continuation notes once it is full). One version per note.
func (s *Service) createTasks(ctx context.Context, p *syncPage, creates []*newTask) error {
	if len(creates) == 0 {
		return nil
	}
	byExt := map[string]*newTask{}
	for _, n := range creates {
		byExt[n.rec.ExternalID] = n
	}
	// Nest records under parents of the same page (a chain that loops is
	// left flat).
	for _, n := range creates {
		par := byExt[n.snap.Parent]
		if par == nil || par == n {
			continue
		}
		loop := false
		for x, depth := par, 0; x != nil && depth < 64; depth++ {
			if x == n {
				loop = true
				break
			}
			x = byExt[x.snap.Parent]
		}
		if loop {
			continue
		}
		par.children = append(par.children, n)
		n.nested = true
	}
	var roots []*newTask
	for _, n := range creates {
		if !n.nested {
			n.count()
			roots = append(roots, n)
		}
	}
	// Roots under a parent placed earlier go to its note; the others to
	// their list.
	underParent := map[uuid.UUID][]*newTask{}
	parentBlock := map[*newTask]string{}
	var parentNotes []uuid.UUID
	lists := map[string][]*newTask{}
	var listOrder []string
	toList := func(n *newTask) {
		if _, ok := lists[n.snap.ListID]; !ok {
			listOrder = append(listOrder, n.snap.ListID)
		}
		lists[n.snap.ListID] = append(lists[n.snap.ListID], n)
	}
	for _, n := range roots {
		if n.snap.Parent != "" {
			pt, err := s.activeTask(ctx, p, n.snap.Parent)
			if err != nil {
				return err
			}
			if pt != nil {
				if _, ok := underParent[pt.NoteID]; !ok {
					parentNotes = append(parentNotes, pt.NoteID)
				}
				underParent[pt.NoteID] = append(underParent[pt.NoteID], n)
				parentBlock[n] = pt.BlockID
				continue
			}
		}
		toList(n)
	}
	var placed []*newTask
	for _, noteID := range parentNotes {
		_, err := s.o.Notes.EditTx(ctx, p.tx, p.c.UserID, noteID, note.ChangeTaskCreate, func(_ *note.Note, doc *blocknote.Document) error {
			for _, n := range underParent[noteID] {
				if doc.Block(parentBlock[n]) == nil || doc.Len()+n.size > blocknote.MaxBlocks {
					toList(n)
					continue
				}
				if err := appendTree(doc, parentBlock[n], n, p.source, noteID); err != nil {
					return err
				}
				placed = append(placed, n)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("place subtasks in note %s: %w", noteID, err)
		}
	}
	for _, listID := range listOrder {
		pending := lists[listID]
		name := pending[0].snap.List
		newNote := func(part int) (uuid.UUID, error) { return s.newListNote(ctx, p, listID, name, part) }
		err := s.fillList(ctx, p.tx, p.c.UserID, p.c.Provider, listID, newNote, func(noteID uuid.UUID, doc *blocknote.Document) (int, error) {
			n := 0
			for len(pending) > 0 && doc.Len()+pending[0].size <= blocknote.MaxBlocks {
				if err := appendTree(doc, "", pending[0], p.source, noteID); err != nil {
					return n, err
				}
				placed = append(placed, pending[0])
				pending = pending[1:]
				n++
			}
			return n, nil
		}, func() bool { return len(pending) == 0 })
		if err != nil {
			return err
		}
	}
	// The task ids of the new blocks, then their references.
	var all []*newTask
	var walk func(n *newTask)
	walk = func(n *newTask) {
		all = append(all, n)
		for _, c := range n.children {
			walk(c)
		}
	}
	for _, n := range placed {
		walk(n)
	}
	byNote := map[uuid.UUID][]string{}
	for _, n := range all {
		byNote[n.noteID] = append(byNote[n.noteID], n.blockID)
	}
	taskOf, err := taskIDsOfBlocks(ctx, p.tx, p.c.UserID, byNote)
	if err != nil {
		return err
	}
	for _, n := range all {
		id, ok := taskOf[n.blockID]
		if !ok {
			return fmt.Errorf("the task block of %s is not in the index", n.rec.ExternalID)
		}
		if err := s.upsertRef(ctx, p, n.rec, &n.snap, &id, RefActive); err != nil {
			return err
		}
		p.created[n.rec.ExternalID] = id
		p.counts["tasks_created"]++
	}
	return nil
}

// taskIDsOfBlocks is the task id of each block (note → its blocks) placed
// in a note edit.
func taskIDsOfBlocks(ctx context.Context, tx db.Tx, userID uuid.UUID, byNote map[uuid.UUID][]string) (map[string]uuid.UUID, error) {
	taskOf := map[string]uuid.UUID{}
	for noteID, blocks := range byNote {
		rows, err := tx.Query(ctx, `SELECT block_id, id FROM tasks WHERE user_id = $1 AND note_id = $2 AND block_id = ANY($3)`,
			userID, noteID, blocks)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var b string
			var id uuid.UUID
			if err := rows.Scan(&b, &id); err != nil {
				rows.Close()
				return nil, err
			}
			taskOf[b] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return taskOf, nil
}

// fillList hands the notes of a list (external_lists: the user's, of
// system) to fill, its last part first and new parts (made by newNote) as
// needed, until done; fill answers how many tasks it placed. Each note is
// written once (one version) however many tasks it takes: the ClickUp sync
// and the mail scan place their tasks through it.
func (s *Service) fillList(ctx context.Context, tx db.Tx, userID uuid.UUID, system, listID string, newNote func(part int) (uuid.UUID, error),
	fill func(noteID uuid.UUID, doc *blocknote.Document) (int, error), done func() bool) error {
	var part int
	var noteID uuid.UUID
	err := tx.QueryRow(ctx, `SELECT part, note_id FROM external_lists WHERE user_id = $1 AND system = $2 AND list_id = $3
		ORDER BY part DESC LIMIT 1`, userID, system, listID).Scan(&part, &noteID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	fresh := part == 0
	for !done() {
		if fresh {
			part++
			if noteID, err = newNote(part); err != nil {
				return err
			}
		}
		n := 0
		_, err := s.o.Notes.EditTx(ctx, tx, userID, noteID, note.ChangeTaskCreate, func(_ *note.Note, doc *blocknote.Document) error {
			var err error
			n, err = fill(noteID, doc)
			return err
		})
		if err != nil {
			return fmt.Errorf("place tasks of list %q: %w", listID, err)
		}
		if fresh && n == 0 {
			return fmt.Errorf("a task of list %q with its subtasks holds more than %d blocks", listID, blocknote.MaxBlocks)
		}
		fresh = true
	}
	return nil
}

// newListNote makes part of a list's notes.
func (s *Service) newListNote(ctx context.Context, p *syncPage, listID, name string, part int) (uuid.UUID, error) {
	title := p.display
	if name == "" {
		name = listID
	}
	if name != "" {
		title += " — " + name
	}
	if part > 1 {
		title = clip(title, note.MaxTitleLength-8) + fmt.Sprintf(" (%d)", part)
	}
	meta, _ := json.Marshal(map[string]any{"external": map[string]any{"system": p.c.Provider, "list_id": listID, "part": part}})
	n, err := s.o.Notes.CreateTx(ctx, p.tx, p.c.UserID, &note.CreateParams{Title: clip(title, note.MaxTitleLength), Metadata: meta})
	if err != nil {
		return uuid.Nil, fmt.Errorf("create the note of list %q: %w", listID, err)
	}
	if _, err := p.tx.Exec(ctx, `INSERT INTO external_lists (user_id, system, list_id, part, note_id, name) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, system, list_id, part) DO UPDATE SET note_id = $5, name = $6`,
		p.c.UserID, p.c.Provider, listID, part, n.ID, name); err != nil {
		return uuid.Nil, err
	}
	return n.ID, nil
}

// placeExisting moves a record's task where its list and parent now say:
// under its parent's task, else to the end of its list's note.
func (s *Service) placeExisting(ctx context.Context, p *syncPage, r *sdk.Record) error {
	t, err := s.activeTask(ctx, p, r.ExternalID)
	if err != nil || t == nil {
		return err
	}
	if par := r.Task.ParentExternalID; par != "" {
		pt, err := s.activeTask(ctx, p, par)
		if err != nil {
			return err
		}
		if pt != nil {
			if t.ParentTaskID != nil && *t.ParentTaskID == pt.ID {
				return nil
			}
			_, err := s.o.Tasks.MoveTx(ctx, p.tx, p.c.UserID, t.ID, &task.MoveParams{ParentTaskID: &pt.ID})
			if !apperr.Is(err, apperr.Invalid) { // a loop: left where it is
				return err
			}
			return nil
		}
	}
	if t.ParentTaskID == nil {
		in, err := s.inList(ctx, p, t.NoteID, r.Task.ListID)
		if err != nil || in {
			return err // already at the top of one of its list's notes
		}
	}
	size, err := s.subtreeSize(ctx, p, t.ID)
	if err != nil {
		return err
	}
	noteID, err := s.listNoteWithRoom(ctx, p, r.Task.ListID, r.Task.List, size)
	if err != nil {
		return err
	}
	_, err = s.o.Tasks.MoveTx(ctx, p.tx, p.c.UserID, t.ID, &task.MoveParams{NoteID: &noteID})
	return err
}

func (s *Service) inList(ctx context.Context, p *syncPage, noteID uuid.UUID, listID string) (bool, error) {
	var in bool
	err := p.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM external_lists WHERE user_id = $1 AND system = $2 AND list_id = $3 AND note_id = $4)`,
		p.c.UserID, p.c.Provider, listID, noteID).Scan(&in)
	return in, err
}

// listNoteWithRoom is the list's last note when it has room for size more
// blocks, else a new part.
func (s *Service) listNoteWithRoom(ctx context.Context, p *syncPage, listID, name string, size int) (uuid.UUID, error) {
	var part int
	var noteID uuid.UUID
	err := p.tx.QueryRow(ctx, `SELECT part, note_id FROM external_lists WHERE user_id = $1 AND system = $2 AND list_id = $3
		ORDER BY part DESC LIMIT 1`, p.c.UserID, p.c.Provider, listID).Scan(&part, &noteID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, err
	}
	if part > 0 {
		var content []byte
		if err := p.tx.QueryRow(ctx, `SELECT content FROM notes WHERE id = $1 AND user_id = $2`, noteID, p.c.UserID).Scan(&content); err != nil {
			return uuid.Nil, err
		}
		doc, err := blocknote.Parse(content, nil)
		if err != nil {
			return uuid.Nil, err
		}
		if doc.Len()+size <= blocknote.MaxBlocks {
			return noteID, nil
		}
	}
	return s.newListNote(ctx, p, listID, name, part+1)
}

// subtreeSize counts the blocks a task's block holds (a bound: task blocks
// only are counted exactly).
func (s *Service) subtreeSize(ctx context.Context, p *syncPage, id uuid.UUID) (int, error) {
	var n int
	err := p.tx.QueryRow(ctx, `WITH RECURSIVE sub AS (
			SELECT id FROM tasks WHERE id = $1 AND user_id = $2
			UNION ALL SELECT c.id FROM tasks c JOIN sub ON c.parent_task_id = sub.id WHERE c.user_id = $2)
		SELECT count(*) FROM sub`, id, p.c.UserID).Scan(&n)
	return n, err
}

// adoptOrphans nests the tasks placed before their parent (a child in an
// earlier page than its parent) under the parents this page placed.
func (s *Service) adoptOrphans(ctx context.Context, p *syncPage) error {
	if len(p.created) == 0 {
		return nil
	}
	parents := make([]string, 0, len(p.created))
	for ext := range p.created {
		parents = append(parents, ext)
	}
	rows, err := p.tx.Query(ctx, `SELECT r.task_id, r.parent_external_id FROM external_refs r JOIN tasks t ON t.id = r.task_id
		WHERE r.user_id = $1 AND r.system = $2 AND r.parent_external_id = ANY($3) AND r.state = 'active'
		ORDER BY r.created_at, r.id`, p.c.UserID, p.c.Provider, parents)
	if err != nil {
		return err
	}
	type orphan struct {
		task   uuid.UUID
		parent string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orphan, error) {
		var o orphan
		return o, r.Scan(&o.task, &o.parent)
	})
	if err != nil {
		return err
	}
	for _, o := range list {
		pt := p.created[o.parent]
		t, err := task.Get(ctx, p.tx, p.c.UserID, o.task)
		if err != nil {
			return err
		}
		if t.ParentTaskID != nil && *t.ParentTaskID == pt {
			continue
		}
		if _, err := s.o.Tasks.MoveTx(ctx, p.tx, p.c.UserID, t.ID, &task.MoveParams{ParentTaskID: &pt}); err != nil && !apperr.Is(err, apperr.Invalid) {
			return err
		}
	}
	return nil
}

// removeRecords takes the task blocks of records out of the notes, the
// references kept in state (deleted outside, or cleaned). Subtasks that
// have references of their own are lifted to their list's note first, so
// that they go only when their own record says so. One version per note.
func (s *Service) removeRecords(ctx context.Context, p *syncPage, externalIDs []string, state string) error {
	if len(externalIDs) == 0 {
		return nil
	}
	rows, err := p.tx.Query(ctx, `UPDATE external_refs r SET state = $4, task_id = NULL, last_synced_at = now(), seen_gen = $5
		FROM external_refs old WHERE old.id = r.id AND r.user_id = $1 AND r.system = $2 AND r.external_id = ANY($3)
		RETURNING old.task_id`, p.c.UserID, p.c.Provider, externalIDs, state, p.gen)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[*uuid.UUID])
	if err != nil {
		return err
	}
	var gone []uuid.UUID
	for _, id := range ids {
		if id != nil {
			gone = append(gone, *id)
		}
		p.counts["deletes"]++
	}
	return s.removeTasks(ctx, p, gone)
}

// removeTasks removes task blocks whose references were already updated.
func (s *Service) removeTasks(ctx context.Context, p *syncPage, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	// Subtasks with references of their own that stay move out first.
	rows, err := p.tx.Query(ctx, `SELECT t.id, r.list_id, coalesce(r.snapshot->>'list', '') FROM tasks t
		JOIN external_refs r ON r.task_id = t.id AND r.user_id = t.user_id AND r.state = 'active'
		WHERE t.user_id = $1 AND t.parent_task_id = ANY($2) AND NOT t.id = ANY($2)`, p.c.UserID, ids)
	if err != nil {
		return err
	}
	type lift struct {
		id         uuid.UUID
		list, name string
	}
	lifts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lift, error) {
		var l lift
		return l, r.Scan(&l.id, &l.list, &l.name)
	})
	if err != nil {
		return err
	}
	for _, l := range lifts {
		size, err := s.subtreeSize(ctx, p, l.id)
		if err != nil {
			return err
		}
		noteID, err := s.listNoteWithRoom(ctx, p, l.list, l.name, size)
		if err != nil {
			return err
		}
		if _, err := s.o.Tasks.MoveTx(ctx, p.tx, p.c.UserID, l.id, &task.MoveParams{NoteID: &noteID}); err != nil {
			return err
		}
	}
	rows, err = p.tx.Query(ctx, `SELECT note_id, block_id FROM tasks WHERE user_id = $1 AND id = ANY($2) ORDER BY note_id`, p.c.UserID, ids)
	if err != nil {
		return err
	}
	blocks := map[uuid.UUID][]string{}
	var notes []uuid.UUID
	for rows.Next() {
		var n uuid.UUID
		var b string
		if err := rows.Scan(&n, &b); err != nil {
			rows.Close()
			return err
		}
		if _, ok := blocks[n]; !ok {
			notes = append(notes, n)
		}
		blocks[n] = append(blocks[n], b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range notes {
		_, err := s.o.Notes.EditTx(ctx, p.tx, p.c.UserID, n, note.ChangeTaskDelete, func(_ *note.Note, doc *blocknote.Document) error {
			for _, b := range blocks[n] {
				doc.Remove(b)
			}
			return nil
		})
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return fmt.Errorf("remove tasks from note %s: %w", n, err)
		}
	}
	return nil
}

// reconcile ends a full sync: the task records it did not see are gone
// outside, and their blocks go (references kept, state deleted). A record
// that moved to another list was seen there, so it is never taken for
// deleted.
func (s *Service) reconcile(ctx context.Context, tx db.Tx, c *connection, gen int64) (int64, error) {
	p := &syncPage{tx: tx, c: c, gen: gen, counts: map[string]int64{}, created: map[string]uuid.UUID{}}
	rows, err := tx.Query(ctx, `SELECT external_id FROM external_refs WHERE user_id = $1 AND system = $2 AND seen_gen < $3
		AND state IN ('active', 'cleaned') AND snapshot ? 'v'`, c.UserID, c.Provider, gen)
	if err != nil {
		return 0, err
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	if err := s.removeRecords(ctx, p, gone, RefDeleted); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE connections SET full_sync_open = false WHERE id = $1`, c.ID); err != nil {
		return 0, err
	}
	return p.counts["deletes"], nil
}
