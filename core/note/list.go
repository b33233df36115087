package note

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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

func (c noteCursor) Values() []any {
	if col, _ := page.ParseSort(c.Sort); col == "title" {
		return []any{c.Text, c.ID}
	}
	return []any{c.Time, c.ID}
}

// List returns a page of the user's notes without content.
func (s *Service) List(ctx context.Context, userID uuid.UUID, p *ListParams) (*page.Page[*Note], error) {
	sort := cmp.Or(p.Sort, "-updated_at")
	col, order := page.ParseSort(sort)
	l, err := page.NewList(p.Limit, p.Cursor, func(n *Note) noteCursor {
		c := noteCursor{Sort: sort, ID: n.ID}
		switch col {
		case "updated_at":
			c.Time = n.UpdatedAt
		case "created_at":
			c.Time = n.CreatedAt
		case "title":
			c.Text = n.Title
		}
		return c
	})
	if err != nil {
		return nil, err
	}
	switch col {
	case "updated_at", "created_at", "title":
	default:
		return nil, apperr.Field("sort", "must be one of "+strings.Join(Sorts, ", "), p.Sort)
	}
	if l.After != nil && l.After.Sort != sort {
		return nil, apperr.Field("cursor", "belongs to another sort order; start again without a cursor", nil)
	}
	if err := field.Text("q", p.Q, MaxQueryLength); err != nil {
		return nil, err
	}
	if p.Tag != "" {
		if _, err := field.Name("tag", p.Tag, MaxTagLength); err != nil {
			return nil, err
		}
	}

	l.Where("user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if q := strings.TrimSpace(p.Q); q != "" {
		l.Where(searchMatch("websearch_to_tsquery('simple', @q)"), pgx.NamedArgs{"q": q})
	}
	if p.Tag != "" {
		l.Where("tags @> ARRAY[@tag::text]", pgx.NamedArgs{"tag": p.Tag})
	}
	switch {
	case p.ParentID != nil:
		l.Where("parent_id = @parent_id", pgx.NamedArgs{"parent_id": *p.ParentID})
	case p.Root:
		l.Where("parent_id IS NULL")
	}
	if p.IsPinned != nil {
		l.Where("is_pinned = @is_pinned", pgx.NamedArgs{"is_pinned": *p.IsPinned})
	}
	if !p.AnyArchived {
		l.Where("is_archived = @is_archived", pgx.NamedArgs{"is_archived": p.IsArchived != nil && *p.IsArchived})
	}
	l.OrderBy(order, col, "id")
	out, err := l.Fetch(ctx, s.db.Q(ctx), `SELECT `+noteColumns+` FROM notes`, func(r pgx.Row) (*Note, error) { return scanNote(r) })
	if err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	return out, nil
}

// MaxBacklinks bounds the backlinks listed for one note.
const MaxBacklinks = 500

// Backlinks lists the user's notes that link to the note (note://<id>),
// most recently updated first.
func (s *Service) Backlinks(ctx context.Context, userID, id uuid.UUID) ([]*Note, error) {
	if err := s.exists(ctx, userID, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT `+noteColumns+` FROM notes
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
	rows, err := s.db.Q(ctx).Query(ctx, `SELECT tag, count(*) FROM notes, unnest(tags) AS tag
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

// MaxTitleMatches bounds the notes ByTitle returns.
const MaxTitleMatches = 10

// ByTitle returns the user's notes that are not archived whose title is
// title, compared case-insensitively after trimming spaces (most recently
// updated first, at most MaxTitleMatches): an agent names a note the way
// the user did.
func (s *Service) ByTitle(ctx context.Context, userID uuid.UUID, title string) ([]*Note, error) {
	title = strings.TrimSpace(title)
	if err := field.Text("title", title, MaxTitleLength); err != nil {
		return nil, err
	}
	if title == "" {
		return []*Note{}, nil
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+noteColumns+` FROM notes
		WHERE user_id = $1 AND NOT is_archived AND lower(btrim(title)) = lower($2)
		ORDER BY updated_at DESC, id LIMIT $3`, userID, title, MaxTitleMatches)
	if err != nil {
		return nil, fmt.Errorf("find notes by title: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Note, error) { return scanNote(r) })
	if err != nil {
		return nil, fmt.Errorf("find notes by title: %w", err)
	}
	return out, nil
}
