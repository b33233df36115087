package ai_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/plugin"
)

// TestModelPluginKilledMidEmbedding kills -9 the model plugin (the real
// local plugin, in a host of its own) while a batch of notes is being
// embedded. The host restarts it; the jobs that failed meanwhile are
// retried; in the end every note is embedded once (one chunk each, no job
// discarded) and found by search. The seconds from the kill to the plugin
// running again and to the next embedded note are logged ("recovery: ...")
// for the reliability report; make bench, not this test, holds timing
// targets.
func TestModelPluginKilledMidEmbedding(t *testing.T) {
	t.Parallel()
	cfg := aitest.Config(t)
	cfg.RestartBackoffMin, cfg.RestartBackoffMax = 50*time.Millisecond, 500*time.Millisecond
	host := aitest.Host(t, cfg)
	e := newEnv(t, envOptions{models: host, plugins: cfg, paused: true})
	ctx := context.Background()
	user := e.newUser()

	const notes = 150
	for i := range notes {
		e.createNote(user, fmt.Sprintf("Field note %d", i), fmt.Sprintf("Observation %d: the marker word is zq%dmarker, near the old mill.", i, i))
	}
	ready := func() (n int) {
		require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM note_embeddings WHERE user_id = $1 AND status = 'ready'`, user).Scan(&n))
		return n
	}
	before, ok := host.State(aitest.LocalName)
	require.True(t, ok)

	e.startWorkers()
	e.waitFor(2*time.Minute, "the first notes to be embedded", func() bool { return ready() >= 10 })
	require.NoError(t, syscall.Kill(before.PID, syscall.SIGKILL))
	killed := time.Now()
	doneAtKill := ready()

	e.waitFor(2*time.Minute, "the plugin to run again", func() bool {
		s, _ := host.State(aitest.LocalName)
		return s.State == plugin.StateRunning && s.PID != before.PID
	})
	restarted := time.Since(killed)
	if doneAtKill < notes {
		e.waitFor(3*time.Minute, "a note embedded after the kill", func() bool { return ready() > doneAtKill })
	}
	firstAfter := time.Since(killed)
	e.waitIdleFor(5 * time.Minute)
	t.Logf("recovery: the plugin ran again %.2f s after kill -9, the next note was embedded after %.2f s (%d of %d notes were done at the kill)",
		restarted.Seconds(), firstAfter.Seconds(), doneAtKill, notes)

	after, ok := host.State(aitest.LocalName)
	require.True(t, ok)
	require.GreaterOrEqual(t, after.Restarts, 1, "the host restarted the plugin")
	var total int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM notes WHERE user_id = $1`, user).Scan(&total))
	require.GreaterOrEqual(t, total, notes)
	require.Equal(t, total, ready(), "every note is embedded")

	// Once each: one chunk per note written here, one completed job per
	// note, none given up.
	var chunks, withChunks int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT note_id) FROM chunks
		WHERE user_id = $1 AND text LIKE 'Observation %'`, user).Scan(&chunks, &withChunks))
	require.Equal(t, notes, withChunks, "every note has its chunk")
	require.Equal(t, notes, chunks, "no note has its chunk twice")
	rows, err := e.db.Pool.Query(ctx, `SELECT state, count(*) FROM river_job WHERE queue = $1 AND kind = 'ai.embed_note' GROUP BY state`, e.queue)
	require.NoError(t, err)
	states := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		require.NoError(t, rows.Scan(&s, &n))
		states[s] = n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]int{"completed": total}, states, "one embedding job per note, all completed")
	var retried int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE queue = $1 AND kind = 'ai.embed_note' AND attempt > 1`, e.queue).Scan(&retried))
	t.Logf("%d embedding jobs ran more than once", retried)

	// Search finds a note by its own words, the vector half included.
	for _, i := range []int{0, notes / 2, notes - 1} {
		ps := e.search(user, ai.SearchParams{Query: fmt.Sprintf("zq%dmarker", i), K: 3})
		require.NotEmpty(t, ps, "note %d", i)
		require.Contains(t, ps[0].Text, fmt.Sprintf("zq%dmarker", i))
	}
}
