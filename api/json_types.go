package api

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// BlockNoteDocument is a note's content: the JSON array of blocks that
// BlockNote's editor.document gives, kept as sent (the server validates what
// it reads and keeps everything else verbatim).
type BlockNoteDocument json.RawMessage

func (d BlockNoteDocument) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("[]"), nil
	}
	return d, nil
}

func (d *BlockNoteDocument) UnmarshalJSON(b []byte) error {
	*d = append((*d)[:0], b...)
	return nil
}

// Schema documents the block shape without making the validator walk the
// whole document (the server's own parser does, with block paths in its
// errors).
func (BlockNoteDocument) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeArray,
		Description: "A BlockNote document exactly as the editor's `editor.document` gives it: an array of blocks " +
			"`{id, type, props, content, children}`. Blocks without an id get one. Every block, prop and field the " +
			"server does not interpret (custom blocks, unknown props) is kept. Task blocks (`checkListItem`, and " +
			"`task` with props status, priority, dueDate, dueTime, size, description, source, sourceReference, " +
			"goalId, metadata) feed the task index. Links with href `note://<uuid>` are links to notes.",
		Items: &huma.Schema{
			Type:                 huma.TypeObject,
			AdditionalProperties: true,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeString, Description: "Unique in the document; kept for the block's lifetime."},
				"type":  {Type: huma.TypeString, Examples: []any{"paragraph", "checkListItem", "task"}},
				"props": {Type: huma.TypeObject, AdditionalProperties: true},
				"content": {Description: "Inline content (array), a tableContent object, or absent. BlockNote's partial " +
					"forms are accepted and saved in full form: a string, or an array mixing strings with inline " +
					"objects, where each string is an unstyled text item."},
				"children": {Type: huma.TypeArray, Description: "Nested blocks.", Items: &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}},
			},
		},
	}
}

// JSONObject is a free JSON object for the frontend (metadata).
type JSONObject json.RawMessage

func (o JSONObject) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	return o, nil
}

func (o *JSONObject) UnmarshalJSON(b []byte) error {
	*o = append((*o)[:0], b...)
	return nil
}

func (JSONObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "A free JSON object for the frontend (at most 64 KiB, nested at most 32 levels)."}
}

// patchValue is a body field of a partial update that tells apart absent, null
// (clear the field) and a value.
type patchValue[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (p *patchValue[T]) UnmarshalJSON(b []byte) error {
	p.Set = true
	if string(b) == "null" {
		p.Null = true
		return nil
	}
	return json.Unmarshal(b, &p.Value)
}

func (p patchValue[T]) Schema(r huma.Registry) *huma.Schema {
	s := *r.Schema(reflect.TypeFor[T](), true, "")
	s.Nullable = true
	return &s
}

// parseID reads an id from the path; a malformed id names nothing, so it
// is not found.
func parseID(raw, what string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, apperr.New(apperr.NotFound, "%s not found", what)
	}
	return id, nil
}

// writeTarget reads what every conditional write starts with: the id in
// the path (malformed is not found) and the If-Match version it requires.
func writeTarget(rawID, what, ifMatch string) (uuid.UUID, *int, error) {
	id, err := parseID(rawID, what)
	if err != nil {
		return uuid.Nil, nil, err
	}
	v, err := ifMatchNumber(ifMatch)
	if err != nil {
		return uuid.Nil, nil, err
	}
	return id, v, nil
}

// versionETag is a resource version as a strong ETag: "3".
func versionETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatchNumber reads If-Match: empty or * means no precondition; one of
// our ETags ("3", W/"3") gives the version it requires. Anything else can
// never match, so it fails the precondition: a number past the versions a
// resource can have (field.MaxVersion) too, before it can reach a query.
func ifMatchNumber(h string) (*int, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || !field.ValidVersion(v) {
		return nil, &apperr.Error{Code: apperr.PreconditionFailed,
			Message: `If-Match must be one ETag this API returned, such as "3"`}
	}
	return &v, nil
}
