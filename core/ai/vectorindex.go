package ai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/core/db"
)

// HNSW build parameters. The shared index of a model uses pgvector's
// defaults. A heavy user's own index is built denser: measured on one
// user's 100,000 chunks of the local plugin's lexical embeddings among
// 1,000,000 (BenchmarkRAGQuery, 2 cores), recall@10 against exact search at
// ef_search 200 was 0.75 with m=16, ef_construction=64 (built in 25s), 0.92
// with m=32, ef_construction=128 (1m) and 0.96 with m=32,
// ef_construction=256 (2m; 0.98 at ef_search 300).
const (
	hnswM                  = 16
	hnswEfConstruction     = 64
	userHNSWM              = 32
	userHNSWEfConstruction = 256
)

// BuildVectorIndexArgs builds the HNSW index of one embedding model: over
// every user's chunks, or, with UserID, over one heavy user's.
type BuildVectorIndexArgs struct {
	Model     string     `json:"model"`
	Dimension int        `json:"dimension"`
	UserID    *uuid.UUID `json:"user_id,omitempty"`
}

func (BuildVectorIndexArgs) Kind() string { return "ai.build_vector_index" }

// modelRE is what a model key may look like; keys are written into index
// definitions as literals.
var modelRE = regexp.MustCompile(`^[A-Za-z0-9._:/@+\-]{1,200}$`)

// vectorType is the type a model's vectors are cast to for its index and
// queries: vector(n) up to 2,000 dimensions, halfvec(n) up to 4,000 (HNSW's
// limits); beyond that there is no index and searches are exact.
func vectorType(dim int) (typ, ops string, indexable bool) {
	switch {
	case dim <= 2000:
		return fmt.Sprintf("vector(%d)", dim), "vector_cosine_ops", true
	case dim <= 4000:
		return fmt.Sprintf("halfvec(%d)", dim), "halfvec_cosine_ops", true
	default:
		return fmt.Sprintf("vector(%d)", dim), "", false
	}
}

// vectorIndexName is the name of a model's index (per user when userID is
// set).
func vectorIndexName(model string, dim int, userID *uuid.UUID) string {
	key := fmt.Sprintf("%s\x00%d", model, dim)
	if userID != nil {
		key += "\x00" + userID.String() + "\x00v4"
	}
	sum := sha256.Sum256([]byte(key))
	return "chunks_hnsw_" + hex.EncodeToString(sum[:8])
}

// ownVectorType is the type of a heavy user's own index: half precision.
// Each step of an HNSW walk reads the vectors of a node's neighbours, and
// halving them made the walk 15-20% faster at the same recall (one user's
// 100,000 chunks, 384 dimensions: recall@10 0.898 against 0.895 at
// ef_search 300); the index is 130 MB instead of 203.
func ownVectorType(dim int) (typ, ops string) {
	return fmt.Sprintf("halfvec(%d)", dim), "halfvec_cosine_ops"
}

