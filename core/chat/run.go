package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
)

// Run statuses.
const (
	RunQueued  = "queued"
	RunRunning = "running"
	// RunWaitingApproval: the run stopped at a tool call that needs the
	// user's approval; no worker holds it. The answer queues it again.
	RunWaitingApproval = "waiting_approval"
	RunCompleted       = "completed"
	RunCancelled       = "cancelled"
	RunFailed          = "failed"
	RunBudgetExceeded  = "budget_exceeded"
)

// Run is one answer to a user's message: queued with the message, worked
// by a River job on any worker.
type Run struct {
	ID             uuid.UUID
	UserID         uuid.UUID
	ConversationID uuid.UUID
	// MessageID is the user's message the run answers.
	MessageID       uuid.UUID
	AgentID         string
	Status          string
	CancelRequested bool
	ErrorCode       string
	ErrorMessage    string
	Attempts        int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Done reports whether the run has ended.
func (r *Run) Done() bool {
	return r.Status != RunQueued && r.Status != RunRunning && r.Status != RunWaitingApproval
}

const runColumns = `id, user_id, conversation_id, message_id, agent_id, status, cancel_requested_at IS NOT NULL,
	coalesce(error_code, ''), coalesce(error_message, ''), attempts, created_at, updated_at`

func scanRun(row pgx.Row) (*Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.UserID, &r.ConversationID, &r.MessageID, &r.AgentID, &r.Status, &r.CancelRequested,
		&r.ErrorCode, &r.ErrorMessage, &r.Attempts, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "run not found")
	}
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	return &r, nil
}

// GetRun returns a run of the user's conversation.
func (s *Service) GetRun(ctx context.Context, userID, convID, runID uuid.UUID) (*Run, error) {
	return scanRun(s.db.Pool.QueryRow(ctx, `SELECT `+runColumns+` FROM chat_runs
		WHERE user_id = $1 AND conversation_id = $2 AND id = $3`, userID, convID, runID))
}

// RunTurnArgs is the River job that answers one user message. Its kind
// lives here so that core inserts it without importing jobs.
type RunTurnArgs struct {
	RunID          uuid.UUID `json:"run_id"`
	ConversationID uuid.UUID `json:"conversation_id"`
	UserID         uuid.UUID `json:"user_id"`
}

func (RunTurnArgs) Kind() string { return "chat.run_turn" }

// runTurnAttempts bounds retries of a run whose worker died or stopped
// mid-turn (a Runner's own failures end the run instead).
const runTurnAttempts = 3

// SendParams is a user's message.
type SendParams struct {
	Content string
	// AgentID names the agent to talk to; nil lets the first configured
	// agent answer (the orchestrator will route).
	AgentID *string
	// ClientMsgID is the client's id of this message (a UUID it makes): a
	// repeat answers the first send and starts nothing, so a client may
	// resend after a lost answer.
	ClientMsgID string
}

// Sent is the answer to a send.
type Sent struct {
	Message *Message
	RunID   uuid.UUID
	// Repeated says that ClientMsgID had been sent before: Message and
	// RunID are the first send's.
	Repeated bool
}

// errRepeated rolls back a send whose client_msg_id was already used.
var errRepeated = errors.New("client_msg_id already used")

// Send stores the user's message and, in the same transaction, a queued
// run and the River job that works it, and appends the message's
// message.completed event. The conversation's title, when it has none, is
// the first words of its first message.
func (s *Service) Send(ctx context.Context, userID, convID uuid.UUID, p *SendParams) (*Sent, error) {
	clientID, agent, err := s.validateSend(p)
	if err != nil {
		return nil, err
	}
	var out *Sent
	err = s.db.InTx(ctx, func(tx db.Tx) error {
		// The conversation's lock serialises sends to it, so a repeated
		// client_msg_id sent in parallel waits here for the first one and
		// then finds its message.
		if _, err := lockConversation(ctx, tx, userID, convID, ""); err != nil {
			return err
		}
		runID := uuid.New()
		msg, err := scanMessage(tx.QueryRow(ctx, `
			INSERT INTO chat_messages (user_id, conversation_id, role, content, agent_id, run_id, client_msg_id)
			VALUES ($1, $2, 'user', $3, $4, $5, $6)
			ON CONFLICT (user_id, conversation_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
			RETURNING `+messageColumns, userID, convID, p.Content, p.AgentID, runID, clientID))
		if apperr.Is(err, apperr.NotFound) {
			return errRepeated
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE conversations SET last_message_at = now(), updated_at = now(),
				title_auto = title_auto OR (title = '' AND NOT EXISTS (
					SELECT 1 FROM chat_messages WHERE conversation_id = $2 AND role = 'user' AND id <> $3)),
				title = CASE WHEN title = '' AND NOT EXISTS (
					SELECT 1 FROM chat_messages WHERE conversation_id = $2 AND role = 'user' AND id <> $3)
					THEN $4 ELSE title END
			WHERE user_id = $1 AND id = $2`, userID, convID, msg.ID, autoTitle(p.Content)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO chat_runs (id, user_id, conversation_id, message_id, agent_id) VALUES ($1, $2, $3, $4, $5)`,
			runID, userID, convID, msg.ID, agent); err != nil {
			return fmt.Errorf("send: insert run: %w", err)
		}
		if _, err := tx.InsertJob(ctx, RunTurnArgs{RunID: runID, ConversationID: convID, UserID: userID},
			&river.InsertOpts{Queue: s.queue, MaxAttempts: runTurnAttempts}); err != nil {
			return fmt.Errorf("send: insert job: %w", err)
		}
		if _, err := AppendEvents(ctx, tx, userID, convID, messageCompleted(runID, msg)); err != nil {
			return err
		}
		out = &Sent{Message: msg, RunID: runID}
		return nil
	})
	if errors.Is(err, errRepeated) {
		return s.repeated(ctx, userID, convID, clientID, p)
	}
	return out, err
}

