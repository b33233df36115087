package ai_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// The RAG benchmarks run on one database seeded once and reused
// (dbtest.Seeded): 1,000,000 chunks embedded by the local plugin, 100,000
// of them one heavy user's, the rest spread over 999 users (~900 each), in
// documents of 20 chunks. The text is generated: a vocabulary of 20,000
// made-up words with Zipf frequencies, 300 topics of 80 words each, every
// chunk 30-80 words half from one topic and half from the whole
// vocabulary; the heavy user writes about 30 topics, the others about 5.
// So passages cluster by topic the way real notes do, rather than being
// random vectors (which defeat HNSW). Indexes are built as production
// builds them: the model's shared HNSW index and the heavy user's own.
// Change ragSeedKey when the seed changes. RAG_BENCH_SCALE (default 1)
// scales the chunk counts, for a quick try of the benchmark itself.
const (
	ragSeedKey       = "rag1m_v5"
	ragUsers         = 1000
	ragChunksPerDoc  = 20
	ragTopics        = 300
	ragVocabulary    = 20_000
	ragWordsPerTopic = 80
	ragModel         = aitest.LocalName + "/lexical-wordnet-384" // the local plugin's default with WordNet installed
)

var (
	ragScale       = benchScale()
	ragChunks      = int(1_000_000 * ragScale)
	ragHeavyChunks = int(100_000 * ragScale)
)

func benchScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("RAG_BENCH_SCALE"), 64); err == nil && v > 0 && v <= 1 {
		return v
	}
	return 1
}

func ragKey() string {
	if ragScale == 1 {
		return ragSeedKey
	}
	return fmt.Sprintf("%s_s%d", ragSeedKey, int(ragScale*1000))
}

// ragUser is the id of bench user i (user 0 is the heavy one).
func ragUser(i int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("consilium-rag-bench-user-%d", i)))
}

// textGen writes the made-up passages.
type textGen struct {
	vocab  []string
	cum    []float64 // Zipf cumulative weights over vocab
	topics [][]string
}

func newTextGen() *textGen {
	rng := rand.New(rand.NewPCG(1, 2))
	cons := []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "tr", "pl", "gr"}
	vows := []string{"a", "e", "i", "o", "u", "ai", "ou"}
	seen := map[string]bool{}
	g := &textGen{}
	for len(g.vocab) < ragVocabulary {
		var w strings.Builder
		for range 1 + rng.IntN(3) {
			w.WriteString(cons[rng.IntN(len(cons))])
			w.WriteString(vows[rng.IntN(len(vows))])
			if rng.IntN(3) == 0 {
				w.WriteString(cons[rng.IntN(len(cons))])
			}
		}
		if s := w.String(); !seen[s] {
			seen[s] = true
			g.vocab = append(g.vocab, s)
		}
	}
	total := 0.0
	for i := range g.vocab {
		total += 1 / math.Pow(float64(i+1), 1.07)
		g.cum = append(g.cum, total)
	}
	for range ragTopics {
		t := make([]string, ragWordsPerTopic)
		for j := range t {
			t[j] = g.vocab[300+rng.IntN(ragVocabulary-300)] // topic words are not the commonest
		}
		g.topics = append(g.topics, t)
	}
	return g
}

func (g *textGen) zipf(rng *rand.Rand) string {
	x := rng.Float64() * g.cum[len(g.cum)-1]
	i, _ := slices.BinarySearch(g.cum, x)
	return g.vocab[min(i, len(g.vocab)-1)]
}

// passage writes one chunk about topic.
func (g *textGen) passage(rng *rand.Rand, topic int) string {
	n := 30 + rng.IntN(51)
	words := make([]string, n)
	for i := range words {
		if rng.IntN(2) == 0 {
			t := g.topics[topic]
			words[i] = t[int(float64(len(t))*math.Pow(rng.Float64(), 2))] // some topic words more than others
		} else {
			words[i] = g.zipf(rng)
		}
	}
	return strings.Join(words, " ") + "."
}

