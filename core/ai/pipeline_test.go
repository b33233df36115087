package ai_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

func ptr[T any](v T) *T { return &v }

// embedJobs lists the embedding jobs of a note: state and attempt.
func (e *env) embedJobs(noteID uuid.UUID) []string {
	e.t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `SELECT state || '/' || attempt FROM river_job
		WHERE kind = 'ai.embed_note' AND args->>'note_id' = $1 ORDER BY id`, noteID.String())
	require.NoError(e.t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(e.t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(e.t, rows.Err())
	return out
}

func (e *env) chunkTexts(noteID uuid.UUID) []string {
	e.t.Helper()
	rows, err := e.db.Pool.Query(context.Background(), `SELECT text FROM chunks WHERE note_id = $1 ORDER BY position`, noteID)
	require.NoError(e.t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(e.t, rows.Scan(&s))
		out = append(out, s)
	}
	return out
}

func TestBurstOfSavesEmbedsOnce(t *testing.T) {
	t.Parallel()
	m, o := scripted()
	o.paused = true
	e := newEnv(t, o)
	ctx := context.Background()
	user := e.newUser()
	n := e.createNote(user, "Garden", "Plant tomatoes in May.")
	for i := range 10 {
		_, err := e.notes.Update(ctx, user, n.ID, &note.UpdateParams{Content: doc(fmt.Sprintf("Plant tomatoes in May, round %d.", i), "Water the basil daily.")})
		require.NoError(t, err)
	}
	require.Equal(t, []string{"available/0"}, e.embedJobs(n.ID), "eleven saves queue one job")

	e.startWorkers()
	e.waitIdle()
	require.Equal(t, []string{"completed/1"}, e.embedJobs(n.ID), "the note is embedded once")
	require.Equal(t, []string{"Plant tomatoes in May, round 9.\nWater the basil daily."}, e.chunkTexts(n.ID))
	var noteTexts [][]string
	for _, r := range m.EmbedRequests() {
		if slices.ContainsFunc(r.Texts, func(s string) bool { return strings.Contains(s, "Plant tomatoes") }) {
			noteTexts = append(noteTexts, r.Texts)
		}
	}
	require.Equal(t, [][]string{{ai.EmbedText("Garden", "", "Plant tomatoes in May, round 9.\nWater the basil daily.")}}, noteTexts,
		"the model is asked once, for the last version")

	var status string
	var blockIDs []string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT status FROM note_embeddings WHERE note_id = $1`, n.ID).Scan(&status))
	require.Equal(t, "ready", status)
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT block_ids FROM chunks WHERE note_id = $1`, n.ID).Scan(&blockIDs))
	require.Equal(t, []string{"b1", "b2"}, blockIDs, "chunks remember their blocks")

	// A change that leaves title and text alone (pinning) embeds nothing.
	_, err := e.notes.Update(ctx, user, n.ID, &note.UpdateParams{IsPinned: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, []string{"completed/1"}, e.embedJobs(n.ID))
}

