package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// TestAIReindex: notes written before retrieval existed (no embedding job)
// get one from `consilium ai reindex`; running it again while the jobs wait
// queues nothing more.
func TestAIReindex(t *testing.T) {
	url := dbtest.URL(t)
	setServeEnv(t, url)
	ctx := context.Background()
	pool := dbtest.Pool(t)
	alice, bob := uuid.New(), uuid.New()
	for _, u := range []uuid.UUID{alice, bob} {
		_, err := pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ($1, $2)`, u, u.String()+"@example.com")
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO notes (user_id, title) VALUES ($1, 'old note'), ($1, 'older note')`, u)
		require.NoError(t, err)
	}
	jobs := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'ai.embed_note' AND state = 'available'`).Scan(&n))
		return n
	}
	run := func(args ...string) string {
		var out bytes.Buffer
		cmd := newRootCmd()
		cmd.SetArgs(append([]string{"ai", "reindex"}, args...))
		cmd.SetOut(&out)
		require.NoError(t, cmd.ExecuteContext(ctx))
		return out.String()
	}
	require.Contains(t, run("--user", alice.String()+"@EXAMPLE.com"), "queued 2 note and 0 document embedding jobs")
	require.Equal(t, 2, jobs())
	require.Contains(t, run(), "queued 2 note and 0 document embedding jobs", "bob's notes; alice's are already waiting")
	require.Equal(t, 4, jobs())
	var pending int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM note_embeddings WHERE status = 'pending'`).Scan(&pending))
	require.Equal(t, 4, pending)

	cmd := newRootCmd()
	cmd.SetArgs([]string{"ai", "reindex", "--user", "nobody@example.com"})
	require.ErrorContains(t, cmd.ExecuteContext(ctx), "no user with the email nobody@example.com")
}
