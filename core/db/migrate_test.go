package db_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

func TestMigrateUpStatusDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := db.Open(ctx, dbtest.EmptyDatabase(t), db.PoolOptions{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	m := db.NewMigrator(pool, slog.New(slog.DiscardHandler))

	require.ErrorIs(t, m.CheckMigrated(ctx), db.ErrNotMigrated)
	require.ErrorIs(t, m.Ready(ctx), db.ErrNotMigrated)

	require.NoError(t, m.Up(ctx))
	require.NoError(t, m.CheckMigrated(ctx))
	require.NoError(t, m.Ready(ctx))
	require.NoError(t, m.Up(ctx), "up is idempotent")

	var out bytes.Buffer
	require.NoError(t, m.Status(ctx, &out))
	require.Contains(t, out.String(), "00001")
	require.Contains(t, out.String(), "applied")
	require.Contains(t, out.String(), "river  up to date")

	var vectorOK bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`).Scan(&vectorOK))
	require.True(t, vectorOK, "migrations install pgvector")

	require.NoError(t, m.Down(ctx))
	require.ErrorIs(t, m.CheckMigrated(ctx), db.ErrNotMigrated)
	require.NoError(t, m.Up(ctx))
	require.NoError(t, m.CheckMigrated(ctx))
}

func TestMigrateConcurrentStartsAreSerialised(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.EmptyDatabase(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- db.NewMigrator(pool, slog.New(slog.DiscardHandler)).Up(ctx)
		}()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
}
