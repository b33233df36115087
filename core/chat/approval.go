package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// Approval statuses.
const (
	ApprovalPending = "pending"
	ApprovalAllowed = "allowed"
	ApprovalDenied  = "denied"
)

// Why a call waits for approval.
const (
	ReasonDestructive = "destructive"
	ReasonExternal    = "external"
	ReasonBulk        = "bulk"
	// ReasonUntrusted: a write in a turn that holds text from outside the
	// user's own writing.
	ReasonUntrusted = "untrusted"
)

// Approval is a tool call waiting for (or answered by) the user.
type Approval struct {
	ID             uuid.UUID
	UserID         uuid.UUID
	ConversationID uuid.UUID
	RunID          uuid.UUID
	Agent          string
	Tool           string
	CallID         string
	Arguments      json.RawMessage
	Effect         Effect
	Reason         string
	Status         string
	CreatedAt      time.Time
	AnsweredAt     *time.Time
	key            string
}

const approvalColumns = `id, user_id, conversation_id, run_id, agent, tool, call_id, arguments, effect, reason, status,
	created_at, answered_at, idempotency_key`

func scanApproval(row pgx.Row) (*Approval, error) {
	var a Approval
	err := row.Scan(&a.ID, &a.UserID, &a.ConversationID, &a.RunID, &a.Agent, &a.Tool, &a.CallID, &a.Arguments, &a.Effect,
		&a.Reason, &a.Status, &a.CreatedAt, &a.AnsweredAt, &a.key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "approval not found")
	}
	if err != nil {
		return nil, fmt.Errorf("read approval: %w", err)
	}
	return &a, nil
}

// approvalByKey returns the approval asked for a call, nil when none was.
func approvalByKey(ctx context.Context, q db.Querier, userID uuid.UUID, key string) (*Approval, error) {
	a, err := scanApproval(q.QueryRow(ctx, `SELECT `+approvalColumns+` FROM chat_approvals
		WHERE user_id = $1 AND idempotency_key = $2`, userID, key))
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	return a, err
}

// approvalRequest is what the orchestrator stores when a call must wait.
type approvalRequest struct {
	Key       string
	Agent     string
	Tool      string
	CallID    string
	Arguments json.RawMessage
	Effect    Effect
	Reason    string
	// Provider is the outside app of an external tool ("" for ours).
	Provider string
	// State is the run's state to resume from.
	State json.RawMessage
}

// waitForApproval stores the approval (once per call), the run's state and
// its status waiting_approval, and appends approval.required, in one
// transaction; the Runner then returns ErrWaitingApproval.
func (t *Turn) waitForApproval(ctx context.Context, req *approvalRequest) (*Approval, error) {
	var out *Approval
	err := t.svc.db.InTx(ctx, func(tx db.Tx) error {
		if _, err := lockConversation(ctx, tx, t.Run.UserID, t.Run.ConversationID, ""); err != nil {
			return err
		}
		a, err := scanApproval(tx.QueryRow(ctx, `
			INSERT INTO chat_approvals (user_id, conversation_id, run_id, idempotency_key, agent, tool, call_id, arguments, effect, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
			RETURNING `+approvalColumns,
			t.Run.UserID, t.Run.ConversationID, t.Run.ID, req.Key, req.Agent, req.Tool, req.CallID, req.Arguments, req.Effect, req.Reason))
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE chat_runs SET status = 'waiting_approval', state = $3, updated_at = now()
			WHERE user_id = $1 AND id = $2 AND status = 'running'`, t.Run.UserID, t.Run.ID, req.State)
		if err != nil {
			return fmt.Errorf("wait for approval: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("wait for approval: run %s is no longer running", t.Run.ID)
		}
		if _, err := AppendEvents(ctx, tx, t.Run.UserID, t.Run.ConversationID, NewEvent(&t.Run.ID, EventApprovalRequired, approvalPayload{
			ApprovalID: a.ID, Tool: a.Tool, Agent: a.Agent, CallID: a.CallID, Arguments: a.Arguments, Effect: a.Effect, Reason: a.Reason,
			Provider: req.Provider,
		})); err != nil {
			return err
		}
		out = a
		return nil
	})
	return out, err
}

type approvalPayload struct {
	ApprovalID uuid.UUID       `json:"approval_id"`
	Tool       string          `json:"tool"`
	Agent      string          `json:"agent"`
	CallID     string          `json:"call_id"`
	Arguments  json.RawMessage `json:"arguments"`
	Effect     Effect          `json:"effect"`
	Reason     string          `json:"reason"`
	// Provider names the outside app of an external tool.
	Provider string `json:"provider,omitempty"`
}

// AnswerApproval records the user's answer to an approval of their
// conversation and queues its run again (a new River job: any worker
// resumes it). Another user's approval, or one of another conversation,
// is not found; an approval already answered, or whose run has ended
// (cancelled meanwhile), is a conflict. Nothing changes on an error.
func (s *Service) AnswerApproval(ctx context.Context, userID, convID, approvalID uuid.UUID, allow bool) (*Approval, error) {
	var out *Approval
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		if _, err := lockConversation(ctx, tx, userID, convID, ""); err != nil {
			return err
		}
		a, err := scanApproval(tx.QueryRow(ctx, `SELECT `+approvalColumns+` FROM chat_approvals
			WHERE user_id = $1 AND conversation_id = $2 AND id = $3 FOR UPDATE`, userID, convID, approvalID))
		if err != nil {
			return err
		}
		if a.Status != ApprovalPending {
			return apperr.New(apperr.Conflict, "this approval was already answered (%s)", a.Status)
		}
		r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM chat_runs WHERE user_id = $1 AND id = $2 FOR UPDATE`, userID, a.RunID))
		if err != nil {
			return err
		}
		if r.Status != RunWaitingApproval {
			return apperr.New(apperr.Conflict, "the run that asked has ended (%s); send the message again", r.Status)
		}
		status := ApprovalDenied
		if allow {
			status = ApprovalAllowed
		}
		out, err = scanApproval(tx.QueryRow(ctx, `UPDATE chat_approvals SET status = $2, answered_at = now()
			WHERE id = $1 RETURNING `+approvalColumns, a.ID, status))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE chat_runs SET status = 'queued', updated_at = now() WHERE id = $1`, r.ID); err != nil {
			return fmt.Errorf("answer approval: %w", err)
		}
		if _, err := tx.InsertJob(ctx, RunTurnArgs{RunID: r.ID, ConversationID: convID, UserID: userID},
			&river.InsertOpts{Queue: s.queue, MaxAttempts: runTurnAttempts}); err != nil {
			return fmt.Errorf("answer approval: insert job: %w", err)
		}
		_, err = AppendEvents(ctx, tx, userID, convID, NewEvent(&r.ID, EventApprovalAnswered, struct {
			ApprovalID uuid.UUID `json:"approval_id"`
			Allow      bool      `json:"allow"`
		}{a.ID, allow}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
