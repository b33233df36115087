package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/page"
)

var aiTags = []string{"ai"}

// uploadOverhead is what a multipart body may hold besides the file
// (boundaries, part headers, the other fields).
const uploadOverhead = 256 << 10

// uploadReadTimeout is how long an upload may take to arrive.
const uploadReadTimeout = 2 * time.Minute

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

// DocumentList is a page of documents.
type DocumentList page.Page[Document]

func toDocument(d *ai.Document) Document {
	return Document{ID: d.ID, Title: d.Title, Filename: d.Filename, MediaType: d.MediaType, SizeBytes: d.SizeBytes,
		Status: d.Status, Error: d.Error, ChunkCount: d.ChunkCount, EmbeddingModel: d.EmbeddingModel,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, ProcessedAt: d.ProcessedAt}
}

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

// TranscribeForm documents the multipart form of POST /ai/transcribe.
type TranscribeForm struct {
	Image      string `json:"image" format:"binary" doc:"A PNG, JPEG or WebP image: a photo or scan of a page, a screenshot."`
	CreateNote bool   `json:"create_note,omitempty" doc:"Also save the result as a new note (its task lines enter the task index)."`
	Title      string `json:"title,omitempty" maxLength:"500" doc:"Title of the new note; default: the first heading read, else \"Transcription <date>\"."`
	Tags       string `json:"tags,omitempty" doc:"Tags of the new note, comma-separated (or repeat the field)."`
	Language   string `json:"language,omitempty" example:"de" doc:"BCP 47 hint of the page's language."`
}

// RAGQuery asks the user's own notes and documents.
type RAGQuery struct {
	Query   string      `json:"query" minLength:"1" maxLength:"2000" example:"When is the plumber coming?"`
	K       int         `json:"k,omitempty" minimum:"1" maximum:"50" default:"8" doc:"How many passages to return."`
	Sources []string    `json:"sources,omitempty" maxItems:"2" doc:"Where to look: notes, documents or both (the default, or notes only when note_ids or tags are given)." enum:"notes,documents"`
	NoteIDs []uuid.UUID `json:"note_ids,omitempty" maxItems:"200" doc:"Only these notes."`
	Tags    []string    `json:"tags,omitempty" maxItems:"20" doc:"Only notes with at least one of these tags."`
	Answer  bool        `json:"answer,omitempty" doc:"Have the chat model write an answer from the passages, citing them as [1], [2], ..."`
}

// PassageSource is where a passage comes from.
type PassageSource struct {
	Type     string    `json:"type" enum:"note,document"`
	ID       uuid.UUID `json:"id"`
	Title    string    `json:"title"`
	Section  string    `json:"section,omitempty" example:"Trip › Packing" doc:"The headings above the passage, or the page of a PDF (\"page 3\")."`
	BlockIDs []string  `json:"block_ids" doc:"The note blocks the passage comes from, to highlight or link them; empty for documents."`
}

// Passage is a retrieved passage.
type Passage struct {
	Text   string        `json:"text"`
	Score  float64       `json:"score" doc:"Fused rank score (reciprocal rank fusion of vector and full-text search); higher is better, comparable within one response."`
	Source PassageSource `json:"source"`
}

// RAGAnswer is the answer the chat model wrote.
type RAGAnswer struct {
	Text      string `json:"text" doc:"Markdown, citing passages by their 1-based index as [n]."`
	Provider  string `json:"provider" example:"openai"`
	Model     string `json:"model" example:"gpt-4o-mini"`
	Citations []int  `json:"citations" doc:"Indexes (1-based) of the passages the text cites, in order of first citation."`
}

// RAGResult is the answer to a RAG query.
type RAGResult struct {
	Passages []Passage  `json:"passages"`
	Answer   *RAGAnswer `json:"answer,omitempty" doc:"Present when answer was true."`
	Warnings []string   `json:"warnings" doc:"What was left out, such as vector search while the embedding model is unavailable."`
}

// IndexCounts counts sources by where they stand in the index.
type IndexCounts struct {
	Total      int `json:"total"`
	Indexed    int `json:"indexed" doc:"Embedded and searchable."`
	Pending    int `json:"pending" doc:"Waiting for a job or retrying after an error."`
	Failed     int `json:"failed" doc:"Not retried until they change or are reindexed."`
	NotIndexed int `json:"not_indexed" doc:"Notes never queued (written before retrieval existed); an admin runs consilium ai reindex."`
	Outdated   int `json:"outdated" doc:"Embedded by another model than the current one: found by text only until reindexed."`
}

// IndexStatus is the health of the user's index.
type IndexStatus struct {
	Notes          IndexCounts `json:"notes"`
	Documents      IndexCounts `json:"documents"`
	Chunks         int         `json:"chunks" doc:"Passages indexed."`
	EmbeddingModel string      `json:"embedding_model,omitempty" example:"local/lexical-384" doc:"The embedding model in use (provider/model), once known."`
	LastError      string      `json:"last_error,omitempty" doc:"The latest error of a pending or failed note or document."`
}

