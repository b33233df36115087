// Package note owns notes: BlockNote documents with a title, tags, a parent
// note, links to other notes and a full history of versions. Saving a note
// updates its task index (through an Indexer) and runs after-save hooks in
// the same transaction, so readers never see a note without its index and
// work caused by a change (embedding, pushing to outside systems) can be
// queued atomically with it.
package note

import (
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// Limits on note fields.
const (
	MaxTitleLength   = 500 // characters
	MaxTags          = 50
	MaxTagLength     = 64 // characters
	MaxMetadataBytes = field.MaxObjectBytes
	PreviewLength    = 200 // characters
	MaxQueryLength   = 500 // characters of a search
)

// SystemKeyInbox marks the note that receives tasks created without one.
const SystemKeyInbox = "inbox"

// Note is a note. Content is the BlockNote document as JSON; it is nil in
// lists, which carry Preview instead.
type Note struct {
	ID          uuid.UUID
	UserID      uuid.UUID
	Title       string
	Content     json.RawMessage
	Preview     string
	ParentID    *uuid.UUID
	Tags        []string
	LinkedNotes []uuid.UUID
	IsPinned    bool
	IsArchived  bool
	Metadata    json.RawMessage
	// SystemKey is set on notes Consilium keeps for itself ("inbox").
	SystemKey string
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ChangeKind says what made a note version.
type ChangeKind string

const (
	ChangeCreate     ChangeKind = "create"
	ChangeUpdate     ChangeKind = "update"
	ChangeRestore    ChangeKind = "restore"
	ChangeDelete     ChangeKind = "delete"
	ChangeTaskCreate ChangeKind = "task_create"
	ChangeTaskUpdate ChangeKind = "task_update"
	ChangeTaskDelete ChangeKind = "task_delete"
)

// CheckTitle trims a note title and checks it (field.Title).
func CheckTitle(name, title string) (string, error) {
	return field.Title(name, title, MaxTitleLength)
}

// NormalizeTags trims tags, drops exact duplicates and checks them
// (field.Tags). Tags keep the case they were typed in.
func NormalizeTags(name string, tags []string) ([]string, error) {
	return field.Tags(name, tags, MaxTags, MaxTagLength)
}

// CheckMetadata checks a note's metadata (field.Object) and returns it
// compacted; nil gives the empty object.
func CheckMetadata(name string, raw json.RawMessage) (json.RawMessage, error) {
	return field.Object(name, raw)
}

// sameJSON compares two JSON values by meaning (key order, whitespace and
// number spelling aside).
func sameJSON(a, b json.RawMessage) bool { return jsonvalue.Equal(a, b) }

// preview is the start of a note's text on one line.
func preview(text string) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range text {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if n == PreviewLength {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
			if n == PreviewLength {
				continue
			}
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
