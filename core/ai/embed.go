package ai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/sdk"
)

// EmbedNoteArgs (re-)embeds one note. Jobs are unique by their args while
// queued or running, so a burst of saves embeds once.
type EmbedNoteArgs struct {
	NoteID uuid.UUID `json:"note_id"`
	UserID uuid.UUID `json:"user_id"`
	// Force embeds even when the chunks already reflect the note with the
	// current model (consilium ai reindex --force).
	Force bool `json:"force,omitempty"`
}

func (EmbedNoteArgs) Kind() string { return "ai.embed_note" }

// embedBatch is how many texts go in one Embed call.
const embedBatch = 64

// ErrNoteChanging is returned by EmbedNote when the note kept changing
// while it was being embedded; the job should run again a little later.
var ErrNoteChanging = errors.New("the note changed while it was being embedded")

// JobRun is what a worker tells the service about the job it is working.
type JobRun struct {
	// Final is true on the job's last attempt: a failure then marks the
	// note or document failed instead of pending.
	Final bool
	// Complete runs in the transaction that writes the result; the worker
	// completes its River job there, so that a change committed after it
	// always finds no unfinished job and queues a new one.
	Complete func(ctx context.Context, tx pgx.Tx) error
}

func (r JobRun) complete(ctx context.Context, tx pgx.Tx) error {
	if r.Complete == nil {
		return nil
	}
	return r.Complete(ctx, tx)
}

