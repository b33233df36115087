package blocknote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// Status is where a task stands.
type Status string

const (
	StatusNotStarted Status = "not_started"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
	StatusDeferred   Status = "deferred"
)

// Statuses lists every status.
var Statuses = []Status{StatusNotStarted, StatusInProgress, StatusCompleted, StatusDeferred}

// Priority is a task's priority; the zero value means none.
type Priority string

const (
	PriorityHigh   Priority = "high"
	PriorityMedium Priority = "medium"
	PriorityLow    Priority = "low"
)

// Priorities lists every priority.
var Priorities = []Priority{PriorityHigh, PriorityMedium, PriorityLow}

// A task's source says where it came from. Sources are data: any key
// (field.ValidKey: lower case letters, digits, '-' and '_', starting with a
// letter, at most 63 characters) is a source, such as the name of the
// integration plugin whose outside system a task came from. This package
// knows only Consilium's own sources, BuiltinSources; every other source is
// outside text (see BuiltinSource). A task block typed in the editor has no
// source prop and counts as SourceNote.
const (
	// SourceDirect: created through the tasks API.
	SourceDirect = "direct"
	// SourceNote: a task block written in the editor.
	SourceNote = "note"
	// SourcePlanning: created by planning.
	SourcePlanning = "planning"
	// SourceChat: created by an agent in a chat.
	SourceChat = "chat"
)

// BuiltinSources are Consilium's own sources.
var BuiltinSources = []string{SourceDirect, SourceNote, SourcePlanning, SourceChat}

// SourceRule says in words what ValidSource accepts.
const SourceRule = field.KeyRule

// ValidSource reports whether s is a well-formed source.
func ValidSource(s string) bool { return field.ValidKey(s) }

// BuiltinSource reports whether s is one of Consilium's own sources ("" is
// SourceNote); text of tasks from any other source was written outside.
func BuiltinSource(s string) bool { return s == "" || slices.Contains(BuiltinSources, s) }

// Props of the task block.
const (
	PropChecked         = "checked"
	PropStatus          = "status"
	PropPriority        = "priority"
	PropDueDate         = "dueDate"
	PropDueTime         = "dueTime"
	PropSize            = "size"
	PropDescription     = "description"
	PropSource          = "source"
	PropSourceReference = "sourceReference"
	PropMetadata        = "metadata"
	PropGoalID          = "goalId"
)

// Limits on task fields, in characters; metadata obeys field.Object.
const (
	MaxTitleLength       = 2000
	MaxDescriptionLength = 20_000
	MaxReferenceLength   = 1000
)

// TaskFields are what a task block says about its task.
//
// A checkListItem holds only Title and Status (props.checked true is
// completed, anything else not_started). Consilium's task block ("task",
// inline content) holds them all in its props: status, priority ("" or
// absent = none), dueDate (YYYY-MM-DD), dueTime (HH:MM), size (a number
// greater than 0; absent, null or 0 = none), description, source,
// sourceReference, and metadata (a JSON object, stored in the prop as a
// string since BlockNote props are scalars).
type TaskFields struct {
	Title           string
	Description     string
	Status          Status
	Priority        Priority
	DueDate         string // YYYY-MM-DD or ""
	DueTime         string // HH:MM or ""
	Size            *float64
	Source          string
	SourceReference string
	// GoalID is the goal the task serves (a UUID), "" when none.
	GoalID string
	// Metadata is a compact JSON object, nil when there is none.
	Metadata json.RawMessage
}

// Equal reports whether two sets of fields are the same.
func (f *TaskFields) Equal(g *TaskFields) bool {
	sizeEq := (f.Size == nil && g.Size == nil) || (f.Size != nil && g.Size != nil && *f.Size == *g.Size)
	return f.Title == g.Title && f.Description == g.Description && f.Status == g.Status &&
		f.Priority == g.Priority && f.DueDate == g.DueDate && f.DueTime == g.DueTime && sizeEq &&
		f.Source == g.Source && f.SourceReference == g.SourceReference && f.GoalID == g.GoalID &&
		sameMetadata(f.Metadata, g.Metadata)
}

