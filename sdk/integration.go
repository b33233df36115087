package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Integration is what a plugin that connects an outside system implements.
// Everything else is optional: implement Syncer to bring data in, TaskPusher
// to send task changes out, ToolProvider to offer agent tools. The host
// discovers them at run time, so an interface added in a later SDK version
// never breaks an existing plugin.
type Integration interface {
	Describe(ctx context.Context, req *DescribeRequest) (*Manifest, error)
}

// Syncer brings changes in, one page per call.
//
// The host stores the cursor a call returns and sends it back next time. An
// empty cursor means a full sync. When the plugin cannot continue from a
// cursor (it expired on the other side) it starts a full sync itself and sets
// Reset on the first page. HasMore says another page follows at once.
type Syncer interface {
	Sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error)
}

// TaskPusher applies a task change in the outside system.
type TaskPusher interface {
	PushTask(ctx context.Context, req *PushTaskRequest) (*PushTaskResponse, error)
}

// ToolProvider offers tools that agents can call.
type ToolProvider interface {
	ListTools(ctx context.Context, req *ListToolsRequest) (*ListToolsResponse, error)
	// ExecuteTool runs one tool. An unknown tool name is a not_found error.
	ExecuteTool(ctx context.Context, req *ExecuteToolRequest) (*ExecuteToolResponse, error)
}

// SyncRequest asks for the changes since Cursor.
type SyncRequest struct {
	Connection Connection
	// Cursor returned by the previous call; empty for a full sync.
	Cursor string
	// PageSize is a hint; 0 lets the plugin choose.
	PageSize int
}

// SyncResponse is one page of changes.
type SyncResponse struct {
	Upserts []Record
	// Deletes are external ids of records that are gone.
	Deletes []string
	// NextCursor is where the next call continues; never empty after a
	// successful call.
	NextCursor string
	// HasMore says the next page is ready now.
	HasMore bool
	// Reset says this page starts a full sync: records the host does not see
	// again before HasMore is false are gone.
	Reset bool
}

// RecordKind says what a Record holds.
type RecordKind string

// Record kinds.
const (
	RecordTask  RecordKind = "task"
	RecordEmail RecordKind = "email"
)

// Record is one thing from the outside system, keyed by its external id.
type Record struct {
	ExternalID string
	Kind       RecordKind
	URL        string
	UpdatedAt  time.Time
	Task       *Task
	Email      *Email
	// Data holds anything else, as a JSON object.
	Data json.RawMessage
}

// TaskStatus is a task's status, in the few values every outside system can
// be mapped to; Task.StatusName keeps the system's own name.
type TaskStatus string

// Task statuses.
const (
	TaskOpen       TaskStatus = "open"
	TaskInProgress TaskStatus = "in_progress"
	// TaskOnHold is waiting, blocked or on hold.
	TaskOnHold    TaskStatus = "on_hold"
	TaskDone      TaskStatus = "done"
	TaskCancelled TaskStatus = "cancelled"
)

// Task is a task as the outside system knows it.
type Task struct {
	Title       string
	Description string
	// Status is one of TaskOpen, TaskInProgress, TaskOnHold, TaskDone,
	// TaskCancelled.
	Status TaskStatus
	// StatusName is the outside system's own name of the status ("in
	// review"). The host keeps it, so a push that changes other fields never
	// flattens a custom status into Status's few values.
	StatusName string
	// Priority is none, low, medium, high or urgent.
	Priority string
	// Due is zero when there is no due date; DueHasTime says whether its
	// time of day matters.
	Due              time.Time
	DueHasTime       bool
	ParentExternalID string
	Tags             []string
	// List is the name of the project, list or folder the task belongs to;
	// ListID identifies it in the outside system. The host keeps the tasks of
	// one list together (one note per list).
	List   string
	ListID string
}

// Email is a mail message.
type Email struct {
	ThreadID   string
	From       string
	To         []string
	Subject    string
	Snippet    string
	Body       string
	ReceivedAt time.Time
	Labels     []string
}

// PushAction says what a PushTaskRequest does to the task outside.
type PushAction string

// Task push actions.
const (
	PushCreate PushAction = "create"
	PushUpdate PushAction = "update"
	PushDelete PushAction = "delete"
)

// PushTaskRequest applies a change to a task outside.
type PushTaskRequest struct {
	Connection Connection
	// Action is PushCreate, PushUpdate or PushDelete.
	Action PushAction
	// ExternalID is empty on create.
	ExternalID string
	Task       Task
	// Fields names, on update, the fields whose meaning changed: FieldTitle,
	// FieldDescription, FieldStatus, FieldDue, FieldPriority. Send only those.
	Fields []TaskField
}

// TaskField names a field of Task in PushTaskRequest.Fields.
type TaskField string

// Task fields named in PushTaskRequest.Fields.
const (
	FieldTitle       TaskField = "title"
	FieldDescription TaskField = "description"
	FieldStatus      TaskField = "status"
	FieldDue         TaskField = "due"
	FieldPriority    TaskField = "priority"
)

// PushTaskResponse identifies the task outside after the change.
type PushTaskResponse struct {
	ExternalID string
	URL        string
	UpdatedAt  time.Time
}

// Tool is one tool an integration offers to agents.
type Tool struct {
	Name        string
	Description string
	// InputSchema is the JSON Schema of the arguments object.
	InputSchema json.RawMessage
}

// ListToolsRequest asks which tools a connection offers.
type ListToolsRequest struct {
	Connection Connection
}

// ListToolsResponse lists tools.
type ListToolsResponse struct {
	Tools []Tool
}

// ExecuteToolRequest runs a tool with JSON arguments.
type ExecuteToolRequest struct {
	Connection Connection
	Name       string
	Arguments  json.RawMessage
}

// ExecuteToolResponse carries the tool's JSON output.
type ExecuteToolResponse struct {
	Output json.RawMessage
}