// NoteHook keeps the index in step with every note save, in the save's
// transaction: archiving hides the note's chunks (and unarchiving shows
// them), a change of title or text marks the note pending and queues its
// embedding job. Deleting a note deletes its chunks with it (foreign key).
func (s *Service) NoteHook(ctx context.Context, tx db.Tx, c *note.Change) error {
	if c.Kind == note.ChangeDelete {
		return nil
	}
	n := c.Note
	if c.Kind != note.ChangeCreate {
		if _, err := tx.Exec(ctx, `UPDATE chunks SET hidden = $3 WHERE note_id = $1 AND user_id = $2 AND hidden <> $3`,
			n.ID, n.UserID, n.IsArchived); err != nil {
			return fmt.Errorf("hide chunks: %w", err)
		}
	}
	if !c.TextChanged {
		return nil
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO note_embeddings (note_id, user_id, status) VALUES ($1, $2, 'pending')
		ON CONFLICT (note_id) DO UPDATE SET status = 'pending', error = NULL, requested_at = now()`, n.ID, n.UserID); err != nil {
		return fmt.Errorf("mark note pending: %w", err)
	}
	if _, err := tx.InsertJob(ctx, EmbedNoteArgs{NoteID: n.ID, UserID: n.UserID}, s.insertOpts()); err != nil {
		return fmt.Errorf("queue embedding: %w", err)
	}
	return nil
}

// embedded is a model's answer for a list of texts.
type embedded struct {
	model   string // provider/model
	dim     int
	vectors [][]float32
}

// currentModel is the embedding model last used (provider/model), so that
// a note whose chunks already have it is not embedded again.
func (s *Service) currentModel() string {
	v, _ := s.lastModel.Load().(string)
	return v
}

// embed embeds texts in batches with the embedding provider.
func (s *Service) embed(ctx context.Context, texts []string) (*embedded, error) {
	c, err := s.llm(s.providers.Embedding, "embeddings")
	if err != nil {
		return nil, err
	}
	em, err := model.Embedder(c)
	if err != nil {
		return nil, err
	}
	out := &embedded{vectors: make([][]float32, 0, len(texts))}
	for i := 0; i < len(texts); i += embedBatch {
		batch := texts[i:min(len(texts), i+embedBatch)]
		resp, err := em.Embed(ctx, &sdk.EmbedRequest{Model: s.cfg.EmbeddingModel, Texts: batch})
		if err != nil {
			return nil, err
		}
		if len(resp.Vectors) != len(batch) {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Message: fmt.Sprintf("the embedding plugin returned %d vectors for %d texts", len(resp.Vectors), len(batch))}
		}
		model := s.providers.Embedding + "/" + resp.Model
		if resp.Model == "" || !modelRE.MatchString(model) {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Message: fmt.Sprintf("the embedding plugin named its model %q", resp.Model)}
		}
		for _, v := range resp.Vectors {
			if len(v) != resp.Dimension || len(v) == 0 {
				return nil, &sdk.Error{Code: sdk.CodeInternal, Message: fmt.Sprintf("the embedding plugin returned a vector of %d dimensions, not %d", len(v), resp.Dimension)}
			}
		}
		if out.model == "" {
			out.model, out.dim = model, resp.Dimension
		} else if out.model != model || out.dim != resp.Dimension {
			return nil, &sdk.Error{Code: sdk.CodeTemporary, Message: "the embedding model changed during a job"}
		}
		out.vectors = append(out.vectors, resp.Vectors...)
	}
	if out.model != "" {
		s.lastModel.Store(out.model)
	}
	return out, nil
}

// knownModel is the current embedding model; a process that has not
// embedded anything yet asks the provider with a tiny text (an error
// leaves it unknown, and the caller embeds as if nothing were current).
func (s *Service) knownModel(ctx context.Context) string {
	if m := s.currentModel(); m != "" {
		return m
	}
	_, _ = s.embed(ctx, []string{"model"})
	return s.currentModel()
}

// noteKey identifies what a note's chunks reflect.
func noteKey(title string, contentHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte(title))
	h.Write([]byte{0})
	h.Write(contentHash)
	return h.Sum(nil)
}

// EmbedNote chunks and embeds a note and replaces its chunks. A note that
// is gone needs nothing (its chunks went with it). If the note changes
// while it is embedded, it is embedded again (ErrNoteChanging after a few
// rounds).
func (s *Service) EmbedNote(ctx context.Context, a EmbedNoteArgs, run JobRun) error {
	for range 3 {
		var title string
		var content, hash []byte
		err := s.db.Pool.QueryRow(ctx, `SELECT title, content, content_hash FROM notes WHERE id = $1 AND user_id = $2`,
			a.NoteID, a.UserID).Scan(&title, &content, &hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read note %s: %w", a.NoteID, err)
		}
		key := noteKey(title, hash)
		if !a.Force && s.knownModel(ctx) != "" {
			var done []byte
			var model *string
			_ = s.db.Pool.QueryRow(ctx, `SELECT embedded_hash, embedding_model FROM note_embeddings WHERE note_id = $1`, a.NoteID).Scan(&done, &model)
			if bytes.Equal(done, key) && model != nil && *model == s.currentModel() {
				return s.finishNote(ctx, a, run, key)
			}
		}
		doc, err := blocknote.Parse(content, nil)
		if err != nil {
			return fmt.Errorf("stored document of note %s does not parse: %w", a.NoteID, err)
		}
		chunks := ChunkNote(title, doc)
		var emb *embedded
		if len(chunks) > 0 {
			texts := make([]string, len(chunks))
			for i, c := range chunks {
				texts[i] = EmbedText(title, c.Heading, c.Text)
			}
			if emb, err = s.embed(ctx, texts); err != nil {
				s.noteFailed(ctx, a, run, err)
				return err
			}
		}
		written, err := s.writeNote(ctx, a, run, title, key, chunks, emb)
		if err != nil {
			return err
		}
		if written {
			return nil
		}
	}
	return ErrNoteChanging
}

// finishNote marks a note's chunks current without changing them.
func (s *Service) finishNote(ctx context.Context, a EmbedNoteArgs, run JobRun, key []byte) error {
	return s.db.InTx(ctx, func(tx db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE note_embeddings SET status = 'ready', error = NULL, embedded_at = now() WHERE note_id = $1 AND embedded_hash = $2`,
			a.NoteID, key); err != nil {
			return err
		}
		return run.complete(ctx, tx)
	})
}