// userTopics are the topics user i writes about.
func userTopics(i int) []int {
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	n := 5
	if i == 0 {
		n = 30
	}
	out := make([]int, n)
	for j := range out {
		out[j] = rng.IntN(ragTopics)
	}
	return out
}

// benchHost runs the local plugin for the benchmarks with every core.
func benchHost(b *testing.B) *plugin.Host {
	cfg := plugin.Config{GoMaxProcs: -1, Items: []plugin.PluginConfig{{Name: aitest.LocalName, Kind: sdk.KindLLM,
		Path: aitest.LocalPlugin(b), Enabled: true}}}
	return aitest.Host(b, cfg)
}

func benchService(b *testing.B, pool *pgxpool.Pool, host *plugin.Host, configure func(*config.AI)) *ai.Service {
	cfg := config.Default().AI
	cfg.IndexBuildMemory = "3GB"
	if configure != nil {
		configure(&cfg)
	}
	svc, err := ai.New(ai.Options{DB: db.New(pool), Config: cfg, Models: host,
		Providers: ai.Providers{Embedding: aitest.LocalName, Chat: aitest.LocalName, Transcription: aitest.LocalName},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// seedRAG fills the benchmark database; see the comment on ragSeedKey.
func seedRAG(b *testing.B, host *plugin.Host) func(ctx context.Context, pool *pgxpool.Pool) error {
	return func(ctx context.Context, pool *pgxpool.Pool) error {
		start := time.Now()
		llm, err := host.LLM(aitest.LocalName)
		if err != nil {
			return err
		}
		users := make([][]any, ragUsers)
		for i := range users {
			users[i] = []any{ragUser(i), fmt.Sprintf("rag-bench-%d@bench.consilium.example", i)}
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "email"}, pgx.CopyFromRows(users)); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		// Documents: the heavy user's first, then the others' in turn.
		type doc struct {
			id, user uuid.UUID
			seq      int
			topics   []int
		}
		var docs []doc
		for i := range ragHeavyChunks / ragChunksPerDoc {
			docs = append(docs, doc{uuid.New(), ragUser(0), i, nil})
		}
		for i := 0; len(docs) < ragChunks/ragChunksPerDoc; i++ {
			docs = append(docs, doc{uuid.New(), ragUser(1 + i%(ragUsers-1)), i, nil})
		}
		rows := make([][]any, len(docs))
		for i, d := range docs {
			rows[i] = []any{d.id, d.user, fmt.Sprintf("Document %d", d.seq), "text/plain", int64(20_000), "ready", ragChunksPerDoc, ragModel}
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"documents"},
			[]string{"id", "user_id", "title", "media_type", "size_bytes", "status", "chunk_count", "embedding_model"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("documents: %w", err)
		}

		// Chunks: generated, embedded by the plugin (two calls in flight),
		// written with COPY.
		gen := newTextGen()
		const batchDocs = 500 // 10,000 chunks
		type batch struct {
			rows [][]any
		}
		work := make(chan []doc)
		done := make(chan batch, 2)
		var wg sync.WaitGroup
		var firstErr error
		var errOnce sync.Once
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for ds := range work {
					var texts []string
					var out [][]any
					for _, d := range ds {
						topics := userTopics(0)
						if d.user != ragUser(0) {
							topics = userTopics(1 + d.seq%(ragUsers-1))
						}
						for pos := range ragChunksPerDoc {
							text := gen.passage(rng, topics[rng.IntN(len(topics))])
							texts = append(texts, ai.EmbedText(fmt.Sprintf("Document %d", d.seq), "", text))
							out = append(out, []any{d.user, d.id, pos, []string{}, fmt.Sprintf("Document %d", d.seq), "", text, ragModel, nil, false})
						}
					}
					for i := 0; i < len(texts); i += 1000 {
						resp, err := llm.Embed(ctx, &sdk.EmbedRequest{Texts: texts[i:min(len(texts), i+1000)]})
						if err != nil {
							errOnce.Do(func() { firstErr = err })
							break
						}
						for j, v := range resp.Vectors {
							out[i+j][8] = pgvector.NewVector(v)
						}
					}
					if out[len(out)-1][8] != nil {
						done <- batch{out}
					}
				}
			}()
		}
		go func() {
			for i := 0; i < len(docs); i += batchDocs {
				work <- docs[i:min(len(docs), i+batchDocs)]
			}
			close(work)
			wg.Wait()
			close(done)
		}()
		written := 0
		for bt := range done {
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"chunks"},
				[]string{"user_id", "document_id", "position", "block_ids", "title", "heading", "text", "embedding_model", "embedding", "hidden"},
				pgx.CopyFromRows(bt.rows)); err != nil {
				return fmt.Errorf("chunks: %w", err)
			}
			written += len(bt.rows)
			if written%100_000 == 0 {
				fmt.Fprintf(os.Stderr, "seed: %d chunks in %s\n", written, time.Since(start).Round(time.Second))
			}
		}
		if firstErr != nil {
			return firstErr
		}
		fmt.Fprintf(os.Stderr, "seed: %d chunks generated, embedded and written in %s\n", written, time.Since(start).Round(time.Second))

		// The indexes production builds: the model's, then the heavy
		// user's own (ai.tenant_index_threshold).
		svc := benchService(b, pool, host, nil)
		for _, u := range []*uuid.UUID{nil, ptr(ragUser(0))} {
			t0 := time.Now()
			if err := svc.BuildVectorIndex(ctx, ai.BuildVectorIndexArgs{Model: ragModel, Dimension: 384, UserID: u}); err != nil {
				return err
			}
			what := fmt.Sprintf("shared HNSW index (%d chunks)", ragChunks)
			if u != nil {
				what = fmt.Sprintf("heavy user's HNSW index (%d chunks)", ragHeavyChunks)
			}
			fmt.Fprintf(os.Stderr, "seed: built the %s in %s\n", what, time.Since(t0).Round(time.Second))
		}
		fmt.Fprintf(os.Stderr, "seed: done in %s (VACUUM ANALYZE follows)\n", time.Since(start).Round(time.Second))
		return nil
	}
}