// TestSavesWhileEmbeddingAreNotLost edits a note while its jobs run: the
// chunks end up reflecting the last save, whatever the timing.
func TestSavesWhileEmbeddingAreNotLost(t *testing.T) {
	t.Parallel()
	_, o := scripted()
	e := newEnv(t, o)
	ctx := context.Background()
	user := e.newUser()
	n := e.createNote(user, "Diary", "Day 0.")
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				_, err := e.notes.Update(ctx, user, n.ID, &note.UpdateParams{Content: doc(fmt.Sprintf("Writer %d, day %d.", w, i))})
				require.NoError(t, err)
				time.Sleep(time.Duration(i%4) * 7 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	final, err := e.notes.Update(ctx, user, n.ID, &note.UpdateParams{Content: doc("The last word.")})
	require.NoError(t, err)
	e.waitIdle()
	require.Equal(t, []string{"The last word."}, e.chunkTexts(final.ID))
	st, err := e.ai.IndexStatus(ctx, user)
	require.NoError(t, err)
	require.Equal(t, ai.SourceCounts{Total: 1, Indexed: 1}, st.Notes)
}

func TestDeletedAndArchivedNotes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	user := e.newUser()
	keep := e.createNote(user, "Bikes", "The quokka bicycle needs new brakes.")
	gone := e.createNote(user, "Bikes too", "Quokka bicycle tyres are flat.")
	e.waitIdle()
	q := ai.SearchParams{Query: "quokka bicycle"}
	require.ElementsMatch(t, []uuid.UUID{keep.ID, gone.ID}, sourceIDs(e.search(user, q)))

	require.NoError(t, e.notes.Delete(ctx, user, gone.ID, nil))
	// Gone at once, not after a job.
	for _, r := range []ai.Ranking{ai.RankFused, ai.RankVector, ai.RankText} {
		q.Ranking = r
		require.Equal(t, []uuid.UUID{keep.ID}, sourceIDs(e.search(user, q)), "ranking %d", r)
	}
	var left int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE note_id = $1`, gone.ID).Scan(&left))
	require.Zero(t, left, "a deleted note's chunks are deleted")

	q.Ranking = ai.RankFused
	_, err := e.notes.Update(ctx, user, keep.ID, &note.UpdateParams{IsArchived: ptr(true)})
	require.NoError(t, err)
	for _, r := range []ai.Ranking{ai.RankFused, ai.RankText} {
		q.Ranking = r
		require.Empty(t, e.search(user, q), "an archived note's passages are hidden (ranking %d)", r)
	}
	_, err = e.notes.Update(ctx, user, keep.ID, &note.UpdateParams{IsArchived: ptr(false)})
	require.NoError(t, err)
	for _, r := range []ai.Ranking{ai.RankFused, ai.RankText} {
		q.Ranking = r
		require.Equal(t, []uuid.UUID{keep.ID}, sourceIDs(e.search(user, q)), "and back when it is unarchived (ranking %d)", r)
	}
	e.waitIdle()
	require.Equal(t, []string{"completed/1"}, e.embedJobs(keep.ID), "archiving does not re-embed")
}

func TestOtherUsersPassagesNeverAppear(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	alice, bob := e.newUser(), e.newUser()
	an := e.createNote(alice, "Secret plan", "The zanzibar marmalade recipe uses bitter oranges.")
	_, err := e.ai.AddDocument(ctx, alice, &ai.AddDocumentParams{Title: "Marmalade", Data: []byte("Zanzibar marmalade, bitter oranges and sugar.")})
	require.NoError(t, err)
	bn := e.createNote(bob, "Breakfast", "Toast with marmalade.")
	e.waitIdle()

	for _, r := range []ai.Ranking{ai.RankFused, ai.RankVector, ai.RankText} {
		ps := e.search(bob, ai.SearchParams{Query: "zanzibar marmalade bitter oranges recipe", Ranking: r, K: 50})
		require.Equal(t, []uuid.UUID{bn.ID}, sourceIDs(ps), "ranking %d", r)
		ps = e.search(bob, ai.SearchParams{Query: "zanzibar marmalade", NoteIDs: []uuid.UUID{an.ID}, Ranking: r})
		require.Empty(t, ps, "naming another user's note finds nothing")
		ps = e.search(alice, ai.SearchParams{Query: "zanzibar marmalade", Ranking: r})
		require.Len(t, ps, 2, "alice finds her note and her document")
	}
	st, err := e.ai.IndexStatus(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, 1, st.Notes.Indexed)
	require.Equal(t, 0, st.Documents.Total)
	require.Equal(t, 1, st.Chunks)
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	user := e.newUser()
	work, err := e.notes.Create(ctx, user, &note.CreateParams{Title: "Standup", Content: doc("Discuss the falafel deploy."), Tags: []string{"work"}})
	require.NoError(t, err)
	home := e.createNote(user, "Dinner", "Falafel with tahini.")
	d, err := e.ai.AddDocument(ctx, user, &ai.AddDocumentParams{Filename: "falafel.md", Data: []byte("# Falafel\n\nChickpeas, parsley, cumin.")})
	require.NoError(t, err)
	e.waitIdle()

	q := func(p ai.SearchParams) []uuid.UUID {
		p.Query = "falafel"
		return sourceIDs(e.search(user, p))
	}
	require.ElementsMatch(t, []uuid.UUID{work.ID, home.ID, d.ID}, q(ai.SearchParams{}))
	require.ElementsMatch(t, []uuid.UUID{work.ID, home.ID}, q(ai.SearchParams{Sources: []string{"notes"}}))
	require.ElementsMatch(t, []uuid.UUID{d.ID}, q(ai.SearchParams{Sources: []string{"documents"}}))
	require.ElementsMatch(t, []uuid.UUID{work.ID}, q(ai.SearchParams{Tags: []string{"work"}}))
	require.ElementsMatch(t, []uuid.UUID{home.ID}, q(ai.SearchParams{NoteIDs: []uuid.UUID{home.ID}}))
	require.ElementsMatch(t, []uuid.UUID{home.ID, d.ID}, q(ai.SearchParams{NoteIDs: []uuid.UUID{home.ID}, Sources: []string{"notes", "documents"}}))

	_, _, err = e.ai.Search(ctx, user, &ai.SearchParams{Query: "x", Sources: []string{"emails"}})
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, _, err = e.ai.Search(ctx, user, &ai.SearchParams{Query: "  "})
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, _, err = e.ai.Search(ctx, user, &ai.SearchParams{Query: "x", K: 51})
	require.True(t, apperr.Is(err, apperr.Invalid))
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	user := e.newUser()
	add := func(p ai.AddDocumentParams) *ai.Document {
		d, err := e.ai.AddDocument(ctx, user, &p)
		require.NoError(t, err)
		require.Equal(t, ai.StatusPending, d.Status)
		return d
	}
	txt := add(ai.AddDocumentParams{Title: "Packing list", Data: []byte("Bring the snorkel.\n\nAnd the towel.")})
	md := add(ai.AddDocumentParams{Filename: "recipes.md", Data: []byte("# Grandma's recipes\n\n## Plum cake\n\nButter, plums, cinnamon.")})
	html := add(ai.AddDocumentParams{Filename: "page.html", Data: []byte("<html><head><title>Lease</title></head><body><p>The rent is due on the first.</p></body></html>")})
	pdf := add(ai.AddDocumentParams{Filename: "report.pdf", MediaType: "application/pdf",
		Data: aitest.PDF("Quarterly report", [][]string{{"Revenue of the Zorblatt account grew."}, {"Second page."}})})
	scan := add(ai.AddDocumentParams{Filename: "scan.pdf", Data: aitest.PDF("", [][]string{{}})})
	e.waitIdle()

	get := func(d *ai.Document) *ai.Document {
		got, err := e.ai.GetDocument(ctx, user, d.ID)
		require.NoError(t, err)
		return got
	}
	for d, want := range map[*ai.Document]struct {
		title, media string
		chunks       int
	}{
		txt: {"Packing list", ai.MediaText, 1}, md: {"Grandma's recipes", ai.MediaMarkdown, 2},
		html: {"Lease", ai.MediaHTML, 1}, pdf: {"Quarterly report", ai.MediaPDF, 2},
	} {
		got := get(d)
		require.Equal(t, ai.StatusReady, got.Status, got.Error)
		require.Equal(t, want.title, got.Title)
		require.Equal(t, want.media, got.MediaType)
		require.Equal(t, want.chunks, got.ChunkCount)
		require.Equal(t, aitest.LocalEmbeddingModel(), got.EmbeddingModel)
		require.NotNil(t, got.ProcessedAt)
	}
	failed := get(scan)
	require.Equal(t, ai.StatusFailed, failed.Status)
	require.Contains(t, failed.Error, "no text layer")

	ps := e.search(user, ai.SearchParams{Query: "Zorblatt revenue"})
	require.NotEmpty(t, ps)
	require.Equal(t, pdf.ID, ps[0].SourceID)
	require.Equal(t, "document", ps[0].SourceType)
	require.Equal(t, "page 1", ps[0].Heading)
	require.Equal(t, "Quarterly report", ps[0].Title)

	page, err := e.ai.ListDocuments(ctx, user, &ai.ListDocumentsParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, scan.ID, page.Items[0].ID, "newest first")
	next, err := e.ai.ListDocuments(ctx, user, &ai.ListDocumentsParams{Limit: 10, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, next.Items, 3)
	require.Empty(t, next.NextCursor)
	onlyFailed, err := e.ai.ListDocuments(ctx, user, &ai.ListDocumentsParams{Limit: 10, Status: "failed"})
	require.NoError(t, err)
	require.Len(t, onlyFailed.Items, 1)

	require.NoError(t, e.ai.DeleteDocument(ctx, user, pdf.ID))
	require.NotContains(t, sourceIDs(e.search(user, ai.SearchParams{Query: "Zorblatt revenue", K: 50})), pdf.ID)
	require.True(t, apperr.Is(e.ai.DeleteDocument(ctx, user, pdf.ID), apperr.NotFound))
	other := e.newUser()
	_, err = e.ai.GetDocument(ctx, other, txt.ID)
	require.True(t, apperr.Is(err, apperr.NotFound), "another user's document is not found")

	st, err := e.ai.IndexStatus(ctx, user)
	require.NoError(t, err)
	require.Equal(t, ai.SourceCounts{Total: 4, Indexed: 3, Failed: 1}, st.Documents)
	require.Contains(t, st.LastError, "no text layer")

	// Bad uploads change nothing.
	for name, p := range map[string]ai.AddDocumentParams{
		"empty":    {Data: nil},
		"an image": {Filename: "a.png", Data: []byte("\x89PNG\r\n\x1a\nxxxx")},
		"too big":  {Data: make([]byte, 21<<20)},
	} {
		_, err := e.ai.AddDocument(ctx, user, &p)
		require.True(t, apperr.Is(err, apperr.Invalid), "%s: %v", name, err)
	}
}

// brokenPlugin is a "plugin" that exits at once: the host keeps restarting
// it, and every call meanwhile fails as unavailable.
func brokenPlugin(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "broken")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho 'model provider down' >&2\nexit 1\n"), 0o755))
	return p
}

func TestUnavailableProviderKeepsNotesWorking(t *testing.T) {
	t.Parallel()
	cfg := plugin.Config{RestartBackoffMin: 50 * time.Millisecond, RestartBackoffMax: 200 * time.Millisecond, StartTimeout: 2 * time.Second,
		Items: []plugin.PluginConfig{{Name: "broken", Kind: sdk.KindLLM, Path: brokenPlugin(t), Enabled: true}}}.WithDefaults()
	host := plugin.New(cfg, slog.New(slog.DiscardHandler))
	host.Start(context.Background())
	t.Cleanup(host.Stop)
	// The only model provider configured, so it does every kind of work.
	e := newEnv(t, envOptions{models: host, plugins: cfg})
	ctx := context.Background()
	user := e.newUser()

	// Notes and tasks work as ever.
	n := e.createNote(user, "Errands", "Pick up the parcel.", "[ ] buy stamps")
	_, err := e.notes.Update(ctx, user, n.ID, &note.UpdateParams{Content: doc("Pick up the parcel today.", "[ ] buy stamps")})
	require.NoError(t, err)
	tk, err := e.tasks.Create(ctx, user, &task.CreateParams{Fields: blocknote.TaskFields{Title: "call the plumber"}})
	require.NoError(t, err)
	_, err = e.tasks.SetStatus(ctx, user, tk.ID, blocknote.StatusCompleted, nil)
	require.NoError(t, err)
	res, err := e.tasks.List(ctx, user, &task.ListParams{})
	require.NoError(t, err)
	list := res.Items
	require.Len(t, list, 2)

	// The embedding job fails and is retried (one job, however often it
	// runs), the note stays pending with the reason.
	e.waitFor(20*time.Second, "the embedding job to fail and wait for a retry", func() bool {
		var state string
		var attempt, errs int
		err := e.db.Pool.QueryRow(ctx, `SELECT state, attempt, coalesce(array_length(errors, 1), 0) FROM river_job
			WHERE kind = 'ai.embed_note' AND args->>'note_id' = $1`, n.ID.String()).Scan(&state, &attempt, &errs)
		require.NoError(t, err)
		require.NotEqual(t, "completed", state)
		require.NotEqual(t, "discarded", state)
		require.NotEqual(t, "cancelled", state)
		return state == "retryable" && attempt >= 1 && errs >= 1
	})
	require.Len(t, e.embedJobs(n.ID), 1)
	st, err := e.ai.IndexStatus(ctx, user)
	require.NoError(t, err)
	require.Equal(t, 2, st.Notes.Total, "the note and the Inbox")
	require.Equal(t, 2, st.Notes.Pending)
	require.NotEmpty(t, st.LastError)

	// Search still answers from full text, and says what is missing.
	ps, warning, err := e.ai.Search(ctx, user, &ai.SearchParams{Query: "parcel"})
	require.NoError(t, err)
	require.Empty(t, ps, "nothing is indexed yet")
	require.Contains(t, warning, "Only full-text search")
	_, err = e.ai.Transcribe(ctx, user, &ai.TranscribeParams{Image: []byte("\x89PNG\r\n\x1a\n0000")})
	require.True(t, apperr.Is(err, apperr.Unavailable), "%v", err)
}

// TestUserIndexForHeavyUsers: once a user has tenant_index_threshold
// chunks, a job builds an HNSW index over their chunks alone (the planner
// picks it for their searches on large tables; BenchmarkRAGQuery shows the
// plan).
func TestUserIndexForHeavyUsers(t *testing.T) {
	t.Parallel()
	_, o := scripted()
	o.configure = func(c *config.AI) { c.TenantIndexThreshold = 5 }
	e := newEnv(t, o)
	ctx := context.Background()
	user, small := e.newUser(), e.newUser()
	for i := range 6 {
		e.createNote(user, fmt.Sprintf("Note %d", i), fmt.Sprintf("Walnut harvest number %d.", i))
	}
	e.createNote(small, "One note", "Walnut bread.")
	e.waitIdle()

	var state string
	var built bool
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT state, EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = v.name)
		FROM vector_indexes v WHERE user_id = $1`, user).Scan(&state, &built))
	require.Equal(t, "ready", state)
	require.True(t, built)
	var n int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM vector_indexes WHERE user_id = $1`, small).Scan(&n))
	require.Zero(t, n, "a light user gets none")

	ps := e.search(user, ai.SearchParams{Query: "walnut harvest", Ranking: ai.RankVector, K: 10})
	require.Len(t, ps, 6, "every chunk is found through the user's index")

	// And a GIN index over their words alone, with it.
	var textIndexes int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname
		JOIN pg_index x ON x.indexrelid = c.oid
		WHERE i.tablename = 'chunk_search' AND i.indexdef LIKE '%USING gin (search) WHERE (user_id = ''' || $1::text || '''::uuid)' AND x.indisvalid`,
		user).Scan(&textIndexes))
	require.Equal(t, 1, textIndexes)
	ps = e.search(user, ai.SearchParams{Query: "walnut harvest", Ranking: ai.RankText, K: 10})
	require.Len(t, ps, 6)
	ps = e.search(small, ai.SearchParams{Query: "walnut harvest", Ranking: ai.RankText, K: 10})
	require.Len(t, ps, 1, "a light user's words are searched through the shared index")

	// The user's index is over half-precision vectors.
	var name, model string
	var dim int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT name, embedding_model, dimension FROM vector_indexes WHERE user_id = $1`, user).
		Scan(&name, &model, &dim))
	var def string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, name).Scan(&def))
	require.Contains(t, def, "halfvec_cosine_ops")

	// An index an older version built (under another name) gives way to
	// this version's when it is built: it is dropped and forgotten.
	_, err := e.db.Pool.Exec(ctx, `ALTER INDEX `+pgx.Identifier{name}.Sanitize()+` RENAME TO chunks_hnsw_older_version`)
	require.NoError(t, err)
	_, err = e.db.Pool.Exec(ctx, `UPDATE vector_indexes SET name = 'chunks_hnsw_older_version' WHERE name = $1`, name)
	require.NoError(t, err)
	require.NoError(t, e.ai.BuildVectorIndex(ctx, ai.BuildVectorIndexArgs{Model: model, Dimension: dim, UserID: &user}))
	rows, err := e.db.Pool.Query(ctx, `SELECT name || ' ' || state FROM vector_indexes WHERE user_id = $1`, user)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{name + " ready"}, names)
	var older int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexname = 'chunks_hnsw_older_version'`).Scan(&older))
	require.Zero(t, older, "the older index is dropped")
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = $1`, name).Scan(&def))
	require.Contains(t, def, "halfvec_cosine_ops")
	ps = e.search(user, ai.SearchParams{Query: "walnut harvest", Ranking: ai.RankVector, K: 10})
	require.Len(t, ps, 6)
}

// TestTextSearchExpandsWords: with WordNet, full-text search finds other
// forms and relatives of the question's words ("taxes": "tax"); without
// it, only the words as written.
func TestTextSearchExpandsWords(t *testing.T) {
	t.Parallel()
	for _, withWordNet := range []bool{true, false} {
		t.Run(map[bool]string{true: "with WordNet", false: "without WordNet"}[withWordNet], func(t *testing.T) {
			t.Parallel()
			o := envOptions{}
			if withWordNet {
				if _, err := os.Stat(filepath.Join(aitest.WordNetDir, "index.noun")); err != nil {
					t.Skipf("WordNet is not in %s (scripts/install-wordnet.sh installs it)", aitest.WordNetDir)
				}
			} else {
				o.configure = func(c *config.AI) { c.WordNetDir = "/nonexistent/wordnet" }
			}
			e := newEnv(t, o)
			user := e.newUser()
			tax := e.createNote(user, "Money", "Quarterly tax prepayment is due in April.")
			e.createNote(user, "Garden", "Water the tomatoes every evening in April.")
			house := e.createNote(user, "House", "The basement floods after heavy rain.")
			e.waitIdle()
			taxes := sourceIDs(e.search(user, ai.SearchParams{Query: "when do I have to pay taxes", Ranking: ai.RankText}))
			cellar := sourceIDs(e.search(user, ai.SearchParams{Query: "cellar flooding", Ranking: ai.RankText}))
			if withWordNet {
				require.Equal(t, []uuid.UUID{tax.ID}, taxes)
				require.Equal(t, []uuid.UUID{house.ID}, cellar, "basement is a synonym, floods a form of flooding's base")
			} else {
				require.Empty(t, taxes)
				require.Empty(t, cellar)
			}
		})
	}
}

// A note embedded again while it is searched is never missing from the
// results: its chunks are replaced (new ids) between a search's ranking and
// its read, and the search ranks again.
func TestSearchWhileNoteIsEmbeddedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	u := e.newUser()
	n := e.createNote(u, "House", "The plumber Kowalczyk comes on Thursday to fix the boiler.")
	e.createNote(u, "Cooking", "Bake the plum cake at 180 degrees.")
	e.waitIdle()

	stop := make(chan struct{})
	var embeds atomic.Int64
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := e.ai.EmbedNote(ctx, ai.EmbedNoteArgs{NoteID: n.ID, UserID: u, Force: true}, ai.JobRun{}); err != nil {
				done <- err
				return
			}
			embeds.Add(1)
		}
	}()
	for i := range 150 {
		ps := e.search(u, ai.SearchParams{Query: "when does Kowalczyk fix the boiler", K: 2})
		require.NotEmpty(t, ps, "search %d", i)
		require.Equal(t, n.ID, ps[0].SourceID, "search %d found %v", i, ps)
	}
	close(stop)
	require.NoError(t, <-done)
	require.Greater(t, embeds.Load(), int64(10), "the note was embedded again while searched")
}

// A user's chunk count older than a minute is answered at once and counted
// again in the background; a fresh one is answered as it is.
func TestChunkCountRefreshesInTheBackground(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	user := e.newUser()
	e.createNote(user, "Garden", "Water the tomatoes every evening in April.")
	e.waitIdle()
	var want float64
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE user_id = $1`, user).Scan(&want))
	require.Positive(t, want)

	ai.SetChunkCount(e.ai, user, 1000, time.Second)
	n, err := ai.ChunkCount(ctx, e.ai, user)
	require.NoError(t, err)
	require.Equal(t, 1000.0, n, "a count younger than a minute is kept")
	require.False(t, ai.CountRefreshing(e.ai, user))

	ai.SetChunkCount(e.ai, user, 1000, 2*time.Minute)
	n, err = ai.ChunkCount(ctx, e.ai, user)
	require.NoError(t, err)
	require.Equal(t, 1000.0, n, "an old count is answered at once")
	require.Eventually(t, func() bool {
		n, err := ai.ChunkCount(ctx, e.ai, user)
		return err == nil && n == want && !ai.CountRefreshing(e.ai, user)
	}, 30*time.Second, 10*time.Millisecond, "and counted again")
}
