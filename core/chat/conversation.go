package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// MaxTitleLength bounds a conversation's title, in characters.
const MaxTitleLength = 200

// Conversation is a chat between the user and the agents.
type Conversation struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	Title    string
	Metadata json.RawMessage
	// LastEventSeq is the seq of the conversation's last event: a client
	// that reads the messages after the conversation subscribes after it.
	LastEventSeq  int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastMessageAt *time.Time
}

// ConversationFields are the writable fields; nil means "not sent".
type ConversationFields struct {
	Title    *string
	Metadata *json.RawMessage
}

func (f *ConversationFields) validate() error {
	var errs []apperr.FieldError
	add := func(err error) {
		var e *apperr.Error
		if errors.As(err, &e) {
			errs = append(errs, e.Fields...)
		}
	}
	if f.Title != nil {
		t, err := field.Name("title", *f.Title, MaxTitleLength)
		f.Title = &t
		add(err)
	}
	if f.Metadata != nil {
		m, err := field.Object("metadata", *f.Metadata)
		f.Metadata = &m
		add(err)
	}
	if len(errs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: errs}
	}
	return nil
}

const conversationColumns = `id, user_id, title, metadata, last_event_seq, created_at, updated_at, last_message_at`

func scanConversation(row pgx.Row) (*Conversation, error) {
	var c Conversation
	err := row.Scan(&c.ID, &c.UserID, &c.Title, &c.Metadata, &c.LastEventSeq, &c.CreatedAt, &c.UpdatedAt, &c.LastMessageAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read conversation: %w", err)
	}
	return &c, nil
}

// CreateConversation starts a conversation. Without a title it gets the
// first words of its first message.
func (s *Service) CreateConversation(ctx context.Context, userID uuid.UUID, f *ConversationFields) (*Conversation, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	title := ""
	if f.Title != nil {
		title = *f.Title
	}
	meta := json.RawMessage(`{}`)
	if f.Metadata != nil {
		meta = *f.Metadata
	}
	return scanConversation(s.db.Pool.QueryRow(ctx, `
		INSERT INTO conversations (user_id, title, metadata) VALUES ($1, $2, $3) RETURNING `+conversationColumns,
		userID, title, meta))
}

// GetConversation returns one of the user's conversations.
func (s *Service) GetConversation(ctx context.Context, userID, id uuid.UUID) (*Conversation, error) {
	return getConversation(ctx, s.db.Pool, userID, id)
}

func getConversation(ctx context.Context, q db.Querier, userID, id uuid.UUID) (*Conversation, error) {
	return scanConversation(q.QueryRow(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE user_id = $1 AND id = $2`, userID, id))
}

// UpdateConversation changes the fields sent (metadata is replaced whole).
// A change that changes nothing leaves updated_at as it was.
func (s *Service) UpdateConversation(ctx context.Context, userID, id uuid.UUID, f *ConversationFields) (*Conversation, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	var meta any
	if f.Metadata != nil {
		meta = []byte(*f.Metadata)
	}
	c, err := scanConversation(s.db.Pool.QueryRow(ctx, `
		UPDATE conversations SET title = coalesce($3, title), title_auto = title_auto AND $3::text IS NULL, metadata = coalesce($4::jsonb, metadata), updated_at = now()
		WHERE user_id = $1 AND id = $2
		  AND (coalesce($3, title), coalesce($4::jsonb, metadata)) IS DISTINCT FROM (title, metadata)
		RETURNING `+conversationColumns, userID, id, f.Title, meta))
	if errors.Is(err, errNotFound) {
		return s.GetConversation(ctx, userID, id) // unchanged, or not found
	}
	return c, err
}

// DeleteConversation deletes a conversation with its messages, runs and
// events. Streams open on it end with a not_found error; a run working on
// it finds nothing left to write to and stops.
func (s *Service) DeleteConversation(ctx context.Context, userID, id uuid.UUID) error {
	return s.db.InTx(ctx, func(tx db.Tx) error {
		var last int64
		err := tx.QueryRow(ctx, `DELETE FROM conversations WHERE user_id = $1 AND id = $2 RETURNING last_event_seq`, userID, id).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNotFound
		}
		if err != nil {
			return fmt.Errorf("delete conversation %s: %w", id, err)
		}
		// Wakes the conversation's subscribers, who then find it gone.
		return notifyEvents(ctx, tx, id, last)
	})
}

// ConversationFilter selects a page of conversations.
type ConversationFilter struct {
	Limit  int
	Cursor string
}

// conversationKey sorts conversations by activity: the last message, else
// creation.
type conversationKey struct {
	ActiveAt time.Time `json:"a"`
	ID       uuid.UUID `json:"i"`
}

func (k conversationKey) Values() []any { return []any{k.ActiveAt, k.ID} }

// ListConversations returns a page of the user's conversations, the most
// recently active (last message, else creation) first.
func (s *Service) ListConversations(ctx context.Context, userID uuid.UUID, f *ConversationFilter) (*page.Page[*Conversation], error) {
	l, err := page.NewList(f.Limit, f.Cursor, func(c *Conversation) conversationKey {
		active := c.CreatedAt
		if c.LastMessageAt != nil {
			active = *c.LastMessageAt
		}
		return conversationKey{ActiveAt: active, ID: c.ID}
	})
	if err != nil {
		return nil, err
	}
	l.Where("user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	l.OrderBy(page.Desc, "coalesce(last_message_at, created_at)", "id")
	out, err := l.Fetch(ctx, s.db.Pool, `SELECT `+conversationColumns+` FROM conversations`, scanConversation)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}

// autoTitle is the offline title of a conversation: the first words of its
// first message, on one line, cut at a word boundary.
func autoTitle(content string) string {
	const maxWords, maxChars = 8, 60
	words := strings.FieldsFunc(content, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
	var b strings.Builder
	n := 0
	for i, w := range words {
		wl := len([]rune(w))
		if i == maxWords || (n > 0 && n+1+wl > maxChars) {
			return b.String() + "…"
		}
		if n == 0 && wl > maxChars {
			return string([]rune(w)[:maxChars]) + "…"
		}
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += wl
	}
	return b.String()
}
