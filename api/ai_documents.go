package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/page"
)

// Document is an uploaded document and where its processing stands.
type Document struct {
	ID             uuid.UUID  `json:"id"`
	Title          string     `json:"title" example:"Lease agreement" doc:"The title given at upload, else the document's own (HTML title, first Markdown heading, PDF title) once processed, else the file name."`
	Filename       string     `json:"filename" example:"lease.pdf"`
	MediaType      string     `json:"media_type" enum:"text/plain,text/markdown,text/html,application/pdf" doc:"What the server read the upload as."`
	SizeBytes      int64      `json:"size_bytes"`
	Status         string     `json:"status" enum:"pending,processing,ready,failed" doc:"pending: waiting for (or retrying) the job that extracts, chunks and embeds it; ready: searchable; failed: see error."`
	Error          string     `json:"error,omitempty" doc:"Why processing failed, or why the last attempt failed while a retry is pending."`
	ChunkCount     int        `json:"chunk_count" doc:"Passages indexed."`
	EmbeddingModel string     `json:"embedding_model,omitempty" example:"local/lexical-384" doc:"provider/model that embedded it."`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ProcessedAt    *time.Time `json:"processed_at"`
}

func toDocument(d *ai.Document) Document {
	return Document{ID: d.ID, Title: d.Title, Filename: d.Filename, MediaType: d.MediaType, SizeBytes: d.SizeBytes,
		Status: d.Status, Error: d.Error, ChunkCount: d.ChunkCount, EmbeddingModel: d.EmbeddingModel,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ProcessedAt: d.ProcessedAt}
}

// DocumentList is a page of documents.
type DocumentList page.Page[Document]

// DocumentTextRequest adds a document given as text.
type DocumentTextRequest struct {
	Title     string `json:"title,omitempty" maxLength:"500" example:"Meeting transcript"`
	Text      string `json:"text" minLength:"1" doc:"The document's text."`
	MediaType string `json:"media_type,omitempty" enum:"text/plain,text/markdown,text/html" default:"text/plain" doc:"How to read text."`
}

// DocumentUpload documents the multipart form of POST /ai/documents/process.
type DocumentUpload struct {
	File  string `json:"file" format:"binary" doc:"The document: plain text (UTF-8), Markdown, HTML or a PDF with a text layer."`
	Title string `json:"title,omitempty" maxLength:"500"`
}

type documentPath struct {
	DocumentID string `path:"document_id" format:"uuid" doc:"The document's id."`
}

func registerDocuments(authed huma.API, svc *ai.Service, maxUpload int64) {
	reg := authed.OpenAPI().Components.Schemas
	huma.Register(authed, huma.Operation{
		OperationID: "process-document", Method: http.MethodPost, Path: "/ai/documents/process",
		Summary: "Add a document", Tags: aiTags, DefaultStatus: http.StatusAccepted,
		Description: fmt.Sprintf("Adds a document to what can be asked: upload a file as multipart/form-data (field file, "+
			"optional title), or send JSON {title, text}. Plain text (UTF-8), Markdown, HTML and PDFs with a text layer are read; "+
			"at most %d bytes. Answers 202 at once: a background job extracts, chunks and embeds it; follow its status with "+
			"GET /ai/documents/{document_id}.", maxUpload),
		MaxBodyBytes:    maxUpload + uploadOverhead,
		BodyReadTimeout: uploadReadTimeout,
		// The body is read here: multipart or JSON (the schemas document
		// them).
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: reg.Schema(reflect.TypeFor[DocumentUpload](), true, "DocumentUpload"),
				// A plain-text file, so the example can hold it.
				Example: map[string]any{"title": "Plumbing", "file": "The plumber comes on Tuesday at 9."}},
			"application/json": {Schema: reg.Schema(reflect.TypeFor[DocumentTextRequest](), true, "DocumentTextRequest"),
				Example: map[string]any{"title": "Kick-off notes", "media_type": "text/markdown",
					"text": "# Kick-off\n\nThe plumber comes on Tuesday at 9. Sam books the venue by Friday."}},
		}},
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"multipart/form-data"`
	}) (*struct{ Body Document }, error) {
		p, err := readDocumentUpload(in.ContentType, in.RawBody, maxUpload)
		if err != nil {
			return nil, err
		}
		d, err := svc.AddDocument(ctx, principal(ctx).User.ID, p)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Document }{Body: toDocument(d)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-documents", Method: http.MethodGet, Path: "/ai/documents",
		Summary: "List documents", Tags: aiTags,
		Description: "The signed-in user's documents, newest first, with their processing status.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page."`
		Status string `query:"status" enum:"pending,processing,ready,failed" doc:"Only documents with this status."`
	}) (*struct{ Body DocumentList }, error) {
		res, err := svc.ListDocuments(ctx, principal(ctx).User.ID, &ai.ListDocumentsParams{Limit: in.Limit, Cursor: in.Cursor, Status: in.Status})
		if err != nil {
			return nil, err
		}
		return &struct{ Body DocumentList }{Body: DocumentList(page.Map(res, toDocument))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-document", Method: http.MethodGet, Path: "/ai/documents/{document_id}",
		Summary: "Get a document", Tags: aiTags,
		Description: "One document and where its processing stands: pending, processing, ready, or failed with the error.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *documentPath) (*struct{ Body Document }, error) {
		id, err := parseID(in.DocumentID, "document")
		if err != nil {
			return nil, err
		}
		d, err := svc.GetDocument(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Document }{Body: toDocument(d)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-document", Method: http.MethodDelete, Path: "/ai/documents/{document_id}",
		Summary: "Delete a document", Tags: aiTags, DefaultStatus: http.StatusNoContent,
		Description: "Deletes the document and its passages; they stop appearing in searches at once.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *documentPath) (*struct{}, error) {
		id, err := parseID(in.DocumentID, "document")
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteDocument(ctx, principal(ctx).User.ID, id)
	})
}

// readDocumentUpload reads POST /ai/documents/process: a multipart form
// with a file, or JSON with text.
func readDocumentUpload(contentType string, body []byte, maxUpload int64) (*ai.AddDocumentParams, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/json":
		var req DocumentTextRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return nil, apperr.Field("", "must be a JSON object {title, text, media_type}: "+err.Error(), nil)
		}
		if strings.TrimSpace(req.Text) == "" {
			return nil, apperr.Field("text", "must not be empty", nil)
		}
		if int64(len(req.Text)) > maxUpload {
			return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf("the document is larger than %d bytes", maxUpload))
		}
		switch req.MediaType {
		case "", ai.MediaText, ai.MediaMarkdown, ai.MediaHTML:
		default:
			return nil, apperr.Field("media_type", "must be text/plain, text/markdown or text/html", req.MediaType)
		}
		return &ai.AddDocumentParams{Title: req.Title, MediaType: req.MediaType, Data: []byte(req.Text)}, nil
	case "multipart/form-data":
		form, err := readForm(contentType, body, map[string]int64{"file": maxUpload})
		if err != nil {
			return nil, err
		}
		f, ok := form.files["file"]
		if !ok {
			return nil, apperr.Field("file", "is required: send the document as the multipart field file", nil)
		}
		return &ai.AddDocumentParams{Title: form.value("title"), Filename: f.filename, MediaType: f.contentType, Data: f.data}, nil
	default:
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "send multipart/form-data with a file, or application/json with text",
			Fields: []apperr.FieldError{{In: "header", Location: "Content-Type", Message: "must be multipart/form-data or application/json", Value: contentType}}}
	}
}