// ragQueries are questions about what user i wrote: a few words of their
// topics, as people search.
func ragQueries(i, n int) []string {
	gen := newTextGen()
	rng := rand.New(rand.NewPCG(uint64(i), 12345))
	topics := userTopics(i)
	out := make([]string, n)
	for j := range out {
		t := gen.topics[topics[rng.IntN(len(topics))]]
		words := []string{t[rng.IntN(20)], t[rng.IntN(len(t))], t[rng.IntN(len(t))], gen.zipf(rng)}
		out[j] = strings.Join(words, " ")
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkRAGQuery: POST /api/ai/rag/query's work (embed the question
// through the local plugin, vector search, full-text search, fusion,
// passages) for the heavy user (100,000 of the 1,000,000 chunks) and for a
// typical user (~900 chunks), and recall@10 of the vector search against
// an exact scan of the user's chunks.
func BenchmarkRAGQuery(b *testing.B) {
	if aitest.LocalEmbeddingModel() != ragModel {
		// Without WordNet the local plugin embeds differently: a seed
		// made so would be kept under the name of the other model.
		b.Fatalf("WordNet is not installed in %s (scripts/install-wordnet.sh; make bench installs it): the seed is %s's", aitest.WordNetDir, ragModel)
	}
	host := benchHost(b)
	seedStart := time.Now()
	pool := dbtest.Seeded(b, ragKey(), seedRAG(b, host))
	if d := time.Since(seedStart); d > time.Minute {
		b.Logf("seeding took %s", d.Round(time.Second))
	}
	// RAG_EF_SEARCH measures another ai.ef_search (the trade of recall
	// against the vector half's time).
	svc := benchService(b, pool, host, func(c *config.AI) {
		if v := os.Getenv("RAG_EF_SEARCH"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 10 || n > 1000 {
				b.Fatalf("RAG_EF_SEARCH=%q: a number from 10 to 1000 (ai.ef_search)", v)
			}
			c.EfSearch = n
		}
		b.Logf("ai.ef_search %d", c.EfSearch)
	})
	ctx := context.Background()
	llm, err := host.LLM(aitest.LocalName)
	if err != nil {
		b.Fatal(err)
	}
	for _, who := range []struct {
		name string
		user int
	}{{"heavy", 0}, {"typical", 17}} {
		b.Run(who.name, func(b *testing.B) {
			user := ragUser(who.user)
			queries := ragQueries(who.user, 200)
			run := func(q string, r ai.Ranking, k int) []ai.Passage {
				if r == ai.RankFused {
					res, err := svc.Query(ctx, user, &ai.QueryParams{SearchParams: ai.SearchParams{Query: q, K: k}})
					if err != nil {
						b.Fatal(err)
					}
					return res.Passages
				}
				ps, _, err := svc.Search(ctx, user, &ai.SearchParams{Query: q, K: k, Ranking: r})
				if err != nil {
					b.Fatal(err)
				}
				return ps
			}
			for _, q := range queries[:50] { // warm the caches
				run(q, ai.RankFused, 8)
			}
			b.ResetTimer()
			for range b.N {
				// The floor: a round trip to Postgres (SELECT 1) on the same
				// pool, measured in the same run, since the machine's speed
				// drifts between runs.
				var floor []time.Duration
				for range len(queries) {
					t0 := time.Now()
					if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
						b.Fatal(err)
					}
					floor = append(floor, time.Since(t0))
				}
				b.ReportMetric(ms(percentile(floor, 0.5)), "floor-p50-ms")
				b.ReportMetric(ms(percentile(floor, 0.95)), "floor-p95-ms")
				for _, m := range []struct {
					name string
					r    ai.Ranking
				}{{"rag", ai.RankFused}, {"vector", ai.RankVector}, {"text", ai.RankText}} {
					var lat []time.Duration
					for _, q := range queries {
						t0 := time.Now()
						run(q, m.r, 8)
						lat = append(lat, time.Since(t0))
					}
					b.ReportMetric(ms(percentile(lat, 0.5)), m.name+"-p50-ms")
					b.ReportMetric(ms(percentile(lat, 0.95)), m.name+"-p95-ms")
				}
			}
			b.StopTimer()

			// Recall@10 of the vector search (HNSW, as served) against an
			// exact scan of the user's chunks with the same query vector.
			var recall float64
			nq := 100
			for _, q := range queries[:nq] {
				got := run(q, ai.RankVector, 10)
				resp, err := llm.Embed(ctx, &sdk.EmbedRequest{Texts: []string{q}})
				if err != nil {
					b.Fatal(err)
				}
				exact := exactTop(b, pool, user, resp.Vectors[0], 10)
				hit := 0
				for _, p := range got {
					if slices.Contains(exact, p.ChunkID) {
						hit++
					}
				}
				recall += float64(hit) / float64(len(exact))
			}
			b.ReportMetric(recall/float64(nq), "recall@10")
			plan := explainVector(b, pool, user, who.user == 0)
			plan = strings.ReplaceAll(plan, vectorIndexName(ragModel, 384, &user), "the user's own HNSW index")
			plan = strings.ReplaceAll(plan, vectorIndexName(ragModel, 384, nil), "the shared HNSW index")
			b.Logf("%s user: vector search plan: %s", who.name, plan)
		})
	}
}

// vectorIndexName mirrors core/ai's naming of HNSW indexes.
func vectorIndexName(model string, dim int, userID *uuid.UUID) string {
	key := fmt.Sprintf("%s\x00%d", model, dim)
	if userID != nil {
		key += "\x00" + userID.String() + "\x00v4"
	}
	sum := sha256.Sum256([]byte(key))
	return "chunks_hnsw_" + hex.EncodeToString(sum[:8])
}

// exactTop is the true top k of the user's chunks by cosine distance: the
// MATERIALIZED CTE keeps the planner from using an approximate index.
func exactTop(b *testing.B, pool *pgxpool.Pool, user uuid.UUID, v []float32, k int) []int64 {
	rows, err := pool.Query(context.Background(), `
		WITH mine AS MATERIALIZED (SELECT id, embedding::vector(384) <=> $2::vector(384) AS d FROM chunks
			WHERE user_id = $1 AND embedding_model = $3 AND NOT hidden)
		SELECT id FROM mine ORDER BY d, id LIMIT $4`, user, pgvector.NewVector(v), ragModel, k)
	if err != nil {
		b.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// explainVector names the index the planner uses for the user's vector
// search.
func explainVector(b *testing.B, pool *pgxpool.Pool, user uuid.UUID, ownIndex bool) string {
	var v pgvector.Vector
	if err := pool.QueryRow(context.Background(), `SELECT embedding FROM chunks WHERE user_id = $1 LIMIT 1`, user).Scan(&v); err != nil {
		b.Fatal(err)
	}
	tx, err := pool.Begin(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	_, _ = tx.Exec(context.Background(), `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', '300', true)`)
	expr, typ := "c.embedding::vector(384)", "vector(384)" // as core/ai writes them
	if ownIndex {
		expr, typ = "l2_normalize(c.embedding::vector(384))::halfvec(384)", "halfvec(384)"
	}
	rows, err := tx.Query(context.Background(), `EXPLAIN SELECT c.id FROM chunks c WHERE c.user_id = $1 AND c.embedding_model = $3 AND NOT c.hidden
		ORDER BY `+expr+` <=> $2::text::`+typ+` LIMIT 40`, pgx.QueryExecModeCacheDescribe, user, v.String(), ragModel)
	if err != nil {
		b.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	var scans []string
	for _, l := range lines {
		if strings.Contains(l, "Scan") {
			scans = append(scans, strings.TrimSpace(strings.TrimLeft(l, " ->")))
		}
	}
	return strings.Join(scans, "; ")
}

// BenchmarkEmbeddingJobs: chunks per second through the whole pipeline:
// notes saved (jobs queued in their transactions), then River workers
// (jobs.max_workers, River's default fetch settings) chunk them, embed them
// with the local plugin and write the chunks.
func BenchmarkEmbeddingJobs(b *testing.B) {
	host := benchHost(b)
	gen := newTextGen()
	for range b.N {
		e := newEnv(b, envOptions{models: host, paused: true, workers: config.Default().Jobs.MaxWorkers, riverDefaults: true})
		user := e.newUser()
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(3, 4))
		const notes = 300
		for i := range notes {
			var paras []string
			for range 10 + rng.IntN(11) { // each paragraph about one chunk's worth
				var p []string
				for range 2 {
					p = append(p, gen.passage(rng, rng.IntN(ragTopics)))
				}
				paras = append(paras, strings.Join(p, " "))
			}
			if _, err := e.notes.Create(ctx, user, &note.CreateParams{Title: fmt.Sprintf("Note %d", i), Content: doc(paras...)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		t0 := time.Now()
		e.startWorkers()
		e.waitIdleFor(10 * time.Minute)
		elapsed := time.Since(t0)
		b.StopTimer()
		var chunks int
		if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE user_id = $1`, user).Scan(&chunks); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(chunks)/elapsed.Seconds(), "chunks/s")
		b.ReportMetric(float64(notes)/elapsed.Seconds(), "notes/s")
		b.Logf("%d notes, %d chunks embedded in %s", notes, chunks, elapsed.Round(time.Millisecond))
	}
}
