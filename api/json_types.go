package api

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/field"
)

// BlockNoteDocument is a note's content as a request sends it: the JSON
// array of blocks that BlockNote's editor.document gives, or its partial
// form (the server validates what it reads and keeps everything else
// verbatim).
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
func (BlockNoteDocument) Schema(r huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeArray, Nullable: true,
		Description: "A BlockNote document as the editor's `editor.document` gives it, or in BlockNote's partial form: " +
			"a block needs only its type; a missing id is generated, missing props, content and children are left " +
			"empty, and string content is one unstyled text item. Every block, prop and field the server does not " +
			"interpret (custom blocks, unknown props) is kept. Task blocks (`checkListItem`, and `task` with props " +
			"status, priority, dueDate, dueTime, size, description, source, sourceReference, goalId, metadata) feed " +
			"the task index. Links with href `note://<uuid>` are links to notes. null is an empty document.",
		Items: componentRef(r, "PartialBlock", partialBlockSchema),
	}
}

// NoteContent is a saved BlockNote document as the server answers it:
// every block in the editor's full form.
type NoteContent json.RawMessage

func (d NoteContent) MarshalJSON() ([]byte, error) { return BlockNoteDocument(d).MarshalJSON() }

func (d *NoteContent) UnmarshalJSON(b []byte) error {
	*d = append((*d)[:0], b...)
	return nil
}

func (NoteContent) Schema(r huma.Registry) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeArray,
		Description: "The note's BlockNote document, ready for `editor.replaceBlocks` or `initialContent`: what was " +
			"saved, every block in full form (id, type and children always present; partial content written out), " +
			"custom blocks and unknown props kept as sent.",
		Items: componentRef(r, "Block", blockSchema),
	}
}

// componentRef registers a schema under name in the document's components
// (once) and returns a reference to it; schema builds it and may refer to
// it by name (blocks nest).
func componentRef(r huma.Registry, name string, schema func(ref *huma.Schema) *huma.Schema) *huma.Schema {
	ref := &huma.Schema{Ref: "#/components/schemas/" + name}
	if _, ok := r.Map()[name]; !ok {
		r.Map()[name] = &huma.Schema{} // a placeholder while building: blocks refer to themselves
		s := schema(ref)
		s.PrecomputeMessages()
		r.Map()[name] = s
	}
	return ref
}

func blockTypeSchema() *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, MinLength: intPtr(1), MaxLength: intPtr(blocknote.MaxTypeLength), Examples: []any{"paragraph"},
		Description: "BlockNote's block type (paragraph, heading, bulletListItem, checkListItem, table, image, ...), " +
			"Consilium's task, or a custom type."}
}

func blockContentSchema() *huma.Schema {
	return &huma.Schema{Examples: []any{[]any{map[string]any{"type": "text", "text": "Call the plumber", "styles": map[string]any{}}}},
		Description: "Inline content: an array of inline items (text `{type: \"text\", text, styles}`, links " +
			"`{type: \"link\", href, content}`, custom inline content); a tableContent object for tables; absent " +
			"for blocks without content (image, divider). A custom block's content is kept whatever it is."}
}

func partialBlockSchema(self *huma.Schema) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeObject, AdditionalProperties: true, Required: []string{"type"},
		Description: "A block as a request may send it: only type is required.",
		Properties: map[string]*huma.Schema{
			"id": {Type: huma.TypeString, Nullable: true, MaxLength: intPtr(blocknote.MaxIDLength),
				Description: "Unique in the document; generated when absent or null, then kept for the block's lifetime."},
			"type": blockTypeSchema(),
			"props": {Type: huma.TypeObject, Nullable: true, AdditionalProperties: true, Examples: []any{map[string]any{"textColor": "default"}},
				Description: "The block's props; unknown ones are kept."},
			"content": func() *huma.Schema {
				s := blockContentSchema()
				s.Description += " A string, or strings mixed into the array, are unstyled text items."
				return s
			}(),
			"children": {Type: huma.TypeArray, Nullable: true, Items: self, Description: "Nested blocks; absent or null is none."},
		},
	}
}

func blockSchema(self *huma.Schema) *huma.Schema {
	return &huma.Schema{
		Type: huma.TypeObject, AdditionalProperties: true, Required: []string{"id", "type", "children"},
		Description: "A saved block, in BlockNote's full form; fields the server does not interpret are kept.",
		Properties: map[string]*huma.Schema{
			"id":   {Type: huma.TypeString, Description: "Unique in the document, kept for the block's lifetime."},
			"type": blockTypeSchema(),
			"props": {Type: huma.TypeObject, Nullable: true, AdditionalProperties: true,
				Description: "The block's props as sent (null or absent when sent so)."},
			"content":  blockContentSchema(),
			"children": {Type: huma.TypeArray, Items: self, Description: "Nested blocks."},
		},
	}
}

func intPtr(i int) *int { return &i }

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
