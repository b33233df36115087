package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// hello implements sdk.Integration plus the optional sdk.Syncer,
// sdk.TaskPusher and sdk.ToolProvider.
type hello struct {
	mu    sync.Mutex
	lists map[string]*taskList // by connection id
}

var (
	_ sdk.Integration  = (*hello)(nil)
	_ sdk.Syncer       = (*hello)(nil)
	_ sdk.TaskPusher   = (*hello)(nil)
	_ sdk.ToolProvider = (*hello)(nil)
)

func newHello() *hello { return &hello{lists: map[string]*taskList{}} }

func (h *hello) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{
		Name:        "hello",
		DisplayName: "Hello",
		Description: "An example integration: an in-memory task list and a greeting tool.",
		Version:     "0.1.0",
		Auth:        sdk.Auth{Type: sdk.AuthNone},
		Config: []sdk.ConfigField{
			{Key: "greeting", Label: "Greeting", Help: "Word the greet tool starts with.", Type: "string", Default: "Hello"},
			{Key: "seed_tasks", Label: "Seed tasks", Help: "How many tasks a new connection starts with.", Type: "int", Default: "5"},
		},
		Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush, sdk.CapTools},
		RateLimits:   []sdk.RateLimit{{Scope: sdk.ScopeConnection, Requests: 20, Per: time.Second, Burst: 20}},
	}, nil
}

// Sync cursors look like "hello1:full:<offset>:<generation>" during a full
// sync and "hello1:since:<version>:<generation>" afterwards. The generation
// changes when a list is recreated, which forces a full resync.
func (h *hello) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	list, err := h.list(&req.Connection)
	if err != nil {
		return nil, err
	}
	pageSize := req.PageSize
	if pageSize <= 0 {
		pageSize = 2
	}
	list.mu.Lock()
	defer list.mu.Unlock()

	mode, n, ok := parseCursor(req.Cursor, list.generation)
	if !ok {
		// No cursor, or one we cannot continue from: start over.
		mode, n = "full", 0
	}
	resp := &sdk.SyncResponse{Reset: !ok && req.Cursor != ""}
	switch mode {
	case "full":
		ids := list.liveIDs()
		end := min(n+pageSize, len(ids))
		for _, id := range ids[n:end] {
			resp.Upserts = append(resp.Upserts, list.record(id))
		}
		if end < len(ids) {
			resp.HasMore = true
			resp.NextCursor = fmt.Sprintf("hello1:full:%d:%d", end, list.generation)
		} else {
			resp.NextCursor = fmt.Sprintf("hello1:since:%d:%d", list.version, list.generation)
		}
	case "since":
		for _, id := range list.changedSince(n) {
			if t := list.tasks[id]; t.deleted {
				resp.Deletes = append(resp.Deletes, id)
			} else {
				resp.Upserts = append(resp.Upserts, list.record(id))
			}
		}
		resp.NextCursor = fmt.Sprintf("hello1:since:%d:%d", list.version, list.generation)
	}
	sdk.Logger(ctx).Debug("synced", "upserts", len(resp.Upserts), "deletes", len(resp.Deletes))
	return resp, nil
}

func parseCursor(c string, generation int) (mode string, n int, ok bool) {
	parts := strings.Split(c, ":")
	if len(parts) != 4 || parts[0] != "hello1" || (parts[1] != "full" && parts[1] != "since") {
		return "", 0, false
	}
	n, err1 := strconv.Atoi(parts[2])
	gen, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || n < 0 || gen != generation {
		return "", 0, false
	}
	return parts[1], n, true
}

