package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// MaxContentLength bounds a message's content, in characters.
const MaxContentLength = 32_000

// Roles of a message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
	RoleSystem    = "system"
)

// Message is one message of a conversation.
type Message struct {
	ID             uuid.UUID
	ConversationID uuid.UUID
	UserID         uuid.UUID
	Role           string
	Content        string
	// AgentID is the agent that spoke (assistant and tool messages) or the
	// one a user's message was addressed to; nil when none was named.
	AgentID *string
	// RunID is the run a user's message started, or the run that wrote
	// any other message.
	RunID     *uuid.UUID
	Metadata  json.RawMessage
	CreatedAt time.Time
	// pos orders a conversation's messages (an identity column): the key
	// of their pages.
	pos int64
}

const messageColumns = `id, conversation_id, user_id, role, content, agent_id, run_id, metadata, created_at`

func scanMessage(row pgx.Row) (*Message, error) {
	var m Message
	err := row.Scan(&m.ID, &m.ConversationID, &m.UserID, &m.Role, &m.Content, &m.AgentID, &m.RunID, &m.Metadata, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "message not found")
	}
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	return &m, nil
}

// MessageFilter selects a page of a conversation's messages.
type MessageFilter struct {
	// Order is "desc" (newest first, the default: open a conversation at
	// its end and page back) or "asc" (from the start).
	Order  string
	Limit  int
	Cursor string
}

// messageKey is the position of a message in its conversation.
type messageKey struct {
	Pos int64 `json:"p"`
}

func (k messageKey) Values() []any { return []any{k.Pos} }

// ListMessages returns a page of a conversation's messages.
func (s *Service) ListMessages(ctx context.Context, userID, convID uuid.UUID, f *MessageFilter) (*page.Page[*Message], error) {
	var order page.Order
	switch f.Order {
	case "", "desc":
		order = page.Desc
	case "asc":
		order = page.Asc
	default:
		return nil, apperr.Field("order", "must be asc or desc", f.Order)
	}
	l, err := page.NewList(f.Limit, f.Cursor, func(m *Message) messageKey { return messageKey{Pos: m.pos} })
	if err != nil {
		return nil, err
	}
	if _, err := s.GetConversation(ctx, userID, convID); err != nil {
		return nil, err
	}
	l.Where("user_id = @user_id AND conversation_id = @conversation_id", pgx.NamedArgs{"user_id": userID, "conversation_id": convID})
	l.OrderBy(order, "pos")
	out, err := l.Fetch(ctx, s.db.Pool, `SELECT `+messageColumns+`, pos FROM chat_messages`, func(row pgx.Row) (*Message, error) {
		var m Message
		err := row.Scan(&m.ID, &m.ConversationID, &m.UserID, &m.Role, &m.Content, &m.AgentID, &m.RunID, &m.Metadata, &m.CreatedAt, &m.pos)
		return &m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

// NewMessage is a message a run writes (an assistant's answer, a tool's
// result).
type NewMessage struct {
	// ID may be chosen beforehand, so that the message.delta events that
	// stream it name the message it becomes; zero: a new one.
	ID       uuid.UUID
	Role     string
	Content  string
	AgentID  string
	Metadata json.RawMessage
	// once stores it only when no message has its ID (a retried run's):
	// stored before, nothing is written and insertMessage answers nil.
	once bool
}

// insertMessage stores a run's message and its message.completed event in
// tx. It locks the conversation first (see chat_messages.pos).
func (s *Service) insertMessage(ctx context.Context, tx db.Tx, run *Run, m *NewMessage) (*Message, error) {
	switch m.Role {
	case RoleAssistant, RoleTool, RoleSystem:
	default:
		return nil, fmt.Errorf("insert message: a run cannot write a %q message", m.Role)
	}
	// A model's text is kept, not refused: only what Postgres cannot
	// store is dropped.
	content := strings.ReplaceAll(strings.ToValidUTF8(m.Content, "\uFFFD"), "\x00", "")
	id := m.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	meta := m.Metadata
	if meta == nil {
		meta = json.RawMessage(`{}`)
	}
	var agent *string
	if m.AgentID != "" {
		agent = &m.AgentID
	}
	if _, err := lockConversation(ctx, tx, run.UserID, run.ConversationID, `last_message_at = now(), updated_at = now()`); err != nil {
		return nil, err
	}
	conflict := ""
	if m.once {
		conflict = ` ON CONFLICT (id) DO NOTHING`
	}
	msg, err := scanMessage(tx.QueryRow(ctx, `
		INSERT INTO chat_messages (id, user_id, conversation_id, role, content, agent_id, run_id, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`+conflict+` RETURNING `+messageColumns,
		id, run.UserID, run.ConversationID, m.Role, content, agent, run.ID, meta))
	if m.once && apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := AppendEvents(ctx, tx, run.UserID, run.ConversationID, messageCompleted(run.ID, msg)); err != nil {
		return nil, err
	}
	return msg, nil
}

// lockConversation locks the user's conversation row for the rest of tx,
// applying set (an UPDATE's SET list; "" changes nothing), and returns it.
func lockConversation(ctx context.Context, tx db.Tx, userID, convID uuid.UUID, set string) (*Conversation, error) {
	if set == "" {
		return scanConversation(tx.QueryRow(ctx,
			`SELECT `+conversationColumns+` FROM conversations WHERE user_id = $1 AND id = $2 FOR UPDATE`, userID, convID))
	}
	return scanConversation(tx.QueryRow(ctx,
		`UPDATE conversations SET `+set+` WHERE user_id = $1 AND id = $2 RETURNING `+conversationColumns, userID, convID))
}

// checkContent applies the rules of a user's message: not empty, text of
// at most MaxContentLength characters.
func checkContent(s string) error {
	if err := field.Required("content", s); err != nil {
		return err
	}
	return field.Text("content", s, MaxContentLength)
}
