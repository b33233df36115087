package host_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// echo syncs back, as one record, the last task pushed to it.
type echo struct {
	mu   sync.Mutex
	last *sdk.PushTaskRequest
}

func (e *echo) lastPush() *sdk.PushTaskRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

func (*echo) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "echo", DisplayName: "Echo", Version: "1",
		Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush}}, nil
}

func (e *echo) PushTask(_ context.Context, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = req
	return &sdk.PushTaskResponse{ExternalID: req.ExternalID}, nil
}

func (e *echo) Sync(context.Context, *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	last := e.lastPush()
	return &sdk.SyncResponse{NextCursor: "1", Upserts: []sdk.Record{{ExternalID: last.ExternalID, Kind: sdk.RecordTask, Task: &last.Task}}}, nil
}

// The typed enums cross the wire as their strings and come back typed.
func TestTypedFieldsCrossTheWire(t *testing.T) {
	impl := &echo{}
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: impl})
	ctx := context.Background()
	due := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	task := sdk.Task{Title: "t", Status: sdk.TaskOnHold, StatusName: "blocked", Priority: "high", Due: due, DueHasTime: true}
	req := &sdk.PushTaskRequest{Action: sdk.PushUpdate, ExternalID: "x1", Task: task,
		Fields: []sdk.TaskField{sdk.FieldStatus, sdk.FieldDue}}
	if _, err := p.Integration.PushTask(ctx, req); err != nil {
		t.Fatal(err)
	}
	got := impl.lastPush()
	if got.Action != sdk.PushUpdate || len(got.Fields) != 2 || got.Fields[0] != sdk.FieldStatus || got.Fields[1] != sdk.FieldDue {
		t.Fatalf("plugin got action %q fields %v", got.Action, got.Fields)
	}
	if got.Task.Status != sdk.TaskOnHold || got.Task.StatusName != "blocked" || !got.Task.Due.Equal(due) {
		t.Fatalf("plugin got task %+v", got.Task)
	}
	resp, err := p.Integration.Sync(ctx, &sdk.SyncRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Upserts) != 1 || resp.Upserts[0].Kind != sdk.RecordTask || resp.Upserts[0].Task.Status != sdk.TaskOnHold {
		t.Fatalf("host got %+v", resp.Upserts)
	}
}