// sameMetadata compares metadata by JSON value: the same object with its
// keys in another order is no change.
func sameMetadata(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return jsonvalue.Equal(a, b)
}

// NeedsTaskBlock reports whether the fields hold something a checkListItem
// cannot: a status other than not_started/completed, or any field beyond
// title and status.
func (f *TaskFields) NeedsTaskBlock() bool {
	return (f.Status != StatusNotStarted && f.Status != StatusCompleted) ||
		f.Priority != "" || f.DueDate != "" || f.DueTime != "" || f.Size != nil ||
		f.Description != "" || (f.Source != "" && f.Source != SourceNote) || f.SourceReference != "" ||
		f.GoalID != "" || f.Metadata != nil
}

// Validate checks the fields, naming bad ones as prefix + the API field
// name (e.g. "due_date"). Metadata, when set, must be compact (as
// field.Object returns it).
func (f *TaskFields) Validate(prefix string) error {
	bad := func(name, msg string, v any) error { return fieldError(prefix+name, msg, v) }
	if err := field.Text(prefix+"title", f.Title, MaxTitleLength); err != nil {
		return err
	}
	if err := field.Text(prefix+"description", f.Description, MaxDescriptionLength); err != nil {
		return err
	}
	if !slices.Contains(Statuses, f.Status) {
		return bad("status", "must be one of not_started, in_progress, completed, deferred", string(f.Status))
	}
	if f.Priority != "" && !slices.Contains(Priorities, f.Priority) {
		return bad("priority", "must be one of high, medium, low", string(f.Priority))
	}
	if f.DueDate != "" && !ValidDate(f.DueDate) {
		return bad("due_date", field.DateRule, f.DueDate)
	}
	if f.DueTime != "" && !ValidTime(f.DueTime) {
		return bad("due_time", field.TimeOfDayRule, f.DueTime)
	}
	if f.Size != nil && (*f.Size <= 0 || math.IsInf(*f.Size, 0) || math.IsNaN(*f.Size) || *f.Size > 1e9) {
		return bad("size", "must be a number greater than 0", *f.Size)
	}
	if f.Source != "" && !ValidSource(f.Source) {
		return bad("source", SourceRule, f.Source)
	}
	if err := field.Text(prefix+"source_reference", f.SourceReference, MaxReferenceLength); err != nil {
		return err
	}
	if f.GoalID != "" && !validUUID(f.GoalID) {
		return bad("goal_id", "must be a UUID", f.GoalID)
	}
	if f.Metadata != nil {
		if _, err := field.Object(prefix+"metadata", f.Metadata); err != nil {
			return err
		}
	}
	return nil
}

// ValidDate reports whether s is a calendar date written YYYY-MM-DD in
// years 1 to 9999 (field.ValidDate).
func ValidDate(s string) bool { return field.ValidDate(s) }

func validUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && u.String() == strings.ToLower(s)
}

// ValidTime reports whether s is a time of day written HH:MM
// (field.ValidTimeOfDay).
func ValidTime(s string) bool { return field.ValidTimeOfDay(s) }

// Task is a task block found in a document.
type Task struct {
	BlockID   string
	BlockType string // TypeCheckListItem or TypeTask
	// ParentBlockID is the nearest enclosing task block, "" when none.
	ParentBlockID string
	// Position is the task's order among the document's tasks.
	Position int
	TaskFields
}

// Tasks returns the document's task blocks at every depth, in document
// order.
func (d *Document) Tasks() []Task {
	var out []Task
	var walk func(bs []*Block, parent string)
	walk = func(bs []*Block, parent string) {
		for _, b := range bs {
			p := parent
			if b.task != nil {
				out = append(out, Task{BlockID: b.id, BlockType: b.typ, ParentBlockID: parent, Position: len(out), TaskFields: *b.task})
				p = b.id
			}
			walk(b.children, p)
		}
	}
	walk(d.blocks, "")
	return out
}

// TaskFields returns the fields of a task block, nil for other blocks.
func (b *Block) TaskFields() *TaskFields {
	if b.task == nil {
		return nil
	}
	f := *b.task
	return &f
}

