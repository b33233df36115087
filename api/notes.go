package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/page"
)

// NoteJSON is a note with its content.
type NoteJSON struct {
	ID          uuid.UUID   `json:"id"`
	UserID      uuid.UUID   `json:"user_id"`
	Title       string      `json:"title" example:"Week plan"`
	Content     NoteContent `json:"content"`
	ParentID    *uuid.UUID  `json:"parent_id" nullable:"true" doc:"The note this one is nested under; null at the top level."`
	Tags        []string    `json:"tags" example:"[\"work\",\"health\"]"`
	LinkedNotes []uuid.UUID `json:"linked_notes" doc:"Notes the content links to (links whose href is note://<uuid>), derived from the content."`
	IsPinned    bool        `json:"is_pinned"`
	IsArchived  bool        `json:"is_archived"`
	Metadata    JSONObject  `json:"metadata"`
	IsInbox     bool        `json:"is_inbox" doc:"True on the Inbox note, which receives tasks created without a note."`
	Version     int         `json:"version" doc:"Increases by one on every change; sent as the ETag."`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// NoteSummaryJSON is a note in a list: a short plain-text preview instead
// of the content.
type NoteSummaryJSON struct {
	ID          uuid.UUID   `json:"id"`
	UserID      uuid.UUID   `json:"user_id"`
	Title       string      `json:"title"`
	Preview     string      `json:"preview" doc:"The start of the note's text, on one line (at most 200 characters)."`
	ParentID    *uuid.UUID  `json:"parent_id" nullable:"true" doc:"The note this one is nested under; null at the top level."`
	Tags        []string    `json:"tags"`
	LinkedNotes []uuid.UUID `json:"linked_notes"`
	IsPinned    bool        `json:"is_pinned"`
	IsArchived  bool        `json:"is_archived"`
	Metadata    JSONObject  `json:"metadata"`
	IsInbox     bool        `json:"is_inbox"`
	Version     int         `json:"version"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toNoteJSON(n *note.Note) NoteJSON {
	return NoteJSON{
		ID: n.ID, UserID: n.UserID, Title: n.Title, Content: NoteContent(n.Content), ParentID: n.ParentID,
		Tags: nonNil(n.Tags), LinkedNotes: nonNil(n.LinkedNotes), IsPinned: n.IsPinned, IsArchived: n.IsArchived,
		Metadata: JSONObject(n.Metadata), IsInbox: n.SystemKey == note.SystemKeyInbox, Version: n.Version,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
}

func toNoteSummary(n *note.Note) NoteSummaryJSON {
	return NoteSummaryJSON{
		ID: n.ID, UserID: n.UserID, Title: n.Title, Preview: n.Preview, ParentID: n.ParentID,
		Tags: nonNil(n.Tags), LinkedNotes: nonNil(n.LinkedNotes), IsPinned: n.IsPinned, IsArchived: n.IsArchived,
		Metadata: JSONObject(n.Metadata), IsInbox: n.SystemKey == note.SystemKeyInbox, Version: n.Version,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
}

// optionalNoteID reads body.parent_id.
func optionalNoteID(s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := field.ID("parent_id", s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// NoteCreateRequest is a new note; every field may be left out.
type NoteCreateRequest struct {
	Title      string            `json:"title,omitempty" maxLength:"500" example:"Week plan"`
	Content    BlockNoteDocument `json:"content,omitempty"`
	ParentID   string            `json:"parent_id,omitempty" format:"uuid" doc:"Nest the note under this one."`
	Tags       []string          `json:"tags,omitempty" maxItems:"50" doc:"Tag names, at most 64 characters each."`
	IsPinned   bool              `json:"is_pinned,omitempty"`
	IsArchived bool              `json:"is_archived,omitempty"`
	Metadata   JSONObject        `json:"metadata,omitempty"`
}

// NoteUpdateRequest changes only the fields sent.
type NoteUpdateRequest struct {
	Title      *string            `json:"title,omitempty" maxLength:"500"`
	Content    BlockNoteDocument  `json:"content,omitempty" doc:"The whole new document."`
	ParentID   patchValue[string] `json:"parent_id,omitempty" format:"uuid" doc:"null moves the note to the top level."`
	Tags       *[]string          `json:"tags,omitempty" maxItems:"50" doc:"Replaces the tags."`
	IsPinned   *bool              `json:"is_pinned,omitempty"`
	IsArchived *bool              `json:"is_archived,omitempty"`
	Metadata   JSONObject         `json:"metadata,omitempty" doc:"Replaces the metadata."`
}

type noteOutput struct {
	ETag string `header:"ETag" doc:"The note's version, to send back as If-Match."`
	Body NoteJSON
}

func noteOut(n *note.Note) *noteOutput {
	return &noteOutput{ETag: versionETag(n.Version), Body: toNoteJSON(n)}
}

// noteCreatedOutput is the 201 of create-note.
type noteCreatedOutput struct {
	Location string `header:"Location" doc:"The new note: /api/notes/{note_id}."`
	ETag     string `header:"ETag" doc:"The note's version, to send back as If-Match."`
	Body     NoteJSON
}

// NoteList is a page of notes.
type NoteList page.Page[NoteSummaryJSON]

type noteListOutput struct {
	Body NoteList
}

type notePath struct {
	NoteID string `path:"note_id" doc:"The note's id." format:"uuid"`
}

type noteWrite struct {
	NoteID  string `path:"note_id" doc:"The note's id." format:"uuid"`
	IfMatch string `header:"If-Match" doc:"The ETag of the version this change is based on; a stale one answers 412."`
}

const noteMaxBody = blocknote.MaxBytes + 128<<10

// largeDocumentBody is for the operations that take a whole document. Huma's
// body validation decodes the body into generic maps before decoding it
// again into the input struct, which for a 230 KB document costs more than
// saving it; these operations skip it (SkipValidateBody) and validate every
// field themselves (the document with block paths, in core). This keeps
// what the skipped pass gave: 413 over the limit, 400 for malformed JSON and
// 422 for a member the body type does not have (the schema says
// additionalProperties: false).
func largeDocumentBody(api huma.API, body any) func(huma.Context, func(huma.Context)) {
	known := jsonMembers(reflect.TypeOf(body))
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		if op.BodyReadTimeout > 0 {
			_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
		}
		r, _ := humago.Unwrap(ctx)
		body, err := io.ReadAll(io.LimitReader(r.Body, op.MaxBodyBytes+1))
		switch {
		case isTimeout(err):
			_ = huma.WriteErr(api, ctx, http.StatusRequestTimeout, "request body read timeout")
			return
		case err != nil:
			_ = huma.WriteErr(api, ctx, http.StatusBadRequest, "cannot read request body", err)
			return
		case int64(len(body)) > op.MaxBodyBytes:
			_ = huma.WriteErr(api, ctx, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is too large limit=%d bytes", op.MaxBodyBytes))
			return
		}
		if len(body) > 0 {
			unknown, valid := checkBody(body, known)
			if !valid {
				var v any
				msg := "invalid JSON"
				if err := json.Unmarshal(body, &v); err != nil {
					msg = err.Error()
				}
				_ = huma.WriteErr(api, ctx, http.StatusBadRequest, "validation failed",
					&huma.ErrorDetail{Location: "body", Message: msg})
				return
			}
			if unknown != "" {
				_ = huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "validation failed",
					&huma.ErrorDetail{Location: "body." + unknown, Message: "unexpected property"})
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(ctx)
	}
}

var noteTags = []string{"notes"}

func registerNotes(authed huma.API, notes *note.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-notes", Method: http.MethodGet, Path: "/notes",
		Summary: "List notes", Tags: noteTags,
		Description: "The signed-in user's notes, newest change first by default, with a short plain-text preview " +
			"instead of the content. Archived notes are left out unless is_archived=true (or any). " +
			"Page with next_cursor; the cursor is opaque and stable while notes are added.",
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor     string `query:"cursor" doc:"next_cursor of the previous page."`
		Q          string `query:"q" maxLength:"500" doc:"Full-text search over title and text (words, \"phrases\", -exclusions, or)."`
		Tag        string `query:"tag" maxLength:"64" doc:"Only notes with this tag."`
		ParentID   string `query:"parent_id" doc:"Only the children of this note; 'root' for top-level notes."`
		IsPinned   string `query:"is_pinned" enum:"true,false" doc:"Only pinned (true) or unpinned (false) notes."`
		IsArchived string `query:"is_archived" enum:"false,true,any" default:"false" doc:"Archived notes are hidden unless asked for."`
		Sort       string `query:"sort" enum:"-updated_at,updated_at,-created_at,created_at,title,-title" default:"-updated_at" doc:"Sort key; a leading - sorts descending."`
	}) (*noteListOutput, error) {
		p := &note.ListParams{Limit: in.Limit, Cursor: in.Cursor, Q: in.Q, Tag: in.Tag, Sort: in.Sort}
		switch in.ParentID {
		case "":
		case "root":
			p.Root = true
		default:
			id, err := uuid.Parse(in.ParentID)
			if err != nil {
				return nil, apperr.Field("parent_id", "must be a note id or 'root'", in.ParentID)
			}
			p.ParentID = &id
		}
		if in.IsPinned != "" {
			v := in.IsPinned == "true"
			p.IsPinned = &v
		}
		switch in.IsArchived {
		case "any":
			p.AnyArchived = true
		case "true":
			v := true
			p.IsArchived = &v
		}
		res, err := notes.List(ctx, principal(ctx).User.ID, p)
		if err != nil {
			return nil, err
		}
		return &noteListOutput{Body: NoteList(page.Map(res, toNoteSummary))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-note", Method: http.MethodPost, Path: "/notes",
		Summary: "Create a note", Tags: noteTags, DefaultStatus: http.StatusCreated,
		Description: "Creates a note; every field may be left out (an untitled, empty note). content is a BlockNote " +
			"document as the editor gives it, or in BlockNote's partial form (a block needs only its type; string " +
			"content is plain text), saved in full form. Task blocks in the content (checkListItem, task) are " +
			"indexed at once (see GET /tasks). A malformed document answers 422 naming the block path, e.g. " +
			"body.content[3].children[0].props.status. Answers 201 with the note, its Location and ETag.",
		RequestBody: jsonExample(map[string]any{
			"title": "Week plan",
			"content": []any{
				map[string]any{"type": "heading", "props": map[string]any{"level": 2}, "content": "This week"},
				map[string]any{"type": "checkListItem", "content": "Book the dentist"},
				map[string]any{"type": "task", "props": map[string]any{"status": "in_progress", "priority": "high", "dueDate": "2026-03-06"},
					"content": "Draft the quarterly report"},
				map[string]any{"type": "paragraph", "content": []any{"Ask ", map[string]any{"type": "text", "text": "Sam", "styles": map[string]any{"bold": true}}, " about the venue."}},
			},
			"tags": []string{"work"},
		}),
		MaxBodyBytes: noteMaxBody, SkipValidateBody: true,
		Middlewares: huma.Middlewares{largeDocumentBody(authed, NoteCreateRequest{})},
		Errors:      []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct{ Body NoteCreateRequest }) (*noteCreatedOutput, error) {
		b := in.Body
		parent, err := optionalNoteID(b.ParentID)
		if err != nil {
			return nil, err
		}
		n, err := notes.Create(ctx, principal(ctx).User.ID, &note.CreateParams{
			Title: b.Title, Content: []byte(b.Content), ParentID: parent, Tags: b.Tags,
			IsPinned: b.IsPinned, IsArchived: b.IsArchived, Metadata: []byte(b.Metadata),
		})
		if err != nil {
			return nil, err
		}
		out := noteOut(n)
		return &noteCreatedOutput{Location: apiPrefix + "/notes/" + n.ID.String(), ETag: out.ETag, Body: out.Body}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-note", Method: http.MethodGet, Path: "/notes/{note_id}",
		Summary: "Get a note", Tags: noteTags,
		Description: "The note with its content, ready to load into the editor. The ETag header carries its version, " +
			"to send back as If-Match with a change.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *notePath) (*noteOutput, error) {
		id, err := parseID(in.NoteID, "note")
		if err != nil {
			return nil, err
		}
		n, err := notes.Get(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return noteOut(n), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-note", Method: http.MethodPut, Path: "/notes/{note_id}",
		Summary: "Change a note", Tags: noteTags,
		Description: "Only the fields sent change; parent_id null moves the note to the top level, and a parent_id " +
			"nested inside the note itself (at any depth) answers 422: notes nest without a depth limit, never in a cycle. Every change " +
			"makes a new version (the previous one stays in the history); a change that changes nothing makes none and " +
			"keeps the version and ETag. Content and metadata are compared as JSON values: sending back what GET " +
			"answered, in any key order or spacing, is no change. " +
			"Sending content re-indexes the note's tasks in the same transaction. With If-Match, a stale version answers 412.",
		MaxBodyBytes: noteMaxBody, SkipValidateBody: true,
		Middlewares: huma.Middlewares{largeDocumentBody(authed, NoteUpdateRequest{})},
		RequestBody: jsonExample(map[string]any{
			"title":     "Week plan (revised)",
			"content":   []any{map[string]any{"type": "checkListItem", "props": map[string]any{"checked": true}, "content": "Book the dentist"}},
			"is_pinned": true,
		}),
		Errors: []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		NoteID  string `path:"note_id" doc:"The note's id." format:"uuid"`
		IfMatch string `header:"If-Match" doc:"The ETag of the version this change is based on; a stale one answers 412."`
		Body    NoteUpdateRequest
	}) (*noteOutput, error) {
		id, ifv, err := writeTarget(in.NoteID, "note", in.IfMatch)
		if err != nil {
			return nil, err
		}
		b := in.Body
		p := &note.UpdateParams{Title: b.Title, Tags: b.Tags, IsPinned: b.IsPinned, IsArchived: b.IsArchived, IfVersion: ifv}
		if b.Content != nil {
			p.Content = []byte(b.Content)
		}
		if b.Metadata != nil {
			p.Metadata = []byte(b.Metadata)
		}
		if b.ParentID.Set {
			p.SetParent = true
			if !b.ParentID.Null {
				if p.ParentID, err = optionalNoteID(b.ParentID.Value); err != nil {
					return nil, err
				}
			}
		}
		n, err := notes.Update(ctx, principal(ctx).User.ID, id, p)
		if err != nil {
			return nil, err
		}
		return noteOut(n), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-note", Method: http.MethodDelete, Path: "/notes/{note_id}",
		Summary: "Delete a note", Tags: noteTags, DefaultStatus: http.StatusNoContent,
		Description: "Deletes the note with its history and its tasks. Notes nested under it move to the top level. " +
			"With If-Match, a stale version answers 412.",
		Errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
	}, func(ctx context.Context, in *noteWrite) (*struct{}, error) {
		id, ifv, err := writeTarget(in.NoteID, "note", in.IfMatch)
		if err != nil {
			return nil, err
		}
		return nil, notes.Delete(ctx, principal(ctx).User.ID, id, ifv)
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-note-backlinks", Method: http.MethodGet, Path: "/notes/{note_id}/backlinks",
		Summary: "Notes that link to a note", Tags: noteTags,
		Description: "The signed-in user's notes whose content links to this one (href note://<id>), most recently " +
			"changed first (at most 500).",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *notePath) (*noteListOutput, error) {
		id, err := parseID(in.NoteID, "note")
		if err != nil {
			return nil, err
		}
		items, err := notes.Backlinks(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		out := &noteListOutput{}
		out.Body.Items = make([]NoteSummaryJSON, len(items))
		for i, n := range items {
			out.Body.Items[i] = toNoteSummary(n)
		}
		return out, nil
	})

	registerNoteVersions(authed, notes)
}

// NoteVersionJSON is one version in a note's history.
type NoteVersionJSON struct {
	NoteID       uuid.UUID    `json:"note_id"`
	Version      int          `json:"version"`
	Title        string       `json:"title"`
	Content      *NoteContent `json:"content,omitempty" doc:"Present when one version is asked for."`
	ParentID     *uuid.UUID   `json:"parent_id" nullable:"true" doc:"The note's parent in this version; null at the top level."`
	Tags         []string     `json:"tags"`
	IsPinned     bool         `json:"is_pinned"`
	IsArchived   bool         `json:"is_archived"`
	Metadata     JSONObject   `json:"metadata"`
	Change       string       `json:"change" enum:"create,update,restore,task_create,task_update,task_delete" doc:"What made this version."`
	RestoredFrom *int         `json:"restored_from,omitempty" doc:"On a restore: the version brought back."`
	CreatedAt    time.Time    `json:"created_at"`
}

func toVersionJSON(v *note.Version) NoteVersionJSON {
	out := NoteVersionJSON{
		NoteID: v.NoteID, Version: v.Version, Title: v.Title, ParentID: v.ParentID, Tags: nonNil(v.Tags),
		IsPinned: v.IsPinned, IsArchived: v.IsArchived, Metadata: JSONObject(v.Metadata), Change: string(v.Change),
		RestoredFrom: v.RestoredFrom, CreatedAt: v.CreatedAt,
	}
	if v.Content != nil {
		c := NoteContent(v.Content)
		out.Content = &c
	}
	return out
}

// NoteVersionList is a page of a note's history.
type NoteVersionList page.Page[NoteVersionJSON]

type versionPath struct {
	NoteID  string `path:"note_id" doc:"The note's id." format:"uuid"`
	Version int    `path:"version" minimum:"1" doc:"A version number from the note's history; any other number answers 404."`
}

func registerNoteVersions(authed huma.API, notes *note.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-note-versions", Method: http.MethodGet, Path: "/notes/{note_id}/versions",
		Summary: "A note's history", Tags: noteTags,
		Description: "Every version of the note, the current one included, newest first, without content.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		NoteID string `path:"note_id" doc:"The note's id." format:"uuid"`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor string `query:"cursor"`
	}) (*struct{ Body NoteVersionList }, error) {
		id, err := parseID(in.NoteID, "note")
		if err != nil {
			return nil, err
		}
		res, err := notes.Versions(ctx, principal(ctx).User.ID, id, &note.VersionsParams{Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, err
		}
		return &struct{ Body NoteVersionList }{Body: NoteVersionList(page.Map(res, toVersionJSON))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-note-version", Method: http.MethodGet, Path: "/notes/{note_id}/versions/{version}",
		Summary: "One version of a note", Tags: noteTags,
		Description: "One version from the note's history with its content as it was then, to show or compare " +
			"before restoring it.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *versionPath) (*struct{ Body NoteVersionJSON }, error) {
		id, err := parseID(in.NoteID, "note")
		if err != nil {
			return nil, err
		}
		v, err := notes.Version(ctx, principal(ctx).User.ID, id, in.Version)
		if err != nil {
			return nil, err
		}
		return &struct{ Body NoteVersionJSON }{Body: toVersionJSON(v)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "restore-note-version", Method: http.MethodPost, Path: "/notes/{note_id}/versions/{version}/restore",
		Summary: "Restore a version of a note", Tags: noteTags,
		Description: "Brings back the version's title, content, tags and metadata as a new version (the note keeps " +
			"its place, pin and archive state). The note's tasks follow the restored content. With If-Match, a " +
			"stale current version answers 412.",
		Errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
	}, func(ctx context.Context, in *struct {
		NoteID  string `path:"note_id" doc:"The note's id." format:"uuid"`
		Version int    `path:"version" minimum:"1" doc:"A version number from the note's history; any other number answers 404."`
		IfMatch string `header:"If-Match" doc:"The ETag of the note's current version."`
	}) (*noteOutput, error) {
		id, ifv, err := writeTarget(in.NoteID, "note", in.IfMatch)
		if err != nil {
			return nil, err
		}
		n, err := notes.Restore(ctx, principal(ctx).User.ID, id, in.Version, ifv)
		if err != nil {
			return nil, err
		}
		return noteOut(n), nil
	})
}