// writeNote replaces a note's chunks if the note is still what was
// embedded; it reports whether it did.
func (s *Service) writeNote(ctx context.Context, a EmbedNoteArgs, run JobRun, title string, key []byte, chunks []Chunk, emb *embedded) (bool, error) {
	written := false
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		// FOR SHARE waits for a save in progress and keeps new ones out
		// until this commits.
		var curTitle string
		var curHash []byte
		var archived bool
		err := tx.QueryRow(ctx, `SELECT title, content_hash, is_archived FROM notes WHERE id = $1 AND user_id = $2 FOR SHARE`,
			a.NoteID, a.UserID).Scan(&curTitle, &curHash, &archived)
		if errors.Is(err, pgx.ErrNoRows) {
			written = true
			return run.complete(ctx, tx)
		}
		if err != nil {
			return fmt.Errorf("lock note %s: %w", a.NoteID, err)
		}
		if !bytes.Equal(noteKey(curTitle, curHash), key) {
			return nil // changed meanwhile: embed again
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE note_id = $1 AND user_id = $2`, a.NoteID, a.UserID); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		var model *string
		if emb != nil {
			model = &emb.model
			if err := copyChunks(ctx, tx, a.UserID, &a.NoteID, nil, title, chunks, emb, archived); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO note_embeddings (note_id, user_id, status, embedded_hash, embedding_model, chunk_count, embedded_at)
			VALUES ($1, $2, 'ready', $3, $4, $5, now())
			ON CONFLICT (note_id) DO UPDATE SET status = 'ready', error = NULL, embedded_hash = $3,
				embedding_model = $4, chunk_count = $5, embedded_at = now()`,
			a.NoteID, a.UserID, key, model, len(chunks)); err != nil {
			return fmt.Errorf("mark note embedded: %w", err)
		}
		if emb != nil {
			if err := s.queueIndexes(ctx, tx, a.UserID, emb); err != nil {
				return err
			}
		}
		written = true
		return run.complete(ctx, tx)
	})
	return written, err
}

// noteFailed records why embedding failed: the note stays pending while
// the job will retry, and is failed after its last attempt or when
// retrying cannot help.
func (s *Service) noteFailed(ctx context.Context, a EmbedNoteArgs, run JobRun, cause error) {
	status := "pending"
	if run.Final || permanent(cause) {
		status = "failed"
	}
	_, err := s.db.Pool.Exec(context.WithoutCancel(ctx), `UPDATE note_embeddings SET status = $3, error = $4 WHERE note_id = $1 AND user_id = $2`,
		a.NoteID, a.UserID, status, errorText(cause))
	if err != nil {
		s.logger.WarnContext(ctx, "record embedding failure", "note_id", a.NoteID, "error", err)
	}
}

// permanent reports whether retrying a failed model call cannot help (the
// same codes plugin.JobOutcome cancels on).
func permanent(err error) bool {
	var e *sdk.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case sdk.CodeNeedsReauth, sdk.CodeInvalidConfig, sdk.CodeNotFound, sdk.CodePermanent, sdk.CodeUnimplemented:
		return true
	}
	return false
}

// errorText is the error as shown in status endpoints: what the plugin
// said, without the host's wrapping.
func errorText(err error) string {
	var e *sdk.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}

// copyChunks writes chunks with COPY.
func copyChunks(ctx context.Context, tx pgx.Tx, userID uuid.UUID, noteID, docID *uuid.UUID, title string, chunks []Chunk, emb *embedded, hidden bool) error {
	rows := make([][]any, len(chunks))
	for i, c := range chunks {
		var n, d any
		if noteID != nil {
			n = *noteID
		}
		if docID != nil {
			d = *docID
		}
		blockIDs := c.BlockIDs
		if blockIDs == nil {
			blockIDs = []string{}
		}
		rows[i] = []any{userID, n, d, c.Position, blockIDs, title, c.Heading, c.Text, emb.model, pgvector.NewVector(emb.vectors[i]), hidden}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"},
		[]string{"user_id", "note_id", "document_id", "position", "block_ids", "title", "heading", "text", "embedding_model", "embedding", "hidden"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("write chunks: %w", err)
	}
	return nil
}

// queueIndexes makes sure the model's vector index exists, and the user's
// own when they have become a heavy user. It runs in the transaction that
// writes the chunks and completes the job, so that the build job exists as
// soon as the chunks do: nobody sees the queue empty in between.
func (s *Service) queueIndexes(ctx context.Context, tx db.Tx, userID uuid.UUID, emb *embedded) error {
	if err := s.queueVectorIndex(ctx, tx, emb.model, emb.dim, nil); err != nil {
		return fmt.Errorf("queue vector index: %w", err)
	}
	if err := s.maybeTenantIndex(ctx, tx, userID, emb.model, emb.dim); err != nil {
		return fmt.Errorf("queue user vector index: %w", err)
	}
	return nil
}
