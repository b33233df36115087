package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// TestEmbeddingOfAKilledWorkerIsRescued: the worker process is killed
// (SIGKILL) while it embeds a large document, with notes queued and being
// embedded beside it through the real local plugin. Some notes are then
// changed while no worker runs. A second worker's rescuer retries the
// killed jobs (after jobs.embed_timeout and jobs.rescue_stuck_after, a
// few seconds here) and works the rest: every job completes, every note
// and the document are indexed once, with the chunks of their current
// version (each position once, none left of the old text), and search
// finds the document's and the changed notes' words. The seconds from the
// kill to the complete index are logged.
func TestEmbeddingOfAKilledWorkerIsRescued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := plugintest.Build(t, "../../plugins/local")
	cfgPath := filepath.Join(t.TempDir(), "consilium.yaml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `plugins:
  items:
    - name: local
      kind: llm
      path: %s
      enabled: true
`, bin), 0o600))
	env := []string{"CONSILIUM_CONFIG=" + cfgPath, "CONSILIUM_JOBS_EMBED_TIMEOUT=20s", "CONSILIUM_JOBS_RESCUE_STUCK_AFTER=6s"}

	url := dbtest.EmptyDatabase(t)
	api := startProcess(t, "api", url, env, "serve") // no workers: the jobs wait
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	userID, token := api.register()

	// The document first, so that the doomed worker takes it up at once;
	// about a thousand passages, some thirty Embed calls.
	var text strings.Builder
	for i := range 8000 {
		if i == 6000 {
			text.WriteString("The quokkaflume gauge at the northern station read high all week.\n\n")
		}
		fmt.Fprintf(&text, "Paragraph %d of the field report: the survey team logged weather, soil and river levels near station %d.\n\n", i, i%97)
	}
	status, raw := api.do(http.MethodPost, "/api/ai/documents/process", token, map[string]any{"title": "Field report", "text": text.String()})
	require.Equal(t, http.StatusAccepted, status, string(raw))
	var doc struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.NotEmpty(t, doc.ID)

	const notes = 60
	noteIDs := make([]string, notes)
	for i := range notes {
		status, raw := api.do(http.MethodPost, "/api/notes", token, map[string]any{
			"title": fmt.Sprintf("Trip %d", i),
			"content": []map[string]any{
				{"type": "heading", "props": map[string]any{"level": 2}, "content": "Plan"},
				{"type": "paragraph", "content": fmt.Sprintf("Visit kestrel%dx ridge at dawn and count the birds on the eastern slope.", i)},
				{"type": "paragraph", "content": strings.Repeat(fmt.Sprintf("Pack water, maps and a warm layer for day %d. ", i), 20)},
			},
		})
		require.Equal(t, http.StatusCreated, status, string(raw))
		var n struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(raw, &n))
		noteIDs[i] = n.ID
	}

	doomed := startProcess(t, "doomed worker", url, env, "worker")
	docStatus := func() string {
		var s string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM documents WHERE id = $1`, doc.ID).Scan(&s))
		return s
	}
	deadline := time.Now().Add(4 * time.Minute)
	for docStatus() != "processing" {
		require.NotEqual(t, "ready", docStatus(), "the document was embedded before the test saw it processing")
		require.False(t, time.Now().After(deadline), "the worker did not start on the document within 4 minutes")
		time.Sleep(5 * time.Millisecond)
	}
	doomed.kill()
	killed := time.Now()
	var readyAtKill int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM note_embeddings WHERE user_id = $1 AND status = 'ready'`, userID).Scan(&readyAtKill))
	require.Equal(t, "processing", docStatus(), "killed mid-embedding")
	t.Logf("killed the worker while it embedded the document, %d of %d notes indexed", readyAtKill, notes)

	// Changed while no worker runs: a new version to embed.
	changed := []int{3, 17, 41}
	for _, i := range changed {
		status, raw := api.do(http.MethodPut, "/api/notes/"+noteIDs[i], token, map[string]any{
			"content": []map[string]any{
				{"type": "paragraph", "content": fmt.Sprintf("Moved to osprey%dy lake instead; the ridge is closed.", i)},
			},
		})
		require.Equal(t, http.StatusOK, status, string(raw))
	}

	startProcess(t, "second worker", url, env, "worker")
	deadline = time.Now().Add(5 * time.Minute)
	for {
		var open int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('ai.embed_note', 'ai.process_document')
			AND state <> 'completed'`).Scan(&open))
		var lost int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('ai.embed_note', 'ai.process_document')
			AND state IN ('discarded', 'cancelled')`).Scan(&lost))
		require.Zero(t, lost, "embedding jobs given up")
		if open == 0 && docStatus() == "ready" {
			break
		}
		if time.Now().After(deadline) {
			var states []string
			_ = pool.QueryRow(ctx, `SELECT array_agg(kind || ' ' || state::text || ' attempt ' || attempt) FROM river_job
				WHERE kind IN ('ai.embed_note', 'ai.process_document') AND state <> 'completed'`).Scan(&states)
			t.Fatalf("embedding not done 5 minutes after the second worker started: document %s, jobs %v", docStatus(), states)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovery: %.1f s from the kill to every job completed and the index whole", time.Since(killed).Seconds())
	var attempt int
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(attempt) FROM river_job WHERE kind = 'ai.process_document'`).Scan(&attempt))
	require.GreaterOrEqual(t, attempt, 2, "the killed attempt was retried")

	// The document: each passage once, as many as it says.
	var chunkCount, rows, positions, maxPos int
	require.NoError(t, pool.QueryRow(ctx, `SELECT d.chunk_count, count(c.id), count(DISTINCT c.position), coalesce(max(c.position), -1)
		FROM documents d LEFT JOIN chunks c ON c.document_id = d.id WHERE d.id = $1 GROUP BY d.chunk_count`, doc.ID).
		Scan(&chunkCount, &rows, &positions, &maxPos))
	require.Greater(t, chunkCount, 500)
	require.Equal(t, chunkCount, rows, "document chunks")
	require.Equal(t, rows, positions, "no document passage twice")
	require.Equal(t, rows-1, maxPos)

	// Every note: ready, its chunks those of its current version, once.
	isChanged := map[int]bool{}
	for _, i := range changed {
		isChanged[i] = true
	}
	for i, id := range noteIDs {
		var title, status string
		var content []byte
		var recorded int
		require.NoError(t, pool.QueryRow(ctx, `SELECT n.title, n.content, e.status, e.chunk_count FROM notes n
			JOIN note_embeddings e ON e.note_id = n.id WHERE n.id = $1`, id).Scan(&title, &content, &status, &recorded))
		require.Equal(t, "ready", status, "note %d", i)
		parsed, err := blocknote.Parse(content, nil)
		require.NoError(t, err)
		want := ai.ChunkNote(title, parsed)
		var texts []string
		r, err := pool.Query(ctx, `SELECT text FROM chunks WHERE note_id = $1 ORDER BY position`, id)
		require.NoError(t, err)
		for r.Next() {
			var s string
			require.NoError(t, r.Scan(&s))
			texts = append(texts, s)
		}
		require.NoError(t, r.Err())
		require.Len(t, texts, len(want), "note %d: chunks", i)
		require.Equal(t, len(want), recorded, "note %d: chunk count", i)
		for j, c := range want {
			require.Equal(t, c.Text, texts[j], "note %d chunk %d is the current version's", i, j)
		}
		joined := strings.Join(texts, " ")
		if isChanged[i] {
			require.Contains(t, joined, fmt.Sprintf("osprey%dy", i))
			require.NotContains(t, joined, fmt.Sprintf("kestrel%dx", i), "note %d: old version's chunks left", i)
		} else {
			require.Contains(t, joined, fmt.Sprintf("kestrel%dx", i))
		}
	}

	// Search finds the document's passage and a changed note.
	search := func(q string) (typ, id, text string) {
		t.Helper()
		status, raw := api.do(http.MethodPost, "/api/ai/rag/query", token, map[string]any{"query": q, "k": 3})
		require.Equal(t, http.StatusOK, status, string(raw))
		var res struct {
			Passages []struct {
				Text   string `json:"text"`
				Source struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"source"`
			} `json:"passages"`
		}
		require.NoError(t, json.Unmarshal(raw, &res))
		require.NotEmpty(t, res.Passages, "search %q found nothing", q)
		p := res.Passages[0]
		return p.Source.Type, p.Source.ID, p.Text
	}
	typ, id, found := search("quokkaflume")
	require.Equal(t, "document", typ)
	require.Equal(t, doc.ID, id)
	require.Contains(t, found, "quokkaflume")
	typ, id, found = search("osprey17y")
	require.Equal(t, "note", typ)
	require.Equal(t, noteIDs[17], id)
	require.Contains(t, found, "osprey17y")
}
