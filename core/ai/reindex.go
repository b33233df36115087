package ai

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/db"
)

// ReindexParams choose what Reindex queues.
type ReindexParams struct {
	// UserID limits it to one user; nil means everyone.
	UserID *uuid.UUID
	// Force embeds even what already has the current model (after a
	// change of chunking, or to repair an index).
	Force bool
}

// ReindexResult counts the jobs queued (jobs already queued for a source
// are not queued twice).
type ReindexResult struct {
	Notes     int
	Documents int
}

// reindexBatch is how many jobs one transaction queues.
const reindexBatch = 500

// Reindex queues an embedding job for every note and document (of one
// user, or of everyone). Jobs skip sources whose chunks already reflect them
// with the current model unless Force is set, so after a change of
// embedding provider or model it re-embeds everything, and otherwise it
// only fills gaps (notes written before retrieval existed, failures).
func (s *Service) Reindex(ctx context.Context, p ReindexParams) (*ReindexResult, error) {
	var user any
	if p.UserID != nil {
		user = *p.UserID
	}
	res := &ReindexResult{}
	err := s.eachSource(ctx, `SELECT id, user_id FROM notes WHERE ($1::uuid IS NULL OR user_id = $1) AND id > $2 ORDER BY id LIMIT $3`, user,
		func(tx db.Tx, id, userID uuid.UUID) error {
			if _, err := tx.Exec(ctx, `
				INSERT INTO note_embeddings (note_id, user_id, status) VALUES ($1, $2, 'pending')
				ON CONFLICT (note_id) DO UPDATE SET status = 'pending', error = NULL, requested_at = now()`, id, userID); err != nil {
				return err
			}
			r, err := tx.InsertJob(ctx, EmbedNoteArgs{NoteID: id, UserID: userID, Force: p.Force}, s.insertOpts())
			if err == nil && !r.UniqueSkippedAsDuplicate {
				res.Notes++
			}
			return err
		})
	if err != nil {
		return res, err
	}
	err = s.eachSource(ctx, `SELECT id, user_id FROM documents WHERE ($1::uuid IS NULL OR user_id = $1) AND id > $2 ORDER BY id LIMIT $3`, user,
		func(tx db.Tx, id, userID uuid.UUID) error {
			r, err := tx.InsertJob(ctx, ProcessDocumentArgs{DocumentID: id, UserID: userID, Force: p.Force}, s.insertOpts())
			if err == nil && !r.UniqueSkippedAsDuplicate {
				res.Documents++
			}
			return err
		})
	return res, err
}

// eachSource pages through ids and handles each page in a transaction.
func (s *Service) eachSource(ctx context.Context, sql string, user any, fn func(tx db.Tx, id, userID uuid.UUID) error) error {
	after := uuid.Nil
	for {
		rows, err := s.db.Pool.Query(ctx, sql, user, after, reindexBatch)
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		type pair struct{ id, user uuid.UUID }
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pair, error) {
			var p pair
			err := r.Scan(&p.id, &p.user)
			return p, err
		})
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		err = s.db.InTx(ctx, func(tx db.Tx) error {
			for _, p := range page {
				if err := fn(tx, p.id, p.user); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		after = page[len(page)-1].id
	}
}
