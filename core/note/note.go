// Package note owns notes: BlockNote documents with a title, tags, a parent
// note, links to other notes and a full history of versions. Saving a note
// updates its task index (through an Indexer) and runs after-save hooks in
// the same transaction, so readers never see a note without its index and
// work caused by a change (embedding, pushing to outside systems) can be
// queued atomically with it.
package note

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// Limits on note fields.
const (
	MaxTitleLength   = 500 // characters
	MaxTags          = 50
	MaxTagLength     = 64 // characters
	MaxMetadataBytes = 64 << 10
	PreviewLength    = 200 // characters
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

// CheckTitle trims a title and checks its length.
func CheckTitle(location, title string) (string, error) {
	title = strings.TrimSpace(title)
	if utf8.RuneCountInString(title) > MaxTitleLength {
		return "", apperr.Field(location, fmt.Sprintf("must be at most %d characters", MaxTitleLength), nil)
	}
	if strings.ContainsRune(title, 0) {
		return "", apperr.Field(location, "must not contain NUL characters", nil)
	}
	return title, nil
}

// NormalizeTags trims tags, drops exact duplicates (keeping the first) and
// checks their number and length. Tags keep the case they were typed in.
func NormalizeTags(location string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	for i, t := range tags {
		t = strings.TrimSpace(t)
		loc := fmt.Sprintf("%s[%d]", location, i)
		switch {
		case t == "":
			return nil, apperr.Field(loc, "must not be empty", nil)
		case utf8.RuneCountInString(t) > MaxTagLength:
			return nil, apperr.Field(loc, fmt.Sprintf("must be at most %d characters", MaxTagLength), nil)
		case strings.IndexFunc(t, func(r rune) bool { return unicode.IsControl(r) }) >= 0:
			return nil, apperr.Field(loc, "must not contain control characters", nil)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, apperr.Field(location, fmt.Sprintf("a note may have at most %d tags", MaxTags), nil)
	}
	return out, nil
}

// CheckMetadata checks that raw is a JSON object of bounded size and
// returns it compacted; nil gives the empty object.
func CheckMetadata(location string, raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return json.RawMessage(`{}`), nil
	}
	if len(raw) > MaxMetadataBytes {
		return nil, apperr.Field(location, fmt.Sprintf("must be at most %d bytes of JSON", MaxMetadataBytes), nil)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, apperr.Field(location, "must be a JSON object", nil)
	}
	if bytes.Contains(buf.Bytes(), []byte(`\u0000`)) {
		return nil, apperr.Field(location, "must not contain \\u0000", nil)
	}
	return buf.Bytes(), nil
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
