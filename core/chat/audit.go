package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/db"
)

// Audit statuses of a tool call.
const (
	// CallStarted: an outside app's tool is being called (its row is
	// written before the call, so a retry never calls it again).
	CallStarted   = "started"
	CallCompleted = "completed"
	CallFailed    = "failed"
	CallDenied    = "denied"
	CallRejected  = "rejected"
)

// AuditEntry is one recorded tool call (chat_tool_calls).
type AuditEntry struct {
	ID             int64
	UserID         uuid.UUID
	ConversationID uuid.UUID
	RunID          uuid.UUID
	Agent          string
	Tool           string
	CallID         string
	IdempotencyKey string
	Arguments      json.RawMessage
	Effect         Effect
	Status         string
	Summary        string
	Result         storedResult
	ApprovalID     *uuid.UUID
	CreatedAt      time.Time
	FinishedAt     time.Time
}

// storedResult is what the model was given for a call, replayed as it is
// when a retried turn reaches the call again.
type storedResult struct {
	Content   string     `json:"content"`
	Citations []Citation `json:"citations,omitempty"`
	Untrusted bool       `json:"untrusted,omitempty"`
}

const auditColumns = `id, user_id, conversation_id, run_id, agent, tool, call_id, idempotency_key, arguments, effect, status,
	result_summary, result, approval_id, created_at, finished_at`

func scanAudit(row pgx.Row) (*AuditEntry, error) {
	var e AuditEntry
	var result []byte
	err := row.Scan(&e.ID, &e.UserID, &e.ConversationID, &e.RunID, &e.Agent, &e.Tool, &e.CallID, &e.IdempotencyKey,
		&e.Arguments, &e.Effect, &e.Status, &e.Summary, &result, &e.ApprovalID, &e.CreatedAt, &e.FinishedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(result, &e.Result); err != nil {
		return nil, fmt.Errorf("read tool call %d: %w", e.ID, err)
	}
	return &e, nil
}

// auditByKey returns the recorded call with the key, nil when none is.
func auditByKey(ctx context.Context, q db.Querier, userID uuid.UUID, key string) (*AuditEntry, error) {
	e, err := scanAudit(q.QueryRow(ctx, `SELECT `+auditColumns+` FROM chat_tool_calls WHERE user_id = $1 AND idempotency_key = $2`, userID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tool call: %w", err)
	}
	return e, nil
}

// insertAudit records a call. With onConflictNothing a row already there
// (another attempt recorded the call) is kept and false returned.
func insertAudit(ctx context.Context, q db.Querier, e *AuditEntry, onConflictNothing bool) (bool, error) {
	result, err := json.Marshal(e.Result)
	if err != nil {
		return false, err
	}
	args := e.Arguments
	if !json.Valid(args) {
		// The model's arguments are kept even when they are not JSON.
		args, _ = json.Marshal(string(e.Arguments))
	}
	sql := `INSERT INTO chat_tool_calls (user_id, conversation_id, run_id, agent, tool, call_id, idempotency_key, arguments,
			effect, status, result_summary, result, approval_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	if onConflictNothing {
		sql += ` ON CONFLICT (idempotency_key) DO NOTHING`
	}
	tag, err := q.Exec(ctx, sql, e.UserID, e.ConversationID, e.RunID, e.Agent, e.Tool, e.CallID, e.IdempotencyKey, args,
		e.Effect, e.Status, truncate(e.Summary, 1000), result, e.ApprovalID, e.CreatedAt)
	if err != nil {
		return false, fmt.Errorf("record tool call: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ToolCalls returns the recorded tool calls of the user's run, in order.
func (s *Service) ToolCalls(ctx context.Context, userID, runID uuid.UUID) ([]*AuditEntry, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+auditColumns+` FROM chat_tool_calls WHERE user_id = $1 AND run_id = $2 ORDER BY id`, userID, runID)
	if err != nil {
		return nil, fmt.Errorf("list tool calls: %w", err)
	}
	defer rows.Close()
	var out []*AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
