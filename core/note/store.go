package note

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// noteColumns are the columns of a note without its content.
const noteColumns = `id, user_id, title, preview, parent_id, tags, linked_notes, is_pinned, is_archived,
	metadata, coalesce(system_key, ''), version, created_at, updated_at`

var errNotFound = apperr.New(apperr.NotFound, "note not found")

// scanNote scans noteColumns followed by extra destinations.
func scanNote(row pgx.Row, extra ...any) (*Note, error) {
	var n Note
	dest := append([]any{&n.ID, &n.UserID, &n.Title, &n.Preview, &n.ParentID, &n.Tags, &n.LinkedNotes,
		&n.IsPinned, &n.IsArchived, (*[]byte)(&n.Metadata), &n.SystemKey, &n.Version, &n.CreatedAt, &n.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound
		}
		return nil, err
	}
	return &n, nil
}

// derived is everything a save stores about a document besides itself.
type derived struct {
	doc     *blocknote.Document
	content []byte
	hash    []byte
	text    string
	preview string
	links   []uuid.UUID
	// textSame is set when the caller knows the text did not change (a
	// task's status), so that it is neither sent nor compared.
	textSame bool
}

func derive(doc *blocknote.Document) *derived {
	content, _ := doc.MarshalJSON()
	text := doc.PlainText()
	return &derived{doc: doc, content: content, hash: contentHash(content), text: text, preview: preview(text), links: doc.LinkedNotes()}
}

// contentHash is the hash of a document's JSON value: the same document
// with its keys in another order (as Postgres answers it) or spaced
// differently has the same hash, so saving back what GET returned is no
// change. Hashing the canonical form costs one pass over the request's
// bytes in this process, where comparing in Postgres would send the
// document twice or read the stored one back on every save. The leading
// byte tells these hashes from the older ones of the bytes sent (32 bytes,
// no prefix).
func contentHash(content []byte) []byte {
	sum, err := jsonvalue.Hash(content)
	if err != nil {
		// Cannot happen for a parsed document; bytes are a safe fallback
		// (at worst an unchanged save makes a version).
		sum = sha256.Sum256(content)
	}
	return append([]byte{valueHashPrefix}, sum[:]...)
}

const valueHashPrefix = 1