// repeated answers a send whose client_msg_id names a message already
// stored: that message and its run, when the content and agent are the
// same; a conflict when the id was used for another message.
func (s *Service) repeated(ctx context.Context, userID, convID, clientID uuid.UUID, p *SendParams) (*Sent, error) {
	msg, err := scanMessage(s.db.Pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM chat_messages
		WHERE user_id = $1 AND conversation_id = $2 AND client_msg_id = $3`, userID, convID, clientID))
	if err != nil {
		return nil, fmt.Errorf("send: read the first send: %w", err)
	}
	sameAgent := (msg.AgentID == nil && p.AgentID == nil) || (msg.AgentID != nil && p.AgentID != nil && *msg.AgentID == *p.AgentID)
	if msg.Content != p.Content || !sameAgent || msg.RunID == nil {
		return nil, &apperr.Error{Code: apperr.Conflict, Message: "client_msg_id was already used for another message",
			Fields: []apperr.FieldError{{Location: "client_msg_id", Message: "was already used for another message in this conversation", Value: clientID.String()}}}
	}
	return &Sent{Message: msg, RunID: *msg.RunID, Repeated: true}, nil
}

// validateSend checks a send's fields and returns the client's id and the
// agent that answers.
func (s *Service) validateSend(p *SendParams) (uuid.UUID, string, error) {
	var errs []apperr.FieldError
	add := func(err error) {
		var e *apperr.Error
		if errors.As(err, &e) {
			errs = append(errs, e.Fields...)
		}
	}
	add(checkContent(p.Content))
	clientID, err := field.ID("client_msg_id", p.ClientMsgID)
	add(err)
	if err == nil && clientID == uuid.Nil {
		add(apperr.Field("client_msg_id", "must not be the nil UUID: make a random one for each message", p.ClientMsgID))
	}
	agent, err := s.agentFor(p.AgentID)
	add(err)
	if len(errs) > 0 {
		return uuid.Nil, "", &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: errs}
	}
	return clientID, agent, nil
}

// agentFor is the agent that answers a message naming name (nil: none).
func (s *Service) agentFor(name *string) (string, error) {
	var names []string
	if s.agents != nil {
		for _, a := range s.agents.Agents() {
			names = append(names, a.Name)
		}
	}
	if name == nil {
		if len(names) == 0 {
			return "", apperr.New(apperr.Unavailable, "no agent is configured (ai.agents)")
		}
		return names[0], nil
	}
	if !slices.Contains(names, *name) {
		shown := *name
		if len(shown) > 100 {
			shown = shown[:100]
		}
		return "", apperr.Field("agent_id", "is not a configured agent; the agents are: "+strings.Join(names, ", "), shown)
	}
	return *name, nil
}

// CancelRun asks the user's run to stop. A queued run is cancelled at
// once; a running one gets a cancel request that its worker, on whichever
// process runs it, hears through NOTIFY chat_cancel (and checks at every
// step). A run that has ended is answered as it is.
func (s *Service) CancelRun(ctx context.Context, userID, convID, runID uuid.UUID) (*Run, error) {
	var out *Run
	ended := false
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		ended = false
		// The conversation first, as every writer of a conversation locks
		// it before its runs.
		if _, err := lockConversation(ctx, tx, userID, convID, ""); err != nil {
			return err
		}
		r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM chat_runs
			WHERE user_id = $1 AND conversation_id = $2 AND id = $3 FOR UPDATE`, userID, convID, runID))
		if err != nil {
			return err
		}
		if r.Done() {
			out = r
			return nil
		}
		if r.Status == RunQueued || r.Status == RunWaitingApproval {
			// No worker holds it: cancelled at once (a pending approval
			// can no longer be answered).
			out, err = finishRun(ctx, tx, r, RunCancelled, "", "")
			ended = err == nil
			return err
		}
		out, err = scanRun(tx.QueryRow(ctx, `UPDATE chat_runs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
			WHERE user_id = $1 AND id = $2 RETURNING `+runColumns, userID, runID))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, cancelChannel, runID.String())
		return err
	})
	if err == nil && ended {
		s.metrics.ChatRunEnded(RunCancelled)
	}
	return out, err
}

// cancelChannel carries the id of a run whose cancel was requested.
const cancelChannel = "chat_cancel"

// finishRun ends a run with status and appends its last events (an error
// when code is set, then run.completed) in tx.
func finishRun(ctx context.Context, tx pgx.Tx, r *Run, status, code, message string) (*Run, error) {
	var codeArg, msgArg *string
	if code != "" {
		codeArg, msgArg = &code, &message
	}
	done, err := scanRun(tx.QueryRow(ctx, `UPDATE chat_runs SET status = $3, error_code = $4, error_message = $5,
			finished_at = now(), updated_at = now()
		WHERE user_id = $1 AND id = $2 RETURNING `+runColumns, r.UserID, r.ID, status, codeArg, msgArg))
	if err != nil {
		return nil, err
	}
	var evs []Event
	if code != "" {
		evs = append(evs, ErrorEvent(&r.ID, code, message))
	}
	evs = append(evs, NewEvent(&r.ID, EventRunCompleted, struct {
		Status string `json:"status"`
	}{status}))
	if _, err := AppendEvents(ctx, tx, r.UserID, r.ConversationID, evs...); err != nil {
		return nil, err
	}
	return done, nil
}
