package ai

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Document statuses.
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusReady      = "ready"
	StatusFailed     = "failed"
)

// Document is an uploaded document and where its processing stands.
type Document struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	Title     string
	Filename  string
	MediaType string
	SizeBytes int64
	Status    string
	// Error says why the last attempt failed (also while a retry is
	// pending).
	Error          string
	ChunkCount     int
	EmbeddingModel string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ProcessedAt    *time.Time
}

// ProcessDocumentArgs extracts, chunks and embeds one document (or, once
// its text is extracted, embeds its chunks again).
type ProcessDocumentArgs struct {
	DocumentID uuid.UUID `json:"document_id"`
	UserID     uuid.UUID `json:"user_id"`
	// Force embeds even when the chunks already have the current model.
	Force bool `json:"force,omitempty"`
}

func (ProcessDocumentArgs) Kind() string { return "ai.process_document" }

// AddDocumentParams is an upload.
type AddDocumentParams struct {
	// Title is optional: the document's own title (HTML <title>, first
	// Markdown heading, PDF title) or the file name is used instead.
	Title    string
	Filename string
	// MediaType is the declared type; the content decides in the end.
	MediaType string
	Data      []byte
}

const maxTitle = 500

const documentColumns = `id, user_id, title, filename, media_type, size_bytes, status, coalesce(error, ''),
	chunk_count, coalesce(embedding_model, ''), created_at, updated_at, processed_at`

func scanDocument(row pgx.Row) (*Document, error) {
	var d Document
	err := row.Scan(&d.ID, &d.UserID, &d.Title, &d.Filename, &d.MediaType, &d.SizeBytes, &d.Status, &d.Error,
		&d.ChunkCount, &d.EmbeddingModel, &d.CreatedAt, &d.UpdatedAt, &d.ProcessedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "document not found")
	}
	if err != nil {
		return nil, err
	}
	if d.Title == "" {
		d.Title = defaultTitle(d.Filename)
	}
	return &d, nil
}

func defaultTitle(filename string) string {
	if base := strings.TrimSuffix(filename, path.Ext(filename)); strings.TrimSpace(base) != "" {
		return base
	}
	return "Untitled document"
}

