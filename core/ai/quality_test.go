package ai_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// TestRetrievalQuality measures recall@5 and MRR (over the top 10) of
// vector-only, text-only and fused ranking with the local plugin's lexical
// embeddings, on a corpus of 215 notes and documents and 163 questions
// whose answering source is labelled: 95 as written, 20 typed without
// diacritics or with typos, 48 paraphrased (asking in other words than the
// passage uses). Fused ranking must beat both overall, with WordNet
// (ai.wordnet_dir; the local plugin's lexical-wordnet-384) and without
// (words match only as written; lexical-384).
func TestRetrievalQuality(t *testing.T) {
	t.Parallel()
	t.Run("with WordNet", func(t *testing.T) {
		t.Parallel()
		dir := config.Default().AI.WordNetDir
		if _, err := os.Stat(filepath.Join(dir, "index.noun")); err != nil {
			t.Skipf("WordNet is not in %s (scripts/install-wordnet.sh installs it)", dir)
		}
		retrievalQuality(t, envOptions{workers: 1})
	})
	t.Run("without WordNet", func(t *testing.T) {
		t.Parallel()
		const none = "/nonexistent/wordnet"
		host := aitest.Host(t, plugin.Config{Items: []plugin.PluginConfig{{Name: aitest.LocalName, Kind: sdk.KindLLM,
			Path: aitest.LocalPlugin(t), Enabled: true, Config: map[string]string{"wordnet_dir": none}}}})
		retrievalQuality(t, envOptions{workers: 1, models: host, configure: func(c *config.AI) { c.WordNetDir = none }})
	})
}

func retrievalQuality(t *testing.T, o envOptions) {
	// One worker: chunks get their ids in the order the sources were added,
	// so ties rank the same on every run.
	e := newEnv(t, o)
	ctx := context.Background()
	user := e.newUser()
	c := buildCorpus()
	require.GreaterOrEqual(t, len(c.sources), 200)
	require.GreaterOrEqual(t, len(c.questions), 50)

	ids := map[string]uuid.UUID{}
	for _, s := range c.sources {
		if s.doc {
			p := &ai.AddDocumentParams{Title: s.title, Data: []byte(strings.Join(s.text, "\n\n"))}
			if s.markdown {
				p.MediaType = ai.MediaMarkdown
			}
			d, err := e.ai.AddDocument(ctx, user, p)
			require.NoError(t, err)
			ids[s.key] = d.ID
			continue
		}
		n, err := e.notes.Create(ctx, user, &note.CreateParams{Title: s.title, Content: doc(s.text...)})
		require.NoError(t, err)
		ids[s.key] = n.ID
	}
	e.waitIdle()
	st, err := e.ai.IndexStatus(ctx, user)
	require.NoError(t, err)
	require.Equal(t, st.Notes.Total, st.Notes.Indexed)
	require.Equal(t, st.Documents.Total, st.Documents.Indexed)

	type score struct{ recall5, mrr, n float64 }
	modes := []struct {
		name string
		r    ai.Ranking
	}{{"vector only", ai.RankVector}, {"text only", ai.RankText}, {"fused", ai.RankFused}}
	// Scores over all questions, and over those of each kind.
	kinds := []qKind{asWritten, typed, paraphrase}
	results := map[ai.Ranking]*score{}
	byKind := map[ai.Ranking]map[qKind]*score{}
	var misses []string
	for _, m := range modes {
		s := &score{}
		byKind[m.r] = map[qKind]*score{}
		for _, k := range kinds {
			byKind[m.r][k] = &score{}
		}
		for _, q := range c.questions {
			want, ok := ids[q.key]
			require.True(t, ok, "question %q names unknown source %q", q.q, q.key)
			ps := e.search(user, ai.SearchParams{Query: q.q, K: 10, Ranking: m.r})
			rank := 0
			for i, p := range ps {
				if p.SourceID == want {
					rank = i + 1
					break
				}
			}
			for _, sc := range []*score{s, byKind[m.r][q.kind]} {
				sc.n++
				if rank >= 1 && rank <= 5 {
					sc.recall5++
				}
				if rank > 0 {
					sc.mrr += 1 / float64(rank)
				}
			}
			if m.r == ai.RankFused && (rank == 0 || rank > 5) {
				misses = append(misses, fmt.Sprintf("%q (rank %d)", q.q, rank))
			}
		}
		results[m.r] = s
	}
	var table strings.Builder
	fk := byKind[ai.RankFused]
	fmt.Fprintf(&table, "retrieval quality, %d sources (%d chunks), %d questions (%d as written, %d typed without diacritics or with typos, %d paraphrased), embeddings %s:\n",
		len(c.sources), st.Chunks, len(c.questions), int(fk[asWritten].n), int(fk[typed].n), int(fk[paraphrase].n), st.EmbeddingModel)
	fmt.Fprintf(&table, "  %-12s | all: recall@5  MRR@10", "ranking")
	for _, k := range kinds {
		fmt.Fprintf(&table, " | %s: recall@5  MRR@10", k)
	}
	table.WriteString("\n")
	for _, m := range modes {
		a := results[m.r]
		fmt.Fprintf(&table, "  %-12s |      %8.3f  %6.3f", m.name, a.recall5/a.n, a.mrr/a.n)
		for _, k := range kinds {
			sc := byKind[m.r][k]
			fmt.Fprintf(&table, " | %s  %8.3f  %6.3f", strings.Repeat(" ", len(k.String())), sc.recall5/sc.n, sc.mrr/sc.n)
		}
		table.WriteString("\n")
	}
	t.Log(table.String())
	if len(misses) > 0 {
		t.Logf("fused misses (not in the top 5): %s", strings.Join(misses, "; "))
	}
	fused := results[ai.RankFused]
	for _, r := range []ai.Ranking{ai.RankVector, ai.RankText} {
		require.Greater(t, fused.recall5, results[r].recall5, "fused recall@5 must beat %v", r)
		require.Greater(t, fused.mrr, results[r].mrr, "fused MRR must beat %v", r)
	}
}
