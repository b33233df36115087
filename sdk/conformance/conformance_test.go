package conformance_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// sloppy breaks the contract in the ways the suite is meant to catch.
type sloppy struct{}

func (sloppy) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "sloppy", DisplayName: "Sloppy", Version: "0.0.1",
		// tasks.push is declared but PushTask is not implemented.
		Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush, sdk.CapTools}}, nil
}

// Sync never finishes a full sync and repeats ids.
func (sloppy) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	if req.Cursor == "conformance:not-a-cursor" {
		return nil, errors.New("bad cursor") // untyped
	}
	return &sdk.SyncResponse{Upserts: []sdk.Record{{ExternalID: "same", Kind: sdk.RecordTask, Task: &sdk.Task{Title: "x"}}},
		NextCursor: "c", HasMore: true}, nil
}

func (sloppy) ListTools(context.Context, *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	return &sdk.ListToolsResponse{Tools: []sdk.Tool{{Name: "wait"}}}, nil
}

// ExecuteTool ignores cancellation and answers unknown tools untyped.
func (sloppy) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	if req.Name == "wait" {
		time.Sleep(1500 * time.Millisecond)
		return &sdk.ExecuteToolResponse{}, nil
	}
	return nil, errors.New("what tool?")
}

func TestSuiteCatchesABrokenPlugin(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: sloppy{}})
	results := conformance.Run(context.Background(), conformance.IntegrationChecks(p.Integration, conformance.Options{
		MaxSyncPages: 5,
		Logs:         p.Host.Logs,
		Blocking: func(ctx context.Context) error {
			_, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Name: "wait"})
			return err
		},
	}))
	want := map[string]string{
		"describe":                        "",
		"capabilities_match_methods":      "tasks.push is declared but PushTask is not implemented",
		"unimplemented_methods_are_typed": "",
		"sync_pages_and_cursors":          `"same" appears twice`,
		"sync_unknown_cursor":             "untyped",
		"push_missing_task_is_not_found":  "skipped",
		"tools":                           `error code "unknown"`,
		"cancellation":                    "ignored cancellation",
	}
	for _, r := range results {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected check %q", r.Name)
			continue
		}
		got := ""
		switch {
		case r.Skipped != "":
			got = "skipped"
		case r.Err != nil:
			got = r.Err.Error()
		}
		if (w == "") != (got == "") || !strings.Contains(got, w) {
			t.Errorf("%s: got %q, want %q", r.Name, got, w)
		}
	}
	if !conformance.Failed(results) {
		t.Fatal("Failed() = false")
	}
}
