package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/core/chat"
)

// Tables whose rows a create tool marks with its call's idempotency key.
const (
	tableTasks       = "tasks"
	tableGoals       = "goals"
	tableReflections = "reflections"
)

// provenance is the metadata a create tool stores on what it makes: the
// conversation, run and agent it came from, and the call's idempotency key,
// by which a retried call finds it.
func provenance(call *chat.ToolCall) json.RawMessage {
	c := map[string]string{"agent": call.Agent}
	if call.ConversationID != uuid.Nil {
		c["conversation_id"] = call.ConversationID.String()
	}
	if call.RunID != uuid.Nil {
		c["run_id"] = call.RunID.String()
	}
	if call.IdempotencyKey != "" {
		c["idempotency_key"] = call.IdempotencyKey
	}
	b, _ := json.Marshal(map[string]any{"chat": c})
	return b
}

// once makes something at most once per call.IdempotencyKey: under a
// session advisory lock on the user and key (so two attempts running at
// once wait for each other), it looks in table for a row of the user's
// whose metadata carries the key and returns its id with made=false; only
// when there is none does it call create. A call without a key always
// creates.
func once(ctx context.Context, pool *pgxpool.Pool, call *chat.ToolCall, table string, create func() (uuid.UUID, error)) (id uuid.UUID, made bool, err error) {
	if call.IdempotencyKey == "" {
		id, err = create()
		return id, err == nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("idempotency lock: %w", err)
	}
	lockKey := "chat-tool:" + table + ":" + call.UserID.String() + ":" + call.IdempotencyKey
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, lockKey); err != nil {
		conn.Release()
		return uuid.Nil, false, fmt.Errorf("idempotency lock: %w", err)
	}
	defer func() {
		uctx := context.WithoutCancel(ctx)
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey); err != nil {
			// A connection that may still hold the lock must not go back
			// to the pool: closing it releases the lock.
			_ = conn.Conn().Close(uctx)
		}
		conn.Release()
	}()
	// table is one of the constants above, never input.
	err = pool.QueryRow(ctx, `SELECT id FROM `+table+` WHERE user_id = $1 AND metadata->'chat'->>'idempotency_key' = $2
		ORDER BY created_at LIMIT 1`, call.UserID, call.IdempotencyKey).Scan(&id)
	switch {
	case err == nil:
		return id, false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return uuid.Nil, false, fmt.Errorf("find an earlier attempt in %s: %w", table, err)
	}
	id, err = create()
	return id, err == nil, err
}