// Transcription is the text read from an image.
type Transcription struct {
	Text   string            `json:"text" doc:"The text as read, checkboxes written [ ] and [x]."`
	Blocks BlockNoteDocument `json:"blocks" doc:"The text as BlockNote blocks: headings, paragraphs, list items, and task lines as checkListItem blocks (checked for [x] and ☑)."`
	Note   *NoteJSON         `json:"note,omitempty" doc:"The note created, with create_note."`
}

// Agent is a chat agent.
type Agent struct {
	Name        string   `json:"name" example:"assistant"`
	Description string   `json:"description"`
	Provider    string   `json:"provider" example:"openai" doc:"The model provider plugin it talks through."`
	Model       string   `json:"model" doc:"Model id; empty: the provider's default."`
	Tools       []string `json:"tools" example:"[\"search\",\"create_task\"]"`
	Available   bool     `json:"available" doc:"Whether its provider is running right now."`
}

type documentPath struct {
	DocumentID string `path:"document_id" format:"uuid" doc:"The document's id."`
}

func registerAI(authed huma.API, svc *ai.Service) {
	limits := svc.Limits()
	registerDocuments(authed, svc, limits.MaxUploadBytes)

	huma.Register(authed, huma.Operation{
		OperationID: "query-rag", Method: http.MethodPost, Path: "/ai/rag/query",
		Summary: "Ask your notes and documents", Tags: aiTags,
		Description: "Finds the passages of the signed-in user's notes and documents that best match the query: " +
			"vector search (filtered to the user inside the index scan) and full-text search (rare words weigh more), " +
			"fused by reciprocal rank fusion, so exact names and codes are found as well as near spellings. " +
			"Each passage names its source and, for notes, the blocks it comes from. With answer: true the configured " +
			"chat model writes an answer that cites the passages by index. If the embedding model is unavailable, " +
			"full-text results come back with a warning; if the chat model is, the request fails with 503.",
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct{ Body RAGQuery }) (*struct{ Body RAGResult }, error) {
		b := in.Body
		res, err := svc.Query(ctx, principal(ctx).User.ID, &ai.QueryParams{Answer: b.Answer, SearchParams: ai.SearchParams{
			Query: b.Query, K: b.K, Sources: b.Sources, NoteIDs: b.NoteIDs, Tags: b.Tags}})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body RAGResult }{Body: RAGResult{Passages: []Passage{}, Warnings: res.Warnings}}
		for _, p := range res.Passages {
			out.Body.Passages = append(out.Body.Passages, Passage{Text: p.Text, Score: p.Score, Source: PassageSource{
				Type: p.SourceType, ID: p.SourceID, Title: p.Title, Section: p.Heading, BlockIDs: nonNil(p.BlockIDs)}})
		}
		if a := res.Answer; a != nil {
			out.Body.Answer = &RAGAnswer{Text: a.Text, Provider: a.Provider, Model: a.Model, Citations: nonNil(a.Citations)}
		}
		return out, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-index-status", Method: http.MethodGet, Path: "/ai/index/status",
		Summary: "Index health", Tags: aiTags,
		Description: "How many of the signed-in user's notes and documents are indexed, pending and failed, " +
			"the number of passages and the latest error, so the frontend can show that search is up to date.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body IndexStatus }, error) {
		st, err := svc.IndexStatus(ctx, principal(ctx).User.ID)
		if err != nil {
			return nil, err
		}
		counts := func(c ai.SourceCounts) IndexCounts {
			return IndexCounts{Total: c.Total, Indexed: c.Indexed, Pending: c.Pending, Failed: c.Failed, NotIndexed: c.NotIndexed, Outdated: c.Outdated}
		}
		return &struct{ Body IndexStatus }{Body: IndexStatus{Notes: counts(st.Notes), Documents: counts(st.Documents),
			Chunks: st.Chunks, EmbeddingModel: st.EmbeddingModel, LastError: st.LastError}}, nil
	})

	registerTranscribe(authed, svc, limits.MaxImageBytes)

	listAgents := func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Agents []Agent `json:"agents"`
		}
	}, error) {
		out := &struct {
			Body struct {
				Agents []Agent `json:"agents"`
			}
		}{}
		out.Body.Agents = []Agent{}
		for _, a := range svc.Agents() {
			out.Body.Agents = append(out.Body.Agents, Agent{Name: a.Name, Description: a.Description, Provider: a.Provider,
				Model: a.Model, Tools: nonNil(a.Tools), Available: a.Available})
		}
		return out, nil
	}
	agentsDoc := "The agents configured for chat (ai.agents in the server config; by default one \"assistant\"): " +
		"name, description, model provider and model, the tools it may use, and whether its provider is running."
	huma.Register(authed, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/ai/agents",
		Summary: "List agents", Tags: aiTags, Description: agentsDoc}, listAgents)
	huma.Register(authed, huma.Operation{OperationID: "list-agents-post", Method: http.MethodPost, Path: "/ai/agents",
		Summary: "List agents (POST)", Tags: aiTags, Description: agentsDoc + " Same as GET, for clients that only POST."}, listAgents)
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
			"multipart/form-data": {Schema: reg.Schema(reflect.TypeFor[DocumentUpload](), true, "DocumentUpload")},
			"application/json":    {Schema: reg.Schema(reflect.TypeFor[DocumentTextRequest](), true, "DocumentTextRequest")},
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

