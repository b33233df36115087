package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/consilium-hq/consilium/core/db"
)

// EventRetention is how long events are kept for clients to resume from.
// Messages are kept for good: a client away for longer gets
// resync_required and reloads the conversation's messages, as it does
// when it first opens one.
const EventRetention = 24 * time.Hour

// PruneInterval is how often the prune job runs.
const PruneInterval = time.Hour

// PruneArgs is the periodic job that deletes events past EventRetention and
// expired socket tickets.
type PruneArgs struct{}

func (PruneArgs) Kind() string { return "chat.prune" }

// pruneBatch bounds the events one statement deletes, so that pruning never
// holds many conversations' locks for long.
const pruneBatch = 5000

// Prune deletes events older than EventRetention, recording in each
// conversation the last seq deleted (streams resuming from before it are
// told to resync), and tickets that have expired. It returns how many
// events it deleted.
// It needs only the database, so that every worker process runs it.
func Prune(ctx context.Context, d *db.DB) (int64, error) {
	var total int64
	for {
		var n int64
		// Seqs and created_at need not agree (a transaction that waited
		// for the conversation's lock has an earlier created_at than the
		// seqs before it): max() of what was deleted is what resync needs.
		err := d.Pool.QueryRow(ctx, `
			WITH d AS (
				DELETE FROM chat_events WHERE (conversation_id, seq) IN (
					SELECT conversation_id, seq FROM chat_events WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)
				RETURNING conversation_id, seq
			), m AS (
				SELECT conversation_id, max(seq) AS seq, count(*) AS n FROM d GROUP BY conversation_id
			), u AS (
				UPDATE conversations c SET pruned_event_seq = greatest(c.pruned_event_seq, m.seq)
				FROM m WHERE c.id = m.conversation_id RETURNING 1
			)
			SELECT coalesce(sum(n), 0)::bigint FROM m`, EventRetention.Seconds(), pruneBatch).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("prune chat events: %w", err)
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	if _, err := d.Pool.Exec(ctx, `DELETE FROM chat_tickets WHERE expires_at < now()`); err != nil {
		return total, fmt.Errorf("prune chat tickets: %w", err)
	}
	return total, nil
}
