package ai

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/page"
)

// Limits of a query.
const (
	MaxQueryLength = 2000 // characters
	DefaultK       = 8
	MaxK           = 50
	MaxNoteIDs     = 200
	MaxTags        = 20
	// textWeight is the full-text ranking's share of a fused score (see
	// fuse); 0.6, 0.65 and 0.7 measured MRR@10 0.908, 0.913 and 0.910.
	textWeight = 0.65
	// maxTerms bounds the words of a question used for full-text search.
	maxTerms = 16
	// termHits bounds the rows read per word of a question; a word found
	// in more rows than this is common and weighs little anyway.
	termHits = 300
)

// Sources of passages.
const (
	SourceNotes     = "notes"
	SourceDocuments = "documents"
)

// Ranking modes of Search.
type Ranking int

const (
	// RankFused merges the vector and full-text rankings (see fuse).
	RankFused Ranking = iota
	RankVector
	RankText
)

// SearchParams is a retrieval request.
type SearchParams struct {
	Query string
	// K is how many passages to return (default 8, at most 50).
	K int
	// Sources limits the kind of source; empty means both, or notes only
	// when NoteIDs or Tags are set.
	Sources []string
	// NoteIDs and Tags narrow the notes searched (any of the tags).
	NoteIDs []uuid.UUID
	Tags    []string
	Ranking Ranking
}

// Passage is a retrieved piece of a note or document.
type Passage struct {
	ChunkID int64
	Text    string
	// Score orders passages: the fused score (RankFused), the cosine
	// similarity (RankVector) or the full-text score (RankText).
	Score      float64
	SourceType string // "note" or "document"
	SourceID   uuid.UUID
	Title      string
	Heading    string
	BlockIDs   []string
}

// checkSearch checks a request and returns the filter that narrows the
// chunks searched; its conditions may name @user_id, which the queries give.
func (s *Service) checkSearch(p *SearchParams) (*page.Filter, error) {
	p.Query = strings.TrimSpace(p.Query)
	if err := field.Required("query", p.Query); err != nil {
		return nil, err
	}
	if err := field.Text("query", p.Query, MaxQueryLength); err != nil {
		return nil, err
	}
	switch {
	case p.K == 0:
		p.K = DefaultK
	case p.K < 1 || p.K > MaxK:
		return nil, apperr.Field("k", fmt.Sprintf("must be between 1 and %d", MaxK), p.K)
	}
	if len(p.NoteIDs) > MaxNoteIDs {
		return nil, apperr.Field("note_ids", fmt.Sprintf("at most %d notes", MaxNoteIDs), nil)
	}
	tags, err := note.NormalizeTags("tags", p.Tags)
	if err != nil {
		return nil, err
	}
	if len(tags) > MaxTags {
		return nil, apperr.Field("tags", fmt.Sprintf("at most %d tags", MaxTags), nil)
	}
	p.Tags = tags
	notes, docs := len(p.Sources) == 0, len(p.Sources) == 0 && len(p.NoteIDs) == 0 && len(p.Tags) == 0
	for i, src := range p.Sources {
		switch src {
		case SourceNotes:
			notes = true
		case SourceDocuments:
			docs = true
		default:
			return nil, apperr.Field(fmt.Sprintf("sources[%d]", i), "must be notes or documents", src)
		}
	}
	f := &page.Filter{}
	var noteCond string
	args := pgx.NamedArgs{}
	if notes {
		noteCond = "c.note_id IS NOT NULL"
		if len(p.NoteIDs) > 0 {
			noteCond = "c.note_id = ANY(@note_ids::uuid[])"
			args["note_ids"] = p.NoteIDs
		}
		if len(p.Tags) > 0 {
			noteCond += " AND c.note_id IN (SELECT n.id FROM notes n WHERE n.user_id = @user_id AND n.tags && @tags::text[])"
			args["tags"] = p.Tags
		}
	}
	switch {
	case notes && docs:
		if noteCond != "c.note_id IS NOT NULL" {
			f.Where("("+noteCond+") OR c.document_id IS NOT NULL", args)
		}
	case notes:
		f.Where(noteCond, args)
	case docs:
		f.Where("c.document_id IS NOT NULL")
	}
	return f, nil
}

