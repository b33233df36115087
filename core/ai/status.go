package ai

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// SourceCounts counts notes or documents by where they stand in the index.
type SourceCounts struct {
	Total int
	// Indexed are embedded and searchable; Pending wait for (or are in) a
	// job, including retries after an error; Failed will not be retried
	// until they change or are reindexed. NotIndexed notes were never
	// queued (written before retrieval existed): `consilium ai reindex`.
	Indexed    int
	Pending    int
	Failed     int
	NotIndexed int
	// Outdated are indexed with another embedding model than the one in
	// use: found by text until reindexed.
	Outdated int
}

// IndexStatus is the health of a user's index.
type IndexStatus struct {
	Notes     SourceCounts
	Documents SourceCounts
	Chunks    int
	// EmbeddingModel is the model in use (provider/model), empty until
	// this process has embedded something.
	EmbeddingModel string
	// LastError is the most recent error of a pending or failed source.
	LastError string
}

// IndexStatus reports how many of the user's notes and documents are
// indexed, pending and failed.
func (s *Service) IndexStatus(ctx context.Context, userID uuid.UUID) (*IndexStatus, error) {
	st := &IndexStatus{EmbeddingModel: s.currentModel()}
	model := st.EmbeddingModel
	err := s.db.Pool.QueryRow(ctx, `
		SELECT
			(SELECT count(*) FROM notes WHERE user_id = $1),
			count(*) FILTER (WHERE e.status = 'ready'),
			count(*) FILTER (WHERE e.status = 'pending'),
			count(*) FILTER (WHERE e.status = 'failed'),
			count(*) FILTER (WHERE e.status = 'ready' AND $2 <> '' AND e.chunk_count > 0 AND e.embedding_model IS DISTINCT FROM $2)
		FROM note_embeddings e WHERE e.user_id = $1`, userID, model).
		Scan(&st.Notes.Total, &st.Notes.Indexed, &st.Notes.Pending, &st.Notes.Failed, &st.Notes.Outdated)
	if err != nil {
		return nil, fmt.Errorf("note index status: %w", err)
	}
	st.Notes.NotIndexed = max(0, st.Notes.Total-st.Notes.Indexed-st.Notes.Pending-st.Notes.Failed)
	err = s.db.Pool.QueryRow(ctx, `
		SELECT count(*),
			count(*) FILTER (WHERE status = 'ready'),
			count(*) FILTER (WHERE status IN ('pending', 'processing')),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'ready' AND $2 <> '' AND chunk_count > 0 AND embedding_model IS DISTINCT FROM $2)
		FROM documents WHERE user_id = $1`, userID, model).
		Scan(&st.Documents.Total, &st.Documents.Indexed, &st.Documents.Pending, &st.Documents.Failed, &st.Documents.Outdated)
	if err != nil {
		return nil, fmt.Errorf("document index status: %w", err)
	}
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE user_id = $1`, userID).Scan(&st.Chunks); err != nil {
		return nil, fmt.Errorf("count chunks: %w", err)
	}
	_ = s.db.Pool.QueryRow(ctx, `
		SELECT error FROM (
			SELECT error, requested_at AS at FROM note_embeddings WHERE user_id = $1 AND error IS NOT NULL
			UNION ALL
			SELECT error, updated_at FROM documents WHERE user_id = $1 AND error IS NOT NULL AND status <> 'ready'
		) e ORDER BY at DESC LIMIT 1`, userID).Scan(&st.LastError)
	return st, nil
}