// readTask reads and validates the task fields of a task block.
func readTask(b *Block, at *path) error {
	b.task = nil
	switch b.typ {
	case TypeCheckListItem:
		f := &TaskFields{Title: cleanTitle(b.text), Status: StatusNotStarted}
		raw := b.Prop(PropChecked)
		switch {
		case isNull(raw) || string(raw) == "false":
		case string(raw) == "true":
			f.Status = StatusCompleted
		default:
			return fieldError(at.member("props").member(PropChecked).String(), "must be a boolean, got "+kindOf(raw), nil)
		}
		b.task = f
	case TypeTask:
		f, err := taskFromProps(b, at.member("props"))
		if err != nil {
			return err
		}
		b.task = f
	}
	return nil
}

func cleanTitle(s string) string { return strings.TrimSpace(s) }

// propCheck validates one string prop of the task block.
type propCheck struct {
	name string
	ok   func(string) bool
	want string
}

// propChecks are the string props of the task block, in the order of the
// destinations in taskFromProps.
var propChecks = [...]propCheck{
	{PropStatus, func(s string) bool { return slices.Contains(Statuses, Status(s)) }, "one of not_started, in_progress, completed, deferred"},
	{PropPriority, func(s string) bool { return slices.Contains(Priorities, Priority(s)) }, `one of high, medium, low (or "" for none)`},
	{PropDueDate, ValidDate, `a date as YYYY-MM-DD from 0001-01-01 to 9999-12-31 (or "" for none)`},
	{PropDueTime, ValidTime, `a time of day as HH:MM (or "" for none)`},
	{PropDescription, func(s string) bool { return utf8.RuneCountInString(s) <= MaxDescriptionLength }, fmt.Sprintf("at most %d characters", MaxDescriptionLength)},
	{PropSource, ValidSource, strings.TrimPrefix(SourceRule, "must be ")},
	{PropSourceReference, func(s string) bool { return utf8.RuneCountInString(s) <= MaxReferenceLength }, fmt.Sprintf("at most %d characters", MaxReferenceLength)},
	{PropGoalID, validUUID, `a goal id (a UUID), or "" for none`},
}

func taskFromProps(b *Block, at *path) (*TaskFields, error) {
	f := &TaskFields{Title: cleanTitle(b.text), Status: StatusNotStarted}
	str := func(name string) (string, error) {
		raw := b.Prop(name)
		if isNull(raw) {
			return "", nil
		}
		s, ok := rawString(raw)
		if !ok {
			return "", fieldError(at.member(name).String(), "must be a string, got "+kindOf(raw), nil)
		}
		return s, nil
	}
	var status, priority string
	dst := [...]*string{&status, &priority, &f.DueDate, &f.DueTime, &f.Description, &f.Source, &f.SourceReference, &f.GoalID}
	for i, c := range propChecks {
		s, err := str(c.name)
		if err != nil {
			return nil, err
		}
		if s != "" && !c.ok(s) {
			v := any(s)
			if len(s) > 100 {
				v = nil
			}
			return nil, fieldError(at.member(c.name).String(), "must be "+c.want, v)
		}
		*dst[i] = s
	}
	if status != "" {
		f.Status = Status(status)
	}
	f.Priority = Priority(priority)
	if f.Source == SourceNote {
		f.Source = ""
	}
	if raw := b.Prop(PropSize); !isNull(raw) && string(raw) != `""` {
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || raw[0] == '"' || v < 0 || math.IsInf(v, 0) || v > 1e9 {
			return nil, fieldError(at.member(PropSize).String(), "must be a number of at least 0 (0 or absent for none)", nil)
		}
		if v > 0 {
			f.Size = &v
		}
	}
	if raw := b.Prop(PropMetadata); !isNull(raw) && string(raw) != `""` {
		obj := []byte(raw)
		if raw[0] == '"' {
			s, _ := rawString(raw)
			obj = []byte(s)
		}
		m, err := field.Object(at.member(PropMetadata).String(), bytes.TrimSpace(obj))
		if err != nil {
			return nil, err
		}
		f.Metadata = m
	}
	return f, nil
}
