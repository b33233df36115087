package integration

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// snapshot is a reference's fields as last synced (read from the outside
// system or pushed to it), in Consilium's meaning, plus the outside
// system's own status so that a push of other fields never flattens it.
// Both directions compare against it: a field that differs from it on our
// side was changed here (push it), on theirs was changed there (apply it).
type snapshot struct {
	V           int                `json:"v"`
	Title       string             `json:"title"`
	Description string             `json:"description"`
	Status      blocknote.Status   `json:"status"`
	Priority    blocknote.Priority `json:"priority"`
	DueDate     string             `json:"due_date"`
	DueTime     string             `json:"due_time"`
	// OutsideStatus and StatusName are the record's sdk status and its own
	// name of it ("in review").
	OutsideStatus sdk.TaskStatus `json:"outside_status"`
	StatusName    string         `json:"status_name,omitempty"`
	List          string         `json:"list,omitempty"`
	ListID        string         `json:"list_id,omitempty"`
	Parent        string         `json:"parent,omitempty"`
}

const snapshotVersion = 1

// readSnapshot reads a stored snapshot; ok is false for none (or one of an
// older shape, which counts as none).
func readSnapshot(raw []byte) (snapshot, bool) {
	var s snapshot
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s.V != snapshotVersion {
		return snapshot{}, false
	}
	return s, true
}

// Pushable fields, in the order they are compared and pushed.
var pushFields = []sdk.TaskField{sdk.FieldTitle, sdk.FieldDescription, sdk.FieldStatus, sdk.FieldDue, sdk.FieldPriority}

// value is a field's meaning as a string (due: "YYYY-MM-DD HH:MM").
func (s *snapshot) value(field sdk.TaskField) string {
	switch field {
	case sdk.FieldTitle:
		return s.Title
	case sdk.FieldDescription:
		return s.Description
	case sdk.FieldStatus:
		return string(s.Status)
	case sdk.FieldDue:
		return strings.TrimSpace(s.DueDate + " " + s.DueTime)
	case sdk.FieldPriority:
		return string(s.Priority)
	}
	return ""
}

// take copies field from o.
func (s *snapshot) take(field sdk.TaskField, o *snapshot) {
	switch field {
	case sdk.FieldTitle:
		s.Title = o.Title
	case sdk.FieldDescription:
		s.Description = o.Description
	case sdk.FieldStatus:
		s.Status = o.Status
		s.OutsideStatus, s.StatusName = o.OutsideStatus, o.StatusName
	case sdk.FieldDue:
		s.DueDate, s.DueTime = o.DueDate, o.DueTime
	case sdk.FieldPriority:
		s.Priority = o.Priority
	}
}

// diff names the fields whose meaning differs between a and b.
func diff(a, b *snapshot) []sdk.TaskField {
	var out []sdk.TaskField
	for _, f := range pushFields {
		if a.value(f) != b.value(f) {
			out = append(out, f)
		}
	}
	return out
}

// ours is a task's fields as a snapshot (our side).
func ours(t *task.Task) snapshot {
	return snapshot{V: snapshotVersion, Title: t.Title, Description: t.Description, Status: t.Status, Priority: t.Priority,
		DueDate: t.DueDate, DueTime: t.DueTime}
}

// theirs reads an outside task in Consilium's meaning; due dates are read
// in the user's time zone.
func theirs(r *sdk.Record, loc *time.Location) snapshot {
	t := r.Task
	s := snapshot{V: snapshotVersion, Title: clip(strings.TrimSpace(t.Title), blocknote.MaxTitleLength),
		Description: clip(t.Description, blocknote.MaxDescriptionLength), Status: statusIn(t.Status), Priority: priorityIn(t.Priority),
		OutsideStatus: t.Status, StatusName: t.StatusName, List: t.List, ListID: t.ListID, Parent: t.ParentExternalID}
	if s.Title == "" {
		s.Title = "(untitled)"
	}
	if !t.Due.IsZero() {
		d := t.Due.In(loc)
		s.DueDate = d.Format(time.DateOnly)
		if t.DueHasTime {
			s.DueTime = d.Format("15:04")
		}
	}
	return s
}

// clip cleans outside text (valid UTF-8, no NUL) and keeps at most n
// characters.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// statusIn maps an outside status to ours: on hold and cancelled are
// deferred, done is completed.
func statusIn(s sdk.TaskStatus) blocknote.Status {
	switch s {
	case sdk.TaskInProgress:
		return blocknote.StatusInProgress
	case sdk.TaskOnHold, sdk.TaskCancelled:
		return blocknote.StatusDeferred
	case sdk.TaskDone:
		return blocknote.StatusCompleted
	}
	return blocknote.StatusNotStarted
}

// statusOut maps our status to the outside one.
func statusOut(s blocknote.Status) sdk.TaskStatus {
	switch s {
	case blocknote.StatusInProgress:
		return sdk.TaskInProgress
	case blocknote.StatusDeferred:
		return sdk.TaskOnHold
	case blocknote.StatusCompleted:
		return sdk.TaskDone
	}
	return sdk.TaskOpen
}

// priorityIn: urgent and high are high; none and anything unknown is none.
func priorityIn(p string) blocknote.Priority {
	switch strings.ToLower(p) {
	case "urgent", "high":
		return blocknote.PriorityHigh
	case "medium", "normal":
		return blocknote.PriorityMedium
	case "low":
		return blocknote.PriorityLow
	}
	return ""
}

// outTask is the task sent with a push: our values of the fields pushed,
// the snapshot's of the others (the outside status kept with its own name
// unless the status is pushed).
func outTask(o, snap *snapshot, fields []sdk.TaskField, loc *time.Location) sdk.Task {
	v := *snap
	for _, f := range fields {
		v.take(f, o)
	}
	t := sdk.Task{Title: v.Title, Description: v.Description, Status: v.OutsideStatus, StatusName: v.StatusName,
		List: snap.List, ListID: snap.ListID, ParentExternalID: snap.Parent}
	if slices.Contains(fields, sdk.FieldStatus) || t.Status == "" {
		t.Status, t.StatusName = statusOut(v.Status), ""
	}
	if v.Priority != "" {
		t.Priority = string(v.Priority)
	} else {
		t.Priority = "none"
	}
	if v.DueDate != "" {
		layout, val := time.DateOnly, v.DueDate
		if v.DueTime != "" {
			layout, val = time.DateOnly+" 15:04", v.DueDate+" "+v.DueTime
			t.DueHasTime = true
		}
		if d, err := time.ParseInLocation(layout, val, loc); err == nil {
			t.Due = d
		}
	}
	return t
}

// sourceOf is the task source of a provider's tasks: its own name (a
// plugin's name is a valid source), or external for a name that is not one
// or that would pass for one of Consilium's own sources.
func sourceOf(provider string) string {
	if blocknote.ValidSource(provider) && !blocknote.BuiltinSource(provider) {
		return provider
	}
	return "external"
}

// Conflict is one field both sides changed since the last sync, as
// recorded on the reference.
type Conflict struct {
	Field  sdk.TaskField `json:"field"`
	Ours   string        `json:"ours"`
	Theirs string        `json:"theirs"`
	Winner string        `json:"winner"` // ours | theirs
	At     time.Time     `json:"at"`
}

// maxConflicts is how many conflicts a reference keeps (the latest).
const maxConflicts = 20