// sameContent reports whether d is the document stored with hash. A hash
// of the bytes, written before hashes were of the JSON value, is settled
// once by comparing in Postgres (jsonb equality) and, when the document is
// the same, replaced by the value hash, in place: no version, same ETag.
func sameContent(ctx context.Context, tx db.Tx, n *Note, stored []byte, d *derived) (bool, error) {
	if bytes.Equal(stored, d.hash) {
		return true, nil
	}
	if len(stored) == len(d.hash) && stored[0] == valueHashPrefix {
		return false, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE notes SET content_hash = $3 WHERE id = $1 AND user_id = $2 AND content = $4::jsonb`,
		n.ID, n.UserID, d.hash, d.content)
	if err != nil {
		return false, fmt.Errorf("compare content of note %s: %w", n.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// lockNote reads a note for update; it holds the row lock until the
// transaction ends, which serialises every change to one note.
func lockNote(ctx context.Context, tx db.Tx, userID, id uuid.UUID, withContent bool) (*Note, []byte, error) {
	var hash []byte
	var content []byte
	extra := []any{&hash}
	cols := noteColumns + `, content_hash`
	if withContent {
		cols += `, content`
		extra = append(extra, &content)
	}
	n, err := scanNote(tx.QueryRow(ctx, `SELECT `+cols+` FROM notes WHERE id = $1 AND user_id = $2 FOR UPDATE`, id, userID), extra...)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("lock note %s: %w", id, err)
	}
	n.Content = content
	return n, hash, nil
}

// insertNote inserts n; stale asks for the search vector to be left to a
// job.
func insertNote(ctx context.Context, tx db.Tx, n *Note, d *derived, stale bool) (bool, error) {
	err := tx.QueryRow(ctx, `
		INSERT INTO notes (id, user_id, title, content, content_hash, plain_text, preview, search, search_stale,
			parent_id, tags, linked_notes, is_pinned, is_archived, metadata, system_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7,
			CASE WHEN $15 THEN ''::tsvector ELSE `+searchVector("$3", "$6")+` END, $15,
			$8, $9, $10, $11, $12, $13, nullif($14, ''))
		ON CONFLICT (user_id, system_key) WHERE system_key IS NOT NULL DO NOTHING
		RETURNING version, created_at, updated_at`,
		n.ID, n.UserID, n.Title, d.content, d.hash, d.text, d.preview,
		n.ParentID, n.Tags, d.links, n.IsPinned, n.IsArchived, n.Metadata, n.SystemKey, stale,
	).Scan(&n.Version, &n.CreatedAt, &n.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // a system note that already exists
	}
	if err != nil {
		return false, fmt.Errorf("insert note: %w", err)
	}
	n.Content, n.Preview, n.LinkedNotes = d.content, d.preview, d.links
	return true, nil
}

// updateNote writes next over the locked note cur; d is nil when the
// content stays. It reports whether the title or text changed, and whether
// the search vector was left stale for a job (searchJobs: when the title
// and text are over SearchInlineBytes). Columns whose value does not change
// keep their stored (compressed, toasted) datum.
func updateNote(ctx context.Context, tx db.Tx, cur, next *Note, d *derived, searchJobs bool) (textChanged, stale bool, err error) {
	var content, hash, text, prev any
	var links any
	if d != nil {
		content, hash, prev, links = d.content, d.hash, d.preview, d.links
		if !d.textSame {
			text = d.text
		}
	}
	const (
		changed = `(old.title IS DISTINCT FROM $3 OR NOT old.same_text)`
		newText = `(CASE WHEN old.same_text THEN n.plain_text ELSE $11::text END)`
		large   = `($15 AND octet_length($3) + octet_length` + newText + ` > $16)`
	)
	var stored []byte
	err = tx.QueryRow(ctx, `
		UPDATE notes n SET
			title = $3, parent_id = $4, tags = $5, is_pinned = $6, is_archived = $7, metadata = $8,
			content = coalesce($9::jsonb, n.content),
			content_hash = coalesce($10::bytea, n.content_hash),
			plain_text = `+newText+`,
			preview = coalesce($12::text, n.preview),
			linked_notes = coalesce($13::uuid[], n.linked_notes),
			search = CASE WHEN NOT `+changed+` THEN n.search
				WHEN `+large+` THEN ''::tsvector
				ELSE `+searchVector("$3", newText)+` END,
			search_stale = CASE WHEN NOT `+changed+` THEN n.search_stale ELSE `+large+` END,
			version = n.version + 1,
			updated_at = now()
		FROM (SELECT title, ($11::text IS NULL OR plain_text = $11::text) AS same_text
			FROM notes WHERE id = $1 AND user_id = $2) old
		WHERE n.id = $1 AND n.user_id = $2 AND n.version = $14
		RETURNING n.version, n.updated_at, n.preview, n.linked_notes, `+changed+`,
			`+changed+` AND n.search_stale,
			CASE WHEN $9::jsonb IS NULL THEN n.content END`,
		cur.ID, cur.UserID, next.Title, next.ParentID, next.Tags, next.IsPinned, next.IsArchived, next.Metadata,
		content, hash, text, prev, links, cur.Version, searchJobs, SearchInlineBytes,
	).Scan(&next.Version, &next.UpdatedAt, &next.Preview, &next.LinkedNotes, &textChanged, &stale, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		// The row is locked by this transaction, so this cannot happen
		// unless the lock was not taken.
		return false, false, fmt.Errorf("update note %s: version %d is gone", cur.ID, cur.Version)
	}
	if err != nil {
		return false, false, fmt.Errorf("update note %s: %w", cur.ID, err)
	}
	if d != nil {
		next.Content = d.content
	} else {
		next.Content = stored
	}
	return textChanged, stale, nil
}

// recordVersion copies the note's current row into its history. Copying
// inside Postgres reuses the compressed content instead of sending it again.
func recordVersion(ctx context.Context, tx db.Tx, n *Note, kind ChangeKind, restoredFrom *int) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO note_versions (note_id, version, user_id, title, content, parent_id, tags,
			is_pinned, is_archived, metadata, change, restored_from, created_at)
		SELECT id, version, user_id, title, content, parent_id, tags, is_pinned, is_archived, metadata,
			$3, $4, updated_at
		FROM notes WHERE id = $1 AND user_id = $2`, n.ID, n.UserID, string(kind), restoredFrom)
	if err != nil {
		return fmt.Errorf("record version %d of note %s: %w", n.Version, n.ID, err)
	}
	return nil
}

// checkParent checks that parent is one of the user's notes and, for an
// existing note id, that making it the parent makes no cycle.
func checkParent(ctx context.Context, tx db.Tx, userID uuid.UUID, id *uuid.UUID, parent uuid.UUID) error {
	if id != nil && *id == parent {
		return apperr.Field("parent_id", "a note cannot be its own parent", parent.String())
	}
	var exists, cycle bool
	var self any
	if id != nil {
		self = *id
	}
	// Walk up from the parent; meeting the note itself means a cycle. Cycles
	// of any length are found: the tree is not bounded in depth (a bound
	// would be an arbitrary product rule, and the walk it cut short let a
	// chain longer than the bound close into a cycle). The walk costs one
	// index lookup per ancestor of the parent and stops at the note itself;
	// a new note (no id) cannot close a cycle, so only the parent is read.
	// UNION, not UNION ALL, ends the walk even on a cycle already stored.
	err := tx.QueryRow(ctx, `
		WITH RECURSIVE up(id, parent_id) AS (
			SELECT id, parent_id FROM notes WHERE id = $2 AND user_id = $1
			UNION
			SELECT n.id, n.parent_id FROM notes n JOIN up ON n.id = up.parent_id
			WHERE n.user_id = $1 AND $3::uuid IS NOT NULL AND up.id <> $3::uuid
		)
		SELECT EXISTS (SELECT 1 FROM up WHERE id = $2),
			coalesce($3::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM up WHERE id = $3::uuid), false)`,
		userID, parent, self).Scan(&exists, &cycle)
	if err != nil {
		return fmt.Errorf("check parent note: %w", err)
	}
	if !exists {
		return apperr.Field("parent_id", "no such note", parent.String())
	}
	if cycle {
		return apperr.Field("parent_id", "would make a cycle: that note is nested inside this one", parent.String())
	}
	return nil
}
