package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestPruneSessionsRunsPeriodically starts a real River client with the
// production periodic schedule and waits for the prune job to run on start.
func TestPruneSessionsRunsPeriodically(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := dbtest.Pool(t)
	logger := slog.New(slog.DiscardHandler)
	cfg := config.Default()
	cfg.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
	cfg.Auth.Password = config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	d := db.New(pool)
	authSvc, err := auth.New(ctx, auth.Options{DB: d, Config: cfg.Auth, Logger: logger})
	require.NoError(t, err)

	userID := uuid.New()
	_, err = pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, userID, userID.String()+"@example.com")
	require.NoError(t, err)
	var live, expired, revokedOld, revokedNew uuid.UUID
	for _, s := range []struct {
		id      *uuid.UUID
		expires string
		revoked any
	}{
		{&live, "now() + interval '1 day'", nil},
		{&expired, "now() - interval '2 days'", nil},
		{&revokedOld, "now() + interval '1 day'", time.Now().Add(-48 * time.Hour)},
		{&revokedNew, "now() + interval '1 day'", time.Now().Add(-time.Hour)},
	} {
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO auth_sessions (user_id, expires_at, revoked_at)
			VALUES ($1, `+s.expires+`, $2) RETURNING id`, userID, s.revoked).Scan(s.id))
	}

	rc, err := jobs.NewClient(pool, jobs.Workers(&app.App{DB: db.New(pool), Auth: authSvc, Logger: logger}, config.Jobs{}),
		jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: true, TestOnly: true})
	require.NoError(t, err)
	events, unsubscribe := rc.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer unsubscribe()
	require.NoError(t, rc.Start(ctx))
	defer func() { require.NoError(t, rc.Stop(context.Background())) }()

	for {
		select {
		case ev := <-events:
			if ev.Job.Kind != (auth.PruneSessionsArgs{}).Kind() {
				continue
			}
			require.Equal(t, river.EventKindJobCompleted, ev.Kind, "prune job failed: %v", ev.Job.Errors)
			var left []uuid.UUID
			rows, err := pool.Query(ctx, `SELECT id FROM auth_sessions WHERE user_id = $1`, userID)
			require.NoError(t, err)
			for rows.Next() {
				var id uuid.UUID
				require.NoError(t, rows.Scan(&id))
				left = append(left, id)
			}
			require.NoError(t, rows.Err())
			require.ElementsMatch(t, []uuid.UUID{live, revokedNew}, left,
				"expired and long-revoked sessions go; live and recently revoked ones stay")
			return
		case <-ctx.Done():
			t.Fatal("the periodic prune job did not run within 30s")
		}
	}
}
