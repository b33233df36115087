package note

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Sorts of the note list; a leading "-" sorts descending.
var Sorts = []string{"-updated_at", "updated_at", "-created_at", "created_at", "title", "-title"}

// ListParams filter and page the note list.
type ListParams struct {
	Limit  int
	Cursor string
	// Q searches title and text (Postgres full-text search, web syntax:
	// words, "quoted phrases", -excluded, or).
	Q   string
	Tag string
	// ParentID lists the children of a note; Root lists top-level notes.
	ParentID *uuid.UUID
	Root     bool
	IsPinned *bool
	// IsArchived nil lists notes that are not archived; AnyArchived lists
	// both.
	IsArchived  *bool
	AnyArchived bool
	// Sort is one of Sorts (default -updated_at).
	Sort string
}

type noteCursor struct {
	Sort string    `json:"s"`
	Time time.Time `json:"t,omitzero"`
	Text string    `json:"x,omitempty"`
	ID   uuid.UUID `json:"id"`
}

// List returns a page of the user's notes without content, and the cursor
// of the next page ("" on the last).
func (s *Service) List(ctx context.Context, userID uuid.UUID, p *ListParams) ([]*Note, string, error) {
	limit, err := page.Limit(p.Limit)
	if err != nil {
		return nil, "", err
	}
	sort := p.Sort
	if sort == "" {
		sort = "-updated_at"
	}
	col, desc := strings.TrimPrefix(sort, "-"), strings.HasPrefix(sort, "-")
	switch col {
	case "updated_at", "created_at", "title":
	default:
		return nil, "", apperr.Field("sort", "must be one of "+strings.Join(Sorts, ", "), p.Sort)
	}
	var cur noteCursor
	hasCursor, err := page.Decode(p.Cursor, &cur)
	if err != nil {
		return nil, "", err
	}
	if hasCursor && cur.Sort != sort {
		return nil, "", apperr.Field("cursor", "belongs to another sort order; start again without a cursor", nil)
	}

	args := []any{userID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"user_id = $1"}
	if err := field.Text("q", p.Q, MaxQueryLength); err != nil {
		return nil, "", err
	}
	if p.Tag != "" {
		if _, err := field.Name("tag", p.Tag, MaxTagLength); err != nil {
			return nil, "", err
		}
	}
	if q := strings.TrimSpace(p.Q); q != "" {
		where = append(where, searchMatch("websearch_to_tsquery('simple', "+arg(q)+")"))
	}
	if p.Tag != "" {
		where = append(where, "tags @> ARRAY["+arg(p.Tag)+"::text]")
	}
	switch {
	case p.ParentID != nil:
		where = append(where, "parent_id = "+arg(*p.ParentID))
	case p.Root:
		where = append(where, "parent_id IS NULL")
	}
	if p.IsPinned != nil {
		where = append(where, "is_pinned = "+arg(*p.IsPinned))
	}
	if !p.AnyArchived {
		archived := false
		if p.IsArchived != nil {
			archived = *p.IsArchived
		}
		where = append(where, "is_archived = "+arg(archived))
	}
	op, dir := ">", "ASC"
	if desc {
		op, dir = "<", "DESC"
	}
	if hasCursor {
		var v any = cur.Time
		if col == "title" {
			v = cur.Text
		}
		where = append(where, fmt.Sprintf("(%s, id) %s (%s, %s)", col, op, arg(v), arg(cur.ID)))
	}
	sql := `SELECT ` + noteColumns + ` FROM notes WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT %s", col, dir, dir, arg(limit+1))
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list notes: %w", err)
	}
	defer rows.Close()
	var out []*Note
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list notes: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list notes: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		c := noteCursor{Sort: sort, ID: last.ID}
		switch col {
		case "updated_at":
			c.Time = last.UpdatedAt
		case "created_at":
			c.Time = last.CreatedAt
		case "title":
			c.Text = last.Title
		}
		next = page.Encode(c)
	}
	return out, next, nil
}

// MaxBacklinks bounds the backlinks listed for one note.
const MaxBacklinks = 500

// Backlinks lists the user's notes that link to the note (note://<id>),
// most recently updated first.
func (s *Service) Backlinks(ctx context.Context, userID, id uuid.UUID) ([]*Note, error) {
	if err := s.exists(ctx, userID, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+noteColumns+` FROM notes
		WHERE user_id = $1 AND linked_notes @> ARRAY[$2::uuid] AND id <> $2
		ORDER BY updated_at DESC, id DESC LIMIT $3`, userID, id, MaxBacklinks)
	if err != nil {
		return nil, fmt.Errorf("backlinks of note %s: %w", id, err)
	}
	defer rows.Close()
	out := []*Note{}
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, fmt.Errorf("backlinks of note %s: %w", id, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// TagCount is a tag and how many of the user's notes carry it.
type TagCount struct {
	Name      string
	NoteCount int
}

// Tags lists the user's tags by name with the number of notes carrying
// each (archived notes included).
func (s *Service) Tags(ctx context.Context, userID uuid.UUID) ([]TagCount, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT tag, count(*) FROM notes, unnest(tags) AS tag
		WHERE user_id = $1 GROUP BY tag ORDER BY tag`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer rows.Close()
	out := []TagCount{}
	for rows.Next() {
		var t TagCount
		if err := rows.Scan(&t.Name, &t.NoteCount); err != nil {
			return nil, fmt.Errorf("list tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
