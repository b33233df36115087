package note

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Version is one saved version of a note. Content is nil in lists.
type Version struct {
	NoteID       uuid.UUID
	UserID       uuid.UUID
	Version      int
	Title        string
	Content      json.RawMessage
	ParentID     *uuid.UUID
	Tags         []string
	IsPinned     bool
	IsArchived   bool
	Metadata     json.RawMessage
	Change       ChangeKind
	RestoredFrom *int
	CreatedAt    time.Time
}

const versionColumns = `note_id, user_id, version, title, parent_id, tags, is_pinned, is_archived, metadata, change, restored_from, created_at`

func scanVersion(row pgx.Row, extra ...any) (*Version, error) {
	var v Version
	var change string
	dest := append([]any{&v.NoteID, &v.UserID, &v.Version, &v.Title, &v.ParentID, &v.Tags, &v.IsPinned,
		&v.IsArchived, (*[]byte)(&v.Metadata), &change, &v.RestoredFrom, &v.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	v.Change = ChangeKind(change)
	return &v, nil
}

// VersionsParams page through a note's history, newest first.
type VersionsParams struct {
	Limit  int
	Cursor string
}

type versionCursor struct {
	V int `json:"v"`
}

func (c versionCursor) Values() []any { return []any{c.V} }

// Valid refuses a version no note can have: as a query argument it would
// fail in the driver.
func (c versionCursor) Valid() bool { return field.ValidVersion(c.V) }

// Versions lists a note's versions, newest first, without content.
func (s *Service) Versions(ctx context.Context, userID, id uuid.UUID, p *VersionsParams) (*page.Page[*Version], error) {
	l, err := page.NewList(p.Limit, p.Cursor, func(v *Version) versionCursor { return versionCursor{V: v.Version} })
	if err != nil {
		return nil, err
	}
	if err := s.exists(ctx, userID, id); err != nil {
		return nil, err
	}
	l.Where("note_id = @note_id AND user_id = @user_id", pgx.NamedArgs{"note_id": id, "user_id": userID})
	l.OrderBy(page.Desc, "version")
	out, err := l.Fetch(ctx, s.db.Q(ctx), `SELECT `+versionColumns+` FROM note_versions`,
		func(r pgx.Row) (*Version, error) { return scanVersion(r) })
	if err != nil {
		return nil, fmt.Errorf("list versions of note %s: %w", id, err)
	}
	return out, nil
}

func (s *Service) exists(ctx context.Context, userID, id uuid.UUID) error {
	var ok bool
	if err := s.db.Q(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notes WHERE id = $1 AND user_id = $2)`, id, userID).Scan(&ok); err != nil {
		return fmt.Errorf("find note %s: %w", id, err)
	}
	if !ok {
		return errNotFound
	}
	return nil
}

var errVersionNotFound = apperr.New(apperr.NotFound, "no such version of this note")

// Version returns one version of a note with its content.
func (s *Service) Version(ctx context.Context, userID, id uuid.UUID, version int) (*Version, error) {
	v, err := getVersion(ctx, s.db.Q(ctx), userID, id, version)
	if errors.Is(err, errVersionNotFound) {
		if err := s.exists(ctx, userID, id); err != nil {
			return nil, err
		}
	}
	return v, err
}

func getVersion(ctx context.Context, q db.Querier, userID, id uuid.UUID, version int) (*Version, error) {
	// A number no version can have (versions are int4) is no such version;
	// as a query argument it would fail in the driver.
	if !field.ValidVersion(version) {
		return nil, errVersionNotFound
	}
	var content []byte
	v, err := scanVersion(q.QueryRow(ctx, `SELECT `+versionColumns+`, content FROM note_versions
		WHERE note_id = $1 AND user_id = $2 AND version = $3`, id, userID, version), &content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errVersionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get version %d of note %s: %w", version, id, err)
	}
	v.Content = content
	return v, nil
}

// Restore makes an old version current again, as a new version: its
// title, content, tags and metadata come back (the note stays where it is
// in the tree, pinned or archived as it is now), and the task index follows
// the restored document.
func (s *Service) Restore(ctx context.Context, userID, id uuid.UUID, version int, ifVersion *int) (*Note, error) {
	var out *Note
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		cur, _, err := lockNote(ctx, tx, userID, id, false)
		if err != nil {
			return err
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return err
		}
		v, err := getVersion(ctx, tx, userID, id, version)
		if err != nil {
			return err
		}
		doc, err := blocknote.Parse(v.Content, nil)
		if err != nil {
			return fmt.Errorf("stored version %d of note %s does not parse: %w", version, id, err)
		}
		next := *cur
		next.Title, next.Tags, next.Metadata = v.Title, v.Tags, v.Metadata
		out = &next
		return s.writeTx(ctx, tx, cur, out, derive(doc), ChangeRestore, &version)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