func registerTranscribe(authed huma.API, svc *ai.Service, maxImage int64) {
	reg := authed.OpenAPI().Components.Schemas
	huma.Register(authed, huma.Operation{
		OperationID: "transcribe-image", Method: http.MethodPost, Path: "/ai/transcribe",
		Summary: "Transcribe an image", Tags: aiTags,
		Description: fmt.Sprintf("Reads the text in an image (multipart/form-data, the image in field image: PNG, JPEG or WebP, "+
			"at most %d bytes) with the configured transcription model and returns it as text and as BlockNote blocks: "+
			"lines that look like tasks ([ ], [x], - [ ], ☐, ☑, TODO) become checkListItem blocks. With create_note=true "+
			"the blocks are saved as a new note, whose tasks enter the task index like any other. "+
			"503 when no transcription model is available.", maxImage),
		MaxBodyBytes:     maxImage + uploadOverhead,
		BodyReadTimeout:  uploadReadTimeout,
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"multipart/form-data": {Schema: reg.Schema(reflect.TypeFor[TranscribeForm](), true, "TranscribeForm")},
		}},
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct {
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"multipart/form-data"`
	}) (*struct{ Body Transcription }, error) {
		form, err := readForm(in.ContentType, in.RawBody, map[string]int64{"image": maxImage})
		if err != nil {
			return nil, err
		}
		p := &ai.TranscribeParams{Image: form.files["image"].data, Title: form.value("title"), Language: form.value("language")}
		if v := form.value("create_note"); v != "" {
			if p.CreateNote, err = strconv.ParseBool(v); err != nil {
				return nil, apperr.Field("create_note", "must be true or false", v)
			}
		}
		for _, t := range form.values["tags"] {
			for _, tag := range strings.Split(t, ",") {
				if tag = strings.TrimSpace(tag); tag != "" {
					p.Tags = append(p.Tags, tag)
				}
			}
		}
		if _, ok := form.files["image"]; !ok {
			return nil, apperr.Field("image", "is required: send the image as the multipart field image", nil)
		}
		tr, err := svc.Transcribe(ctx, principal(ctx).User.ID, p)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body Transcription }{Body: Transcription{Text: tr.Text, Blocks: BlockNoteDocument(ai.MarshalBlocks(tr.Blocks))}}
		if tr.Note != nil {
			n := toNoteJSON(tr.Note)
			out.Body.Note = &n
		}
		return out, nil
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

type formFile struct {
	filename, contentType string
	data                  []byte
}

type form struct {
	files  map[string]formFile
	values map[string][]string
}

func (f *form) value(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// maxFormValue bounds a non-file field.
const maxFormValue = 64 << 10

// readForm reads a multipart body already read into memory. Files may
// only come in the named fields, each at most its limit (413 above it).
func readForm(contentType string, body []byte, fileLimits map[string]int64) (*form, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "send the request as multipart/form-data",
			Fields: []apperr.FieldError{{In: "header", Location: "Content-Type", Message: "must be multipart/form-data with a boundary", Value: contentType}}}
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	out := &form{files: map[string]formFile{}, values: map[string][]string{}}
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, apperr.Field("", "is not a valid multipart form: "+err.Error(), nil)
		}
		name := part.FormName()
		if limit, isFile := fileLimits[name]; isFile {
			data, err := io.ReadAll(io.LimitReader(part, limit+1))
			if err != nil {
				return nil, apperr.Field(name, "cannot be read: "+err.Error(), nil)
			}
			if int64(len(data)) > limit {
				return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf("%s is larger than %d bytes", name, limit))
			}
			if _, dup := out.files[name]; dup {
				return nil, apperr.Field(name, "must be sent once", nil)
			}
			out.files[name] = formFile{filename: part.FileName(), contentType: part.Header.Get("Content-Type"), data: data}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
		if err != nil || len(v) > maxFormValue {
			return nil, apperr.Field(name, fmt.Sprintf("must be at most %d bytes", maxFormValue), nil)
		}
		out.values[name] = append(out.values[name], string(v))
	}
}
