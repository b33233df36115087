package note

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
)

// Indexer keeps data derived from a note's document (the task index) in
// line with it. It runs inside every save's transaction, before the hooks;
// on delete it is given an empty document.
type Indexer interface {
	IndexNote(ctx context.Context, tx db.Tx, n *Note, doc *blocknote.Document) error
}

// Change is what after-save hooks are told about a saved change.
type Change struct {
	Kind ChangeKind
	// Note is the note after the change, content included; on delete it
	// is the note as it was, without content.
	Note *Note
	// PreviousVersion is the version before the change (0 on create).
	PreviousVersion int
	// ContentChanged is true when the document changed.
	ContentChanged bool
	// TextChanged is true when the title or the text of the document
	// changed (what an embedding depends on); a status change is not one.
	TextChanged bool
}

// Hook runs after a note is saved, in the same transaction: a hook that
// inserts a River job (tx.InsertJob) has it queued exactly when the change
// commits. An error from a hook rolls the whole save back.
type Hook func(ctx context.Context, tx db.Tx, c *Change) error

// Options configure a Service.
type Options struct {
	// Indexer is required: notes and their task index never disagree.
	Indexer Indexer
	Hooks   []Hook
	// SearchJobs leaves the search vector of notes over SearchInlineBytes
	// to a RefreshSearchArgs job (a worker must run them; until it does,
	// searches match those notes' text directly). Off, every save
	// computes it.
	SearchJobs bool
}

// Service is the notes service.
type Service struct {
	db         *db.DB
	indexer    Indexer
	hooks      []Hook
	searchJobs bool
}

// NewService returns the notes service.
func NewService(d *db.DB, o Options) *Service {
	if o.Indexer == nil {
		panic("note.NewService: an Indexer is required")
	}
	return &Service{db: d, indexer: o.Indexer, hooks: o.Hooks, searchJobs: o.SearchJobs}
}

// CreateParams are the fields of a new note. Content nil is an empty
// document.
type CreateParams struct {
	Title      string
	Content    json.RawMessage
	ParentID   *uuid.UUID
	Tags       []string
	IsPinned   bool
	IsArchived bool
	Metadata   json.RawMessage
}

// ParseContent reads a document sent in a request body.
func ParseContent(raw json.RawMessage) (*blocknote.Document, error) {
	return blocknote.Parse(raw, &blocknote.ParseOptions{Location: "content"})
}