// Search retrieves the passages of the user's notes and documents that best
// match the query. Vector search runs inside Postgres with the user filter
// (pgvector iterative index scans), full-text search weighs each word of
// the question by how rare it is among the user's passages, and the two
// rankings are fused. When the embedding provider is unavailable a fused
// search falls back to full text and says so in the returned warning.
func (s *Service) Search(ctx context.Context, userID uuid.UUID, p *SearchParams) ([]Passage, string, error) {
	f, err := s.checkSearch(p)
	if err != nil {
		return nil, "", err
	}
	// A chunk can be replaced between the ranking and the read (its note
	// was embedded again meanwhile). The ranking and the read run on the
	// pool first (the two searches at once, on two connections); when a
	// ranked chunk is gone by the time it is read, they run again, one
	// after the other in one read-only transaction that sees one snapshot,
	// where every ranked chunk is still there to read. So a note being
	// re-embedded is never missing from the answer, however loaded the
	// machine (retrying on the pool only made it rarer).
	order, warning, err := s.rank(ctx, s.db.Pool, userID, p, f)
	if err != nil {
		return nil, "", err
	}
	passages, missing, err := s.passages(ctx, s.db.Pool, userID, order)
	if err != nil || missing == 0 {
		return passages, warning, err
	}
	s.logger.DebugContext(ctx, "search: chunks replaced while read; ranking again in one snapshot", "missing", missing)
	err = pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		order, warning, err = s.rank(ctx, tx, userID, p, f)
		if err != nil {
			return err
		}
		passages, missing, err = s.passages(ctx, tx, userID, order)
		if err == nil && missing > 0 {
			err = fmt.Errorf("search: %d ranked chunks missing from the snapshot they were ranked in", missing)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return passages, warning, nil
}

// querier is what the searches run on: the pool (the two searches at once)
// or one transaction (one after the other, in one snapshot).
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// rank runs the searches p asks for and returns the best p.K chunks.
func (s *Service) rank(ctx context.Context, db querier, userID uuid.UUID, p *SearchParams, f *page.Filter) ([]ranked, string, error) {
	n := max(4*p.K, 40)
	var vec, text []ranked
	var warning string
	var err error
	// On the pool the two searches run at once, each on its own
	// connection; in a transaction, one after the other.
	_, inTx := db.(pgx.Tx)
	textDone := make(chan error, 1)
	if p.Ranking != RankVector && inTx {
		var err error
		text, err = s.textSearch(ctx, db, userID, p.Query, f, n)
		textDone <- err
	} else if p.Ranking != RankVector {
		go func() {
			var err error
			text, err = s.textSearch(ctx, db, userID, p.Query, f, n)
			textDone <- err
		}()
	} else {
		textDone <- nil
	}
	if p.Ranking != RankText {
		vec, err = s.vectorSearch(ctx, db, userID, p.Query, f, n)
		if err != nil {
			if p.Ranking == RankVector {
				<-textDone
				return nil, "", userError("vector search", err)
			}
			s.logger.WarnContext(ctx, "vector search unavailable: searching text only", "error", err)
			warning = "Only full-text search was used: the embedding model is not available right now (" + errorText(err) + ")."
			vec = nil
		}
	}
	if err := <-textDone; err != nil {
		return nil, "", err
	}
	var order []ranked
	switch p.Ranking {
	case RankVector:
		order = vec
	case RankText:
		order = text
	default:
		order = fuse(vec, text)
	}
	if len(order) > p.K {
		order = order[:p.K]
	}
	return order, warning, nil
}

// ranked is a chunk with its score in one ranking.
type ranked struct {
	id    int64
	score float64
}

// fuse merges the vector and full-text rankings by a convex combination
// of their scores, each scaled to 0…1 over its list (min-max): a passage
// scores textWeight × its scaled text score plus (1 - textWeight) × its
// scaled cosine similarity, 0 for a list it is missing from. Reciprocal
// rank fusion, used before, ranked a passage found by both searches at
// middling ranks above one that either search ranked first (which rank
// 1 of 40 earns, 1/61, two ranks of 20 beat); with the scores, a clear
// best match keeps its lead. Measured on the retrieval-quality corpus
// (quality_test.go), with WordNet: MRR@10 0.913 against 0.876 by RRF
// (k = 60, ties sharing their rank).
func fuse(vec, text []ranked) []ranked {
	scores := map[int64]float64{}
	add := func(l []ranked, w float64) {
		if len(l) == 0 {
			return
		}
		hi, lo := l[0].score, l[len(l)-1].score
		for _, r := range l {
			x := 1.0 // a list of equal scores
			if hi > lo {
				x = (r.score - lo) / (hi - lo)
			}
			scores[r.id] += w * x
		}
	}
	add(vec, 1-textWeight)
	add(text, textWeight)
	out := make([]ranked, 0, len(scores))
	for id, sc := range scores {
		out = append(out, ranked{id, sc})
	}
	slices.SortFunc(out, func(a, b ranked) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

// queryVector embeds the query.
func (s *Service) queryVector(ctx context.Context, q string) (*embedded, error) {
	return s.embed(ctx, []string{q})
}

// vectorSearch returns up to n chunks nearest the query among the user's
// chunks of the current embedding model. The user filter runs inside the
// index scan (iterative scans, relaxed order, re-sorted exactly after); a
// user with an index of their own is searched through it, and for a user
// with few chunks the planner reads them exactly through the user_id index.
func (s *Service) vectorSearch(ctx context.Context, db querier, userID uuid.UUID, q string, f *page.Filter, n int) ([]ranked, error) {
	emb, err := s.queryVector(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.nearest(ctx, db, userID, emb.model, emb.dim, emb.vectors[0], f, n)
}

// exactSearchChunks is the most chunks a user without an index of their
// own may have to be searched exactly (MEASURED.md: a typical user's ~900
// rows take ~1 ms; 2,000 stay within a few).
const exactSearchChunks = 2000

func (s *Service) nearest(ctx context.Context, db querier, userID uuid.UUID, model string, dim int, v []float32, f *page.Filter, n int) ([]ranked, error) {
	typ, _, _ := vectorType(dim)
	own := s.hasUserIndex(ctx, userID, model, dim)
	if own {
		typ, _ = ownVectorType(dim)
	}
	var qv any = pgvector.NewVector(v)
	if strings.HasPrefix(typ, "halfvec") {
		qv = pgvector.NewHalfVector(v)
	}
	expr := indexedVector("c.embedding", dim, own)
	// A user with few chunks is searched exactly: reading their rows
	// through the user_id index costs about a millisecond, while the
	// shared HNSW index, filtered down to one small tenant, answers from a
	// graph of everybody's rows and may miss theirs (which passages came
	// back depended on what other users had written). "+ 0" keeps the
	// planner off the HNSW index whatever its statistics say.
	exact := ""
	if n, err := s.chunkCount(ctx, userID); !own && err == nil && n <= exactSearchChunks {
		exact = " + 0"
	}
	sql := fmt.Sprintf(`WITH nearest AS MATERIALIZED (
			SELECT c.id, %[3]s <=> @query_vector::%[1]s AS distance FROM chunks c
			WHERE c.user_id = @user_id AND c.embedding_model = @model AND NOT c.hidden AND %[2]s
			ORDER BY (%[3]s <=> @query_vector::%[1]s)%[4]s LIMIT @n)
		SELECT id, distance FROM nearest ORDER BY distance, id`, typ, f.SQL(), expr, exact)
	args := f.Args(pgx.NamedArgs{"user_id": userID, "query_vector": qv, "model": model, "n": n})
	ef := max(s.cfg.EfSearch, n)
	// One round trip: the settings and the query in one batch, which runs
	// as one implicit transaction (the settings are local to it). The
	// statement is prepared once per connection; plan_cache_mode makes
	// each execution planned for its values all the same, so that the
	// planner can tell a user with few chunks from one with many, and
	// match a user's own index.
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', $1, true),
		set_config('plan_cache_mode', 'force_custom_plan', true)`, strconv.Itoa(ef))
	var out []ranked
	b.Queue(sql, args).Query(func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ranked, error) {
			var x ranked
			var d float64
			err := r.Scan(&x.id, &d)
			x.score = 1 - d
			return x, err
		})
		return err
	})
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return out, nil
}

// stopWords are left out of full-text queries (unless the question has
// nothing else): they are in almost every passage.
var stopWords = []string{"a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do",
	"does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of",
	"on", "or", "our", "should", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they",
	"this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with",
	"would", "you", "your"}

type countEntry struct {
	n  float64
	at time.Time
}

// chunkCount is how many chunks the user has (the N of the IDF weights,
// and whether a user is few enough to search exactly). A count is kept for
// a minute; an older one is still answered while it is counted again in
// the background, since counting a heavy user's 100,000 chunks takes about
// 30 ms, which one of their searches would otherwise pay every minute.
func (s *Service) chunkCount(ctx context.Context, userID uuid.UUID) (float64, error) {
	e, ok := s.chunkCounts.Load(userID)
	if !ok {
		return s.countChunks(ctx, userID)
	}
	if time.Since(e.(countEntry).at) >= time.Minute {
		if _, busy := s.countsRefreshing.LoadOrStore(userID, true); !busy {
			go func() {
				defer s.countsRefreshing.Delete(userID)
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if _, err := s.countChunks(ctx, userID); err != nil {
					s.logger.WarnContext(ctx, "search: counting the user's chunks again", "user_id", userID, "error", err)
				}
			}()
		}
	}
	return e.(countEntry).n, nil
}

// countChunks counts the user's chunks and keeps the count.
func (s *Service) countChunks(ctx context.Context, userID uuid.UUID) (float64, error) {
	var n int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count chunks: %w", err)
	}
	s.chunkCounts.Store(userID, countEntry{float64(n), time.Now()})
	return float64(n), nil
}

// textSearch ranks the user's chunks by the words of the query they
// contain, each word weighted by its inverse document frequency among the
// user's chunks (BM25's idf), a word in the passage itself counting more
// than one in its title or headings. A word also matches its other forms
// and the words WordNet relates to it (expand), at a lower weight; a chunk
// scores each word of the question once, by its best match; scores are
// rounded so that the order of summing (the plan's) cannot break a tie
// differently from one run to the next. The words are
// read from the question, and the chunks searched, in one statement.
func (s *Service) textSearch(ctx context.Context, db querier, userID uuid.UUID, q string, f *page.Filter, n int) ([]ranked, error) {
	total, err := s.chunkCount(ctx, userID)
	if err != nil {
		return nil, err
	}
	exp := expand(s.lexicon(ctx), q)
	expWords, expTerms, expWeights := make([]string, len(exp)), make([]string, len(exp)), make([]float64, len(exp))
	for i, e := range exp {
		expWords[i], expTerms[i], expWeights[i] = e.word, e.term, e.weight
	}
	// words: the question's words but stop words (all of them when it has
	// nothing else), the longest maxTerms (longer words tend to be the
	// rarer ones); terms: each with its expansions, one group per word.
	sql := fmt.Sprintf(`
		WITH lexemes AS (SELECT t FROM unnest(tsvector_to_array(to_tsvector('simple', @query::text))) AS t),
		words AS (
			SELECT t FROM lexemes
			WHERE t <> ALL(@stop::text[]) OR NOT EXISTS (SELECT FROM lexemes WHERE t <> ALL(@stop::text[]))
			ORDER BY length(t) DESC, t LIMIT @max_terms),
		terms AS (
			SELECT k, g, w, q, CASE WHEN numnode(q) = 1 THEN (q::text || ':A')::tsquery ELSE q END AS qa
			FROM (SELECT row_number() OVER () AS k, g, w, plainto_tsquery('simple', term) AS q FROM (
				SELECT t AS g, t AS term, 1.0::float8 AS w FROM words
				UNION ALL
				SELECT e.g, e.term, e.w FROM unnest(@exp_words::text[], @exp_terms::text[], @exp_weights::float8[]) AS e(g, term, w)
				WHERE e.g IN (SELECT t FROM words)) x) y
			WHERE numnode(q) > 0),
		hits AS (
			SELECT terms.k, terms.g, terms.w, h.id, h.a FROM terms CROSS JOIN LATERAL (
				SELECT c.chunk_id AS id, c.search @@ terms.qa AS a FROM chunk_search c
				WHERE c.user_id = @user_id AND c.search @@ terms.q AND %[1]s
				LIMIT @term_hits) h),
		df AS (SELECT k, count(*)::float8 AS n FROM hits GROUP BY k),
		best AS (
			SELECT hits.g, hits.id, max(hits.w * ln(1 + (greatest(@total::float8, df.n) - df.n + 0.5) / (df.n + 0.5)) *
				CASE WHEN hits.a THEN 1.0 ELSE 0.4 END) AS score
			FROM hits JOIN df USING (k) GROUP BY hits.g, hits.id)
		SELECT id, round(sum(score)::numeric, 9)::float8 AS score FROM best GROUP BY id ORDER BY score DESC, id LIMIT @n`, f.SQL())
	args := f.Args(pgx.NamedArgs{"user_id": userID, "query": q, "stop": stopWords, "max_terms": maxTerms,
		"exp_words": expWords, "exp_terms": expTerms, "exp_weights": expWeights,
		"term_hits": termHits, "total": total, "n": n})
	rows, err := db.Query(ctx, sql, pgx.QueryExecModeCacheDescribe, args)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ranked, error) {
		var x ranked
		err := r.Scan(&x.id, &x.score)
		return x, err
	})
}

// passages reads the ranked chunks; missing counts those that are gone
// (replaced since they were ranked).
func (s *Service) passages(ctx context.Context, db querier, userID uuid.UUID, order []ranked) (_ []Passage, missing int, _ error) {
	out := []Passage{}
	if len(order) == 0 {
		return out, 0, nil
	}
	ids := make([]int64, len(order))
	for i, r := range order {
		ids[i] = r.id
	}
	rows, err := db.Query(ctx, `SELECT id, note_id, document_id, title, heading, text, block_ids
		FROM chunks WHERE id = ANY($1) AND user_id = $2`, ids, userID)
	if err != nil {
		return nil, 0, fmt.Errorf("read passages: %w", err)
	}
	byID := map[int64]Passage{}
	for rows.Next() {
		var p Passage
		var noteID, docID *uuid.UUID
		if err := rows.Scan(&p.ChunkID, &noteID, &docID, &p.Title, &p.Heading, &p.Text, &p.BlockIDs); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if noteID != nil {
			p.SourceType, p.SourceID = "note", *noteID
		} else if docID != nil {
			p.SourceType, p.SourceID = "document", *docID
		}
		byID[p.ChunkID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read passages: %w", err)
	}
	for _, r := range order {
		p, ok := byID[r.id]
		if !ok {
			missing++
			continue
		}
		p.Score = math.Round(r.score*1e6) / 1e6
		out = append(out, p)
	}
	return out, missing, nil
}