// AddDocument stores an upload and queues its processing, in one
// transaction.
func (s *Service) AddDocument(ctx context.Context, userID uuid.UUID, p *AddDocumentParams) (*Document, error) {
	title, err := field.Title("title", p.Title, maxTitle)
	if err != nil {
		return nil, err
	}
	filename := path.Base(strings.ReplaceAll(strings.TrimSpace(p.Filename), `\`, "/"))
	if filename == "." || filename == "/" {
		filename = ""
	}
	if utf8.RuneCountInString(filename) > 255 || !utf8.ValidString(filename) || strings.ContainsRune(filename, 0) {
		filename = ""
	}
	if len(p.Data) == 0 {
		return nil, apperr.Field("", "the document is empty", nil)
	}
	if int64(len(p.Data)) > s.cfg.MaxUploadBytes {
		return nil, apperr.Field("", fmt.Sprintf("the document is %d bytes; at most %d are accepted", len(p.Data), s.cfg.MaxUploadBytes), nil)
	}
	media := DetectMediaType(p.MediaType, filename, p.Data)
	if media == "" {
		return nil, apperr.Field("file", "must be plain text (UTF-8), Markdown, HTML or a PDF with a text layer", p.MediaType)
	}
	var d *Document
	err = s.db.InTx(ctx, func(tx db.Tx) error {
		var err error
		d, err = scanDocument(tx.QueryRow(ctx, `
			INSERT INTO documents (user_id, title, filename, media_type, size_bytes, source)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+documentColumns,
			userID, title, filename, media, len(p.Data), p.Data))
		if err != nil {
			return fmt.Errorf("insert document: %w", err)
		}
		_, err = tx.InsertJob(ctx, ProcessDocumentArgs{DocumentID: d.ID, UserID: userID}, s.insertOpts())
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// GetDocument returns one of the user's documents.
func (s *Service) GetDocument(ctx context.Context, userID, id uuid.UUID) (*Document, error) {
	return scanDocument(s.db.Pool.QueryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = $1 AND user_id = $2`, id, userID))
}

// ListDocumentsParams filter and page the document list.
type ListDocumentsParams struct {
	Limit  int
	Cursor string
	// Status keeps documents with this status; "" keeps all.
	Status string
}

// ListDocuments lists the user's documents, newest first.
func (s *Service) ListDocuments(ctx context.Context, userID uuid.UUID, p *ListDocumentsParams) (*page.Page[*Document], error) {
	l, err := page.NewList(p.Limit, p.Cursor, func(d *Document) page.CreatedKey { return page.CreatedKey{At: d.CreatedAt, ID: d.ID} })
	if err != nil {
		return nil, err
	}
	l.Where("user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if p.Status != "" {
		l.Where("status = @status", pgx.NamedArgs{"status": p.Status})
	}
	l.OrderBy(page.Desc, "created_at", "id")
	out, err := l.Fetch(ctx, s.db.Pool, `SELECT `+documentColumns+` FROM documents`, scanDocument)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	return out, nil
}

// DeleteDocument deletes a document and its chunks.
func (s *Service) DeleteDocument(ctx context.Context, userID, id uuid.UUID) error {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM documents WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("delete document %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.NotFound, "document not found")
	}
	return nil
}

// ProcessDocument extracts, chunks and embeds a document, or embeds its
// chunks again once it has been extracted (reindexing). A document that
// cannot be read is marked failed with the reason; that is not an error of
// the job.
func (s *Service) ProcessDocument(ctx context.Context, a ProcessDocumentArgs, run JobRun) error {
	var title, filename, media string
	var source []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT title, filename, media_type, source FROM documents WHERE id = $1 AND user_id = $2`,
		a.DocumentID, a.UserID).Scan(&title, &filename, &media, &source)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted
	}
	if err != nil {
		return fmt.Errorf("read document %s: %w", a.DocumentID, err)
	}
	var chunks []Chunk
	if source == nil {
		if chunks, err = s.storedChunks(ctx, a); err != nil {
			return err
		}
		if len(chunks) == 0 {
			return s.db.InTx(ctx, func(tx db.Tx) error { return run.complete(ctx, tx) })
		}
		if !a.Force && s.knownModel(ctx) != "" {
			var current bool
			if err := s.db.Pool.QueryRow(ctx, `SELECT bool_and(embedding_model = $2) FROM chunks WHERE document_id = $1`,
				a.DocumentID, s.currentModel()).Scan(&current); err == nil && current {
				return s.db.InTx(ctx, func(tx db.Tx) error { return run.complete(ctx, tx) })
			}
		}
	} else {
		if _, err := s.db.Pool.Exec(ctx, `UPDATE documents SET status = 'processing', updated_at = now() WHERE id = $1 AND user_id = $2`,
			a.DocumentID, a.UserID); err != nil {
			return fmt.Errorf("mark document processing: %w", err)
		}
		ex, err := Extract(media, source)
		if err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) {
				return s.db.InTx(ctx, func(tx db.Tx) error {
					if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'failed', error = $3, updated_at = now() WHERE id = $1 AND user_id = $2`,
						a.DocumentID, a.UserID, ae.Message); err != nil {
						return err
					}
					return run.complete(ctx, tx)
				})
			}
			return err
		}
		chunks = ChunkSections(ex.Sections)
		if title == "" {
			title = strings.TrimSpace(ex.Title)
			if utf8.RuneCountInString(title) > maxTitle {
				title = string([]rune(title)[:maxTitle])
			}
			if title == "" {
				title = defaultTitle(filename)
			}
		}
	}
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = EmbedText(title, c.Heading, c.Text)
	}
	emb, err := s.embed(ctx, texts)
	if err != nil {
		status := StatusPending
		if run.Final || permanent(err) {
			status = StatusFailed
		}
		if _, uerr := s.db.Pool.Exec(context.WithoutCancel(ctx), `UPDATE documents SET status = $3, error = $4, updated_at = now() WHERE id = $1 AND user_id = $2`,
			a.DocumentID, a.UserID, status, errorText(err)); uerr != nil {
			s.logger.WarnContext(ctx, "record document failure", "document_id", a.DocumentID, "error", uerr)
		}
		return err
	}
	return s.db.InTx(ctx, func(tx db.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM documents WHERE id = $1 AND user_id = $2 FOR UPDATE`, a.DocumentID, a.UserID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return run.complete(ctx, tx)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1 AND user_id = $2`, a.DocumentID, a.UserID); err != nil {
			return fmt.Errorf("delete chunks: %w", err)
		}
		if err := copyChunks(ctx, tx, a.UserID, nil, &a.DocumentID, title, chunks, emb, false); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE documents SET status = 'ready', error = NULL, title = $3, chunk_count = $4, embedding_model = $5,
				source = NULL, processed_at = now(), updated_at = now()
			WHERE id = $1 AND user_id = $2`, a.DocumentID, a.UserID, title, len(chunks), emb.model); err != nil {
			return fmt.Errorf("mark document ready: %w", err)
		}
		if err := s.queueIndexes(ctx, tx, a.UserID, emb); err != nil {
			return err
		}
		return run.complete(ctx, tx)
	})
}

// storedChunks reads a processed document's chunks back.
func (s *Service) storedChunks(ctx context.Context, a ProcessDocumentArgs) ([]Chunk, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT position, block_ids, heading, text FROM chunks
		WHERE document_id = $1 AND user_id = $2 ORDER BY position`, a.DocumentID, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Chunk, error) {
		var c Chunk
		err := r.Scan(&c.Position, &c.BlockIDs, &c.Heading, &c.Text)
		return c, err
	})
}