// Create saves a new note.
func (s *Service) Create(ctx context.Context, userID uuid.UUID, p *CreateParams) (*Note, error) {
	var out *Note
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		var err error
		out, err = s.CreateTx(ctx, tx, userID, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateTx is Create in the caller's transaction (an import that places
// the tasks it brings in a note of their own).
func (s *Service) CreateTx(ctx context.Context, tx db.Tx, userID uuid.UUID, p *CreateParams) (*Note, error) {
	n := &Note{ID: uuid.New(), UserID: userID, ParentID: p.ParentID, IsPinned: p.IsPinned, IsArchived: p.IsArchived}
	var err error
	if n.Title, err = CheckTitle("title", p.Title); err != nil {
		return nil, err
	}
	if n.Tags, err = NormalizeTags("tags", p.Tags); err != nil {
		return nil, err
	}
	if n.Metadata, err = CheckMetadata("metadata", p.Metadata); err != nil {
		return nil, err
	}
	doc, err := ParseContent(p.Content)
	if err != nil {
		return nil, err
	}
	if n.ParentID != nil {
		if err := checkParent(ctx, tx, userID, nil, *n.ParentID); err != nil {
			return nil, err
		}
	}
	if _, err := s.createTx(ctx, tx, n, doc); err != nil {
		return nil, err
	}
	return n, nil
}

// createTx inserts n with doc; false means a system note with that key
// already exists (nothing was written).
func (s *Service) createTx(ctx context.Context, tx db.Tx, n *Note, doc *blocknote.Document) (bool, error) {
	d := derive(doc)
	stale := s.searchJobs && len(n.Title)+len(d.text) > SearchInlineBytes
	ok, err := insertNote(ctx, tx, n, d, stale)
	if err != nil || !ok {
		return ok, err
	}
	if stale {
		if err := queueSearch(ctx, tx, n); err != nil {
			return false, err
		}
	}
	if err := recordVersion(ctx, tx, n, ChangeCreate, nil); err != nil {
		return false, err
	}
	if err := s.indexer.IndexNote(ctx, tx, n, doc); err != nil {
		return false, err
	}
	return true, s.runHooks(ctx, tx, &Change{Kind: ChangeCreate, Note: n, ContentChanged: true, TextChanged: true})
}

func queueSearch(ctx context.Context, tx db.Tx, n *Note) error {
	if _, err := tx.InsertJob(ctx, RefreshSearchArgs{NoteID: n.ID, UserID: n.UserID}, nil); err != nil {
		return fmt.Errorf("queue search vector of note %s: %w", n.ID, err)
	}
	return nil
}

func (s *Service) runHooks(ctx context.Context, tx db.Tx, c *Change) error {
	for _, h := range s.hooks {
		if err := h(ctx, tx, c); err != nil {
			return fmt.Errorf("after-save hook (%s note %s): %w", c.Kind, c.Note.ID, err)
		}
	}
	return nil
}

// Get returns one note with its content.
func (s *Service) Get(ctx context.Context, userID, id uuid.UUID) (*Note, error) {
	var content []byte
	n, err := scanNote(s.db.Q(ctx).QueryRow(ctx, `SELECT `+noteColumns+`, content FROM notes WHERE id = $1 AND user_id = $2`, id, userID), &content)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("get note %s: %w", id, err)
	}
	n.Content = content
	return n, nil
}

// UpdateParams change only the fields that are set.
type UpdateParams struct {
	Title *string
	// Content nil leaves the document as it is.
	Content json.RawMessage
	// SetParent changes the parent to ParentID (nil: top level).
	SetParent  bool
	ParentID   *uuid.UUID
	Tags       *[]string
	IsPinned   *bool
	IsArchived *bool
	// Metadata nil leaves it as it is.
	Metadata json.RawMessage
	// IfVersion, when set, must be the note's current version.
	IfVersion *int
}

// Update changes a note. A change that changes nothing makes no version.
func (s *Service) Update(ctx context.Context, userID, id uuid.UUID, p *UpdateParams) (*Note, error) {
	var (
		title *string
		tags  []string
		meta  json.RawMessage
		doc   *blocknote.Document
		err   error
	)
	if p.Title != nil {
		t, err := CheckTitle("title", *p.Title)
		if err != nil {
			return nil, err
		}
		title = &t
	}
	if p.Tags != nil {
		if tags, err = NormalizeTags("tags", *p.Tags); err != nil {
			return nil, err
		}
	}
	if p.Metadata != nil {
		if meta, err = CheckMetadata("metadata", p.Metadata); err != nil {
			return nil, err
		}
	}
	if p.Content != nil {
		if doc, err = ParseContent(p.Content); err != nil {
			return nil, err
		}
	}
	var out *Note
	err = s.db.InTx(ctx, func(tx db.Tx) error {
		cur, hash, err := lockNote(ctx, tx, userID, id, false)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, p.IfVersion); err != nil {
			return err
		}
		next := *cur
		if title != nil {
			next.Title = *title
		}
		if p.Tags != nil {
			next.Tags = tags
		}
		if meta != nil && !sameJSON(meta, cur.Metadata) {
			next.Metadata = meta
		}
		if p.IsPinned != nil {
			next.IsPinned = *p.IsPinned
		}
		if p.IsArchived != nil {
			next.IsArchived = *p.IsArchived
		}
		if p.SetParent {
			next.ParentID = p.ParentID
			if p.ParentID != nil && (cur.ParentID == nil || *cur.ParentID != *p.ParentID) {
				// One re-parenting per user at a time, so that two
				// concurrent moves cannot build a cycle together.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('note-tree:' || $1::text, 0))`, userID); err != nil {
					return fmt.Errorf("lock note tree: %w", err)
				}
				if err := checkParent(ctx, tx, userID, &id, *p.ParentID); err != nil {
					return err
				}
			}
		}
		var d *derived
		if doc != nil {
			d = derive(doc)
			same, err := sameContent(ctx, tx, cur, hash, d)
			if err != nil {
				return err
			}
			if same {
				d = nil // same document as stored
			}
		}
		if d == nil && sameFields(cur, &next) {
			out, err = s.withContent(ctx, tx, cur, doc)
			return err
		}
		out = &next
		return s.writeTx(ctx, tx, cur, out, d, ChangeUpdate, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// withContent fills in the content of an unchanged note for a response.
func (s *Service) withContent(ctx context.Context, tx db.Tx, n *Note, doc *blocknote.Document) (*Note, error) {
	if doc != nil {
		n.Content, _ = doc.MarshalJSON()
		return n, nil
	}
	if err := tx.QueryRow(ctx, `SELECT content FROM notes WHERE id = $1 AND user_id = $2`, n.ID, n.UserID).Scan((*[]byte)(&n.Content)); err != nil {
		return nil, fmt.Errorf("read note %s: %w", n.ID, err)
	}
	return n, nil
}

func sameFields(a, b *Note) bool {
	return a.Title == b.Title && slices.Equal(a.Tags, b.Tags) && a.IsPinned == b.IsPinned &&
		a.IsArchived == b.IsArchived && sameJSON(a.Metadata, b.Metadata) &&
		((a.ParentID == nil && b.ParentID == nil) || (a.ParentID != nil && b.ParentID != nil && *a.ParentID == *b.ParentID))
}

func checkVersion(n *Note, want *int) error {
	if want != nil && *want != n.Version {
		return &apperr.Error{Code: apperr.PreconditionFailed,
			Message: fmt.Sprintf("the note has changed: it is at version %d, not %d; reload it and try again", n.Version, *want)}
	}
	return nil
}

// writeTx saves next (a changed copy of the locked note cur) as a new
// version: the row, its history, its task index (when the document
// changed), then the hooks.
func (s *Service) writeTx(ctx context.Context, tx db.Tx, cur, next *Note, d *derived, kind ChangeKind, restoredFrom *int) error {
	textChanged, stale, err := updateNote(ctx, tx, cur, next, d, s.searchJobs)
	if err != nil {
		return err
	}
	if stale {
		if err := queueSearch(ctx, tx, next); err != nil {
			return err
		}
	}
	if err := recordVersion(ctx, tx, next, kind, restoredFrom); err != nil {
		return err
	}
	if d != nil {
		if err := s.indexer.IndexNote(ctx, tx, next, d.doc); err != nil {
			return err
		}
	}
	return s.runHooks(ctx, tx, &Change{Kind: kind, Note: next, PreviousVersion: cur.Version,
		ContentChanged: d != nil, TextChanged: textChanged})
}

// EditTx locks a note, hands its document to edit and, when edit changed
// it, saves it as a new version of the given kind, in tx. It is how the
// task service changes task blocks: the note, its history and its index
// change together. The returned note carries its content.
func (s *Service) EditTx(ctx context.Context, tx db.Tx, userID, id uuid.UUID, kind ChangeKind,
	edit func(n *Note, doc *blocknote.Document) error) (*Note, error) {
	cur, _, err := lockNote(ctx, tx, userID, id, true)
	if err != nil {
		return nil, err
	}
	doc, err := blocknote.Parse(cur.Content, nil)
	if err != nil {
		return nil, fmt.Errorf("stored document of note %s does not parse: %w", id, err)
	}
	text := doc.PlainText()
	if err := edit(cur, doc); err != nil {
		return nil, err
	}
	if !doc.Changed() {
		return cur, nil
	}
	next := *cur
	d := derive(doc)
	d.textSame = d.text == text
	if err := s.writeTx(ctx, tx, cur, &next, d, kind, nil); err != nil {
		return nil, err
	}
	return &next, nil
}

// InboxTx returns the id of the user's Inbox note, creating it on first use.
func (s *Service) InboxTx(ctx context.Context, tx db.Tx, userID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	find := func() error {
		return tx.QueryRow(ctx, `SELECT id FROM notes WHERE user_id = $1 AND system_key = $2`, userID, SystemKeyInbox).Scan(&id)
	}
	err := find()
	if err == nil {
		return id, nil
	}
	if err != pgx.ErrNoRows {
		return uuid.Nil, fmt.Errorf("find inbox: %w", err)
	}
	n := &Note{ID: uuid.New(), UserID: userID, Title: "Inbox", Tags: []string{}, Metadata: json.RawMessage(`{}`), SystemKey: SystemKeyInbox}
	created, err := s.createTx(ctx, tx, n, blocknote.Empty())
	if err != nil {
		return uuid.Nil, err
	}
	if created {
		return n.ID, nil
	}
	// Another request created it meanwhile.
	if err := find(); err != nil {
		return uuid.Nil, fmt.Errorf("find inbox: %w", err)
	}
	return id, nil
}

// Delete deletes a note with its history and tasks. Its child notes move
// to the top level.
func (s *Service) Delete(ctx context.Context, userID, id uuid.UUID, ifVersion *int) error {
	return s.db.InTx(ctx, func(tx db.Tx) error {
		cur, _, err := lockNote(ctx, tx, userID, id, false)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return err
		}
		if err := s.indexer.IndexNote(ctx, tx, cur, blocknote.Empty()); err != nil {
			return err
		}
		if err := s.runHooks(ctx, tx, &Change{Kind: ChangeDelete, Note: cur, PreviousVersion: cur.Version, ContentChanged: true, TextChanged: true}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM notes WHERE id = $1 AND user_id = $2`, id, userID); err != nil {
			return fmt.Errorf("delete note %s: %w", id, err)
		}
		return nil
	})
}