func (h *hello) PushTask(ctx context.Context, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	list, err := h.list(&req.Connection)
	if err != nil {
		return nil, err
	}
	list.mu.Lock()
	defer list.mu.Unlock()
	switch req.Action {
	case sdk.PushCreate:
		if strings.TrimSpace(req.Task.Title) == "" {
			return nil, sdk.Permanent("a task needs a title")
		}
		id := list.add(req.Task)
		return list.pushed(id), nil
	case sdk.PushUpdate, sdk.PushDelete:
		t, ok := list.tasks[req.ExternalID]
		if !ok || t.deleted {
			return nil, sdk.NotFound("task %q does not exist", req.ExternalID)
		}
		list.version++
		t.version = list.version
		t.updated = time.Now().UTC()
		if req.Action == sdk.PushDelete {
			t.deleted = true
		} else {
			t.Task = req.Task
		}
		return list.pushed(req.ExternalID), nil
	default:
		return nil, sdk.Permanent("unknown action %q", req.Action)
	}
}

func (h *hello) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	return &sdk.ListToolsResponse{Tools: []sdk.Tool{
		{Name: "greet", Description: "Greets someone by name.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)},
		{Name: "wait", Description: "Waits for the given number of seconds, or until cancelled.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"seconds":{"type":"number"}}}`)},
	}}, nil
}

func (h *hello) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	switch req.Name {
	case "greet":
		var args struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(req.Arguments, &args); err != nil || args.Name == "" {
			return nil, sdk.Permanent("greet needs {\"name\": string}")
		}
		out, _ := json.Marshal(req.Connection.Setting("greeting", "Hello") + ", " + args.Name + "!")
		return &sdk.ExecuteToolResponse{Output: out}, nil
	case "wait":
		var args struct {
			Seconds float64 `json:"seconds"`
		}
		_ = json.Unmarshal(req.Arguments, &args)
		t := time.NewTimer(time.Duration(args.Seconds * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
			return &sdk.ExecuteToolResponse{Output: json.RawMessage(`"done"`)}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	default:
		return nil, sdk.NotFound("no tool named %q", req.Name)
	}
}

func (h *hello) list(c *sdk.Connection) (*taskList, error) {
	seed, err := strconv.Atoi(c.Setting("seed_tasks", "5"))
	if err != nil || seed < 0 {
		return nil, sdk.InvalidConfig("seed_tasks must be a whole number >= 0, got %q", c.Config["seed_tasks"])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.lists[c.ID]
	if !ok {
		l = &taskList{tasks: map[string]*task{}, generation: len(h.lists) + 1}
		for i := range seed {
			l.add(sdk.Task{Title: fmt.Sprintf("Example task %d", i+1), Status: sdk.TaskOpen})
		}
		h.lists[c.ID] = l
	}
	return l, nil
}

type task struct {
	sdk.Task
	version int
	updated time.Time
	deleted bool
}

type taskList struct {
	mu         sync.Mutex
	tasks      map[string]*task
	next       int
	version    int
	generation int
}

func (l *taskList) add(t sdk.Task) string {
	l.next++
	l.version++
	if t.Status == "" {
		t.Status = sdk.TaskOpen
	}
	id := fmt.Sprintf("t%d", l.next)
	l.tasks[id] = &task{Task: t, version: l.version, updated: time.Now().UTC()}
	return id
}

func (l *taskList) liveIDs() []string {
	var ids []string
	for id, t := range l.tasks {
		if !t.deleted {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return l.tasks[ids[i]].version < l.tasks[ids[j]].version })
	return ids
}

func (l *taskList) changedSince(v int) []string {
	var ids []string
	for id, t := range l.tasks {
		if t.version > v {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return l.tasks[ids[i]].version < l.tasks[ids[j]].version })
	return ids
}

func (l *taskList) record(id string) sdk.Record {
	t := l.tasks[id]
	task := t.Task
	return sdk.Record{ExternalID: id, Kind: sdk.RecordTask, URL: "https://hello.example/tasks/" + id, UpdatedAt: t.updated, Task: &task}
}

func (l *taskList) pushed(id string) *sdk.PushTaskResponse {
	return &sdk.PushTaskResponse{ExternalID: id, URL: "https://hello.example/tasks/" + id, UpdatedAt: l.tasks[id].updated}
}
