package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// PruneSessionsArgs is the periodic job that deletes sessions that expired
// or were revoked more than a day ago (with their refresh tokens).
type PruneSessionsArgs struct{}

func (PruneSessionsArgs) Kind() string { return "auth.prune_sessions" }

// InsertOpts makes the periodic insert idempotent across leader changes.
func (PruneSessionsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       river.QueueDefault,
		MaxAttempts: 5,
		UniqueOpts:  river.UniqueOpts{ByPeriod: 5 * time.Minute},
	}
}

// pruneGrace keeps revoked sessions around for a day so that a reused
// refresh token is still recognised as reuse (and not just "unknown").
const pruneGrace = 24 * time.Hour

// PruneSessions deletes dead sessions and returns how many it removed.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-pruneGrace)
	tag, err := s.db.Pool.Exec(ctx, `
		DELETE FROM auth_sessions
		WHERE expires_at < $1 OR revoked_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