// indexedVector is the expression a model's vectors are indexed and
// searched by. A user's own index is over the normalised vector (cosine
// distances are the same) in half precision (ownVectorType), so that a
// query written for it can only be served by it: the planner, left to
// choose between the shared and the user's index for the same expression,
// was seen to switch with hnsw.ef_search.
func indexedVector(column string, dim int, ownIndex bool) string {
	typ, _, _ := vectorType(dim)
	if ownIndex {
		own, _ := ownVectorType(dim)
		return fmt.Sprintf("l2_normalize(%s::%s)::%s", column, typ, own)
	}
	return fmt.Sprintf("%s::%s", column, typ)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// queueVectorIndex queues the build of a model's index unless it is known
// to exist.
func (s *Service) queueVectorIndex(ctx context.Context, tx db.Tx, model string, dim int, userID *uuid.UUID) error {
	if _, _, ok := vectorType(dim); !ok {
		return nil
	}
	name := vectorIndexName(model, dim, userID)
	if _, ok := s.indexed.Load(name); ok {
		return nil
	}
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM vector_indexes WHERE name = $1`, name).Scan(&state)
	switch {
	case err == nil && state == "ready":
		s.indexed.Store(name, true)
		return nil
	case err == nil && state == "building":
		return nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("look up vector index: %w", err)
	}
	// A failed build is tried again by the next job that needs it.
	_, err = tx.InsertJob(ctx, BuildVectorIndexArgs{Model: model, Dimension: dim, UserID: userID}, s.insertOpts())
	return err
}

// BuildVectorIndex builds an HNSW index with CREATE INDEX CONCURRENTLY, so
// that chunks keep being written meanwhile. Building for a model with
// millions of chunks takes minutes; progress shows in
// pg_stat_progress_create_index.
func (s *Service) BuildVectorIndex(ctx context.Context, a BuildVectorIndexArgs) error {
	_, ops, ok := vectorType(a.Dimension)
	if !ok {
		return nil
	}
	if !modelRE.MatchString(a.Model) {
		return fmt.Errorf("model %q: not a name an index can be built for", a.Model)
	}
	name := vectorIndexName(a.Model, a.Dimension, a.UserID)
	conn, err := s.db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// One builder per index, across processes.
	lockKey := "vector-index:" + name
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, lockKey); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey)
	}()
	var userID any
	if a.UserID != nil {
		userID = *a.UserID
	}
	if a.UserID != nil {
		if err := s.dropSupersededIndexes(ctx, conn, name, a); err != nil {
			return err
		}
	}
	var state string
	err = conn.QueryRow(ctx, `
		INSERT INTO vector_indexes (name, embedding_model, dimension, user_id, state) VALUES ($1, $2, $3, $4, 'building')
		ON CONFLICT (name) DO UPDATE SET state = CASE WHEN vector_indexes.state = 'ready' THEN 'ready' ELSE 'building' END, error = NULL
		RETURNING state`, name, a.Model, a.Dimension, userID).Scan(&state)
	if err != nil {
		return fmt.Errorf("record vector index %s: %w", name, err)
	}
	var valid *bool
	_ = conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, name).Scan(&valid)
	if state == "ready" && valid != nil && *valid {
		s.indexed.Store(name, true)
		if a.UserID != nil {
			return s.buildTextIndex(ctx, conn, *a.UserID)
		}
		return nil
	}
	if valid != nil && !*valid {
		// Left behind by a build that failed or was interrupted.
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop invalid index %s: %w", name, err)
		}
	}
	where := "embedding_model = " + quoteLiteral(a.Model)
	m, efc := hnswM, hnswEfConstruction
	if a.UserID != nil {
		where = "user_id = " + quoteLiteral(a.UserID.String()) + "::uuid AND " + where
		m, efc = userHNSWM, userHNSWEfConstruction
		_, ops = ownVectorType(a.Dimension)
	}
	stmt := fmt.Sprintf(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON chunks USING hnsw ((%s) %s) WITH (m = %d, ef_construction = %d) WHERE %s`,
		pgx.Identifier{name}.Sanitize(), indexedVector("embedding", a.Dimension, a.UserID != nil), ops, m, efc, where)
	start := time.Now()
	s.logger.InfoContext(ctx, "building vector index", "index", name, "model", a.Model, "dimension", a.Dimension, "user_id", userID)
	if _, err := conn.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, false)`, s.cfg.IndexBuildMemory); err != nil {
		return fmt.Errorf("set maintenance_work_mem: %w", err)
	}
	_, err = conn.Exec(ctx, stmt)
	_, _ = conn.Exec(context.WithoutCancel(ctx), `RESET maintenance_work_mem`)
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `UPDATE vector_indexes SET state = 'failed', error = $2 WHERE name = $1`, name, err.Error())
		return fmt.Errorf("build vector index %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, `UPDATE vector_indexes SET state = 'ready', ready_at = now() WHERE name = $1`, name); err != nil {
		return err
	}
	s.indexed.Store(name, true)
	s.logger.InfoContext(ctx, "built vector index", "index", name, "took", time.Since(start).Round(time.Millisecond))
	if a.UserID != nil {
		return s.buildTextIndex(ctx, conn, *a.UserID)
	}
	return nil
}

// dropSupersededIndexes drops the user's index of the model that an older
// version built differently (under another name), before name is built:
// a user has one index of a model (vector_indexes_model_user_idx), and the
// old one would go on costing every write of their chunks. Until name is
// ready their searches go through the shared index.
func (s *Service) dropSupersededIndexes(ctx context.Context, conn *pgxpool.Conn, name string, a BuildVectorIndexArgs) error {
	rows, err := conn.Query(ctx, `SELECT name FROM vector_indexes WHERE user_id = $1 AND embedding_model = $2 AND name <> $3`,
		*a.UserID, a.Model, name)
	if err != nil {
		return fmt.Errorf("superseded indexes: %w", err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("superseded indexes: %w", err)
	}
	for _, o := range old {
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{o}.Sanitize()); err != nil {
			return fmt.Errorf("drop superseded index %s: %w", o, err)
		}
		if _, err := conn.Exec(ctx, `DELETE FROM vector_indexes WHERE name = $1`, o); err != nil {
			return fmt.Errorf("forget superseded index %s: %w", o, err)
		}
		s.logger.InfoContext(ctx, "dropped superseded vector index", "index", o, "by", name)
	}
	return nil
}

// textIndexName is the name of a heavy user's own full-text index.
func textIndexName(userID uuid.UUID) string {
	sum := sha256.Sum256([]byte("chunk_search\x00" + userID.String()))
	return "chunk_search_gin_" + hex.EncodeToString(sum[:8])
}

// buildTextIndex builds a heavy user's own GIN index over their words
// (chunk_search), with their HNSW index: the shared index on (user_id,
// search) reads the user's whole posting list of user_id for every word of
// a question, 100,000 entries for a user with 100,000 chunks, where their
// own index reads only the word's. The planner picks it for their queries
// (the queries are planned for their values). The caller holds the
// index's advisory lock.
func (s *Service) buildTextIndex(ctx context.Context, conn *pgxpool.Conn, userID uuid.UUID) error {
	name := textIndexName(userID)
	var valid *bool
	_ = conn.QueryRow(ctx, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, name).Scan(&valid)
	if valid != nil && *valid {
		return nil
	}
	if valid != nil {
		if _, err := conn.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("drop invalid index %s: %w", name, err)
		}
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, `SELECT set_config('maintenance_work_mem', $1, false)`, s.cfg.IndexBuildMemory); err != nil {
		return fmt.Errorf("set maintenance_work_mem: %w", err)
	}
	_, err := conn.Exec(ctx, fmt.Sprintf(`CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON chunk_search USING gin (search) WHERE user_id = %s::uuid`,
		pgx.Identifier{name}.Sanitize(), quoteLiteral(userID.String())))
	_, _ = conn.Exec(context.WithoutCancel(ctx), `RESET maintenance_work_mem`)
	if err != nil {
		return fmt.Errorf("build text index %s: %w", name, err)
	}
	s.logger.InfoContext(ctx, "built text index", "index", name, "user_id", userID, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// hasUserIndex reports whether the user has a ready index of their own for
// the model. Known indexes are remembered; a miss is asked again after a
// while, so that an index built by a worker is picked up by every API
// process.
func (s *Service) hasUserIndex(ctx context.Context, userID uuid.UUID, model string, dim int) bool {
	name := vectorIndexName(model, dim, &userID)
	if _, ok := s.indexed.Load(name); ok {
		return true
	}
	if at, ok := s.noIndex.Load(name); ok && time.Since(at.(time.Time)) < 30*time.Second {
		return false
	}
	var ready bool
	err := s.db.Pool.QueryRow(ctx, `SELECT state = 'ready' FROM vector_indexes WHERE name = $1`, name).Scan(&ready)
	if err == nil && ready {
		s.indexed.Store(name, true)
		return true
	}
	s.noIndex.Store(name, time.Now())
	return false
}

// maybeTenantIndex queues an index of the user's own once they have
// TenantIndexThreshold chunks of the model.
func (s *Service) maybeTenantIndex(ctx context.Context, tx db.Tx, userID uuid.UUID, model string, dim int) error {
	n := s.cfg.TenantIndexThreshold
	if n <= 0 {
		return nil
	}
	if _, _, ok := vectorType(dim); !ok {
		return nil
	}
	if _, ok := s.indexed.Load(vectorIndexName(model, dim, &userID)); ok {
		return nil
	}
	// Jobs of one user that run at once each count their own chunks and
	// the committed ones only: the last few to commit could each count
	// fewer than the threshold, and none would queue the index. A lock per
	// user for the rest of the transaction orders the counts (each a fresh
	// snapshot under read committed), so the last to count sees them all.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenant-index:' || $1::text, 0))`, userID); err != nil {
		return err
	}
	var heavy bool
	err := tx.QueryRow(ctx, `SELECT count(*) >= $3 FROM (SELECT 1 FROM chunks WHERE user_id = $1 AND embedding_model = $2 LIMIT $3) x`,
		userID, model, n).Scan(&heavy)
	if err != nil || !heavy {
		return err
	}
	return s.queueVectorIndex(ctx, tx, model, dim, &userID)
}
