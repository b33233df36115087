package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// InTx under WithTx joins the caller's transaction: the inner work commits
// only with the outer one, an inner error undoes only the inner work, and Q
// reads the uncommitted rows.
func TestInTxJoinsTheCallersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := db.New(dbtest.Pool(t))
	table := "withtx_" + uuid.NewString()[:8]
	_, err := d.Pool.Exec(ctx, `CREATE TABLE "`+table+`" (v text PRIMARY KEY)`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = d.Pool.Exec(context.Background(), `DROP TABLE "`+table+`"`) })
	insert := func(ctx context.Context, v string) error {
		return d.InTx(ctx, func(tx db.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO "`+table+`" VALUES ($1)`, v)
			return err
		})
	}
	count := func(q db.Querier) int {
		var n int
		require.NoError(t, q.QueryRow(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n))
		return n
	}
	boom := errors.New("boom")

	// The outer transaction rolls back: the joined insert is gone too.
	err = d.InTx(ctx, func(tx db.Tx) error {
		jctx := db.WithTx(ctx, tx)
		require.NoError(t, insert(jctx, "a"))
		require.Equal(t, 1, count(d.Q(jctx)), "Q reads the caller's transaction")
		require.Equal(t, 0, count(d.Q(ctx)), "not committed yet")
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 0, count(d.Pool))

	// An inner failure undoes only its savepoint; the outer commit keeps the rest.
	err = d.InTx(ctx, func(tx db.Tx) error {
		jctx := db.WithTx(ctx, tx)
		require.NoError(t, insert(jctx, "b"))
		require.Error(t, insert(jctx, "b"), "duplicate key, inside its savepoint")
		require.NoError(t, insert(jctx, "c"), "the transaction is still usable")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, count(d.Pool))
}
