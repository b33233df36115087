package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
)

// TicketTTL is how long a socket ticket may wait to be used.
const TicketTTL = 60 * time.Second

// Ticket opens one socket on one conversation: browsers cannot send an
// Authorization header with a WebSocket handshake, so they send this in
// the URL instead. It is single-use and short-lived, and stored only as a
// hash, so a URL that ends up in a log is worth nothing.
type Ticket struct {
	Value     string
	ExpiresAt time.Time
}

// IssueTicket makes a ticket for the user's conversation.
func (s *Service) IssueTicket(ctx context.Context, userID, convID uuid.UUID) (*Ticket, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("issue ticket: %w", err)
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(value))
	var expires time.Time
	err := s.db.Pool.QueryRow(ctx, `
		INSERT INTO chat_tickets (hash, user_id, conversation_id, expires_at)
		SELECT $1, c.user_id, c.id, now() + make_interval(secs => $4) FROM conversations c WHERE c.user_id = $2 AND c.id = $3
		RETURNING expires_at`, hash[:], userID, convID, TicketTTL.Seconds()).Scan(&expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("issue ticket: %w", err)
	}
	return &Ticket{Value: value, ExpiresAt: expires}, nil
}

var errBadTicket = apperr.New(apperr.Unauthorized, "the ticket is unknown, used or expired; get a new one from POST /api/chat/ticket")

// RedeemTicket uses up a ticket for the conversation convID and returns
// whose it was. A ticket of another conversation is used up too (and
// refused), so a ticket never opens more than one attempt.
func (s *Service) RedeemTicket(ctx context.Context, value string, convID uuid.UUID) (uuid.UUID, error) {
	if len(value) == 0 || len(value) > 128 {
		return uuid.Nil, errBadTicket
	}
	hash := sha256.Sum256([]byte(value))
	var userID, ticketConv uuid.UUID
	err := s.db.Pool.QueryRow(ctx, `
		DELETE FROM chat_tickets t USING users u
		WHERE t.hash = $1 AND t.expires_at > now() AND u.id = t.user_id AND u.is_active
		RETURNING t.user_id, t.conversation_id`, hash[:]).Scan(&userID, &ticketConv)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, errBadTicket
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("redeem ticket: %w", err)
	}
	if ticketConv != convID {
		return uuid.Nil, errBadTicket
	}
	return userID, nil
}
