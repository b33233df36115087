package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/host"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

func options(c *host.IntegrationClient) conformance.Options {
	conn := sdk.Connection{ID: "conformance", Config: map[string]string{"seed_tasks": "5"}}
	return conformance.Options{
		Connection: conn,
		Blocking: func(ctx context.Context) error {
			_, err := c.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: conn, Name: "wait", Arguments: json.RawMessage(`{"seconds":30}`)})
			return err
		},
	}
}

// The conformance suite in-process: fast, and the plugin's code is covered.
func TestConformance(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: newHello()})
	plugintest.RunIntegration(t, p, options(p.Integration))
}

// The same suite against the built binary, started as the host starts it.
func TestConformanceSubprocess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	p := plugintest.Start(t, plugintest.Build(t, "."))
	plugintest.RunIntegration(t, p, options(p.Integration))
}

func TestSyncSeesPushedChanges(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: newHello()})
	ctx := context.Background()
	conn := sdk.Connection{ID: "a", Config: map[string]string{"seed_tasks": "3"}}

	cursor, ids := "", map[string]bool{}
	for {
		resp, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Upserts {
			ids[r.ExternalID] = true
		}
		cursor = resp.NextCursor
		if !resp.HasMore {
			break
		}
	}
	if len(ids) != 3 {
		t.Fatalf("full sync saw %d tasks, want 3", len(ids))
	}

	created, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushCreate, Task: sdk.Task{Title: "Buy milk"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Integration.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushDelete, ExternalID: "t1"}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: conn, Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Upserts) != 1 || resp.Upserts[0].ExternalID != created.ExternalID || resp.Upserts[0].Task.Title != "Buy milk" {
		t.Fatalf("incremental upserts = %+v, want the created task", resp.Upserts)
	}
	if len(resp.Deletes) != 1 || resp.Deletes[0] != "t1" {
		t.Fatalf("incremental deletes = %v, want [t1]", resp.Deletes)
	}

	_, err = p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: sdk.Connection{ID: "b", Config: map[string]string{"seed_tasks": "many"}}})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig {
		t.Fatalf("bad seed_tasks: got %v, want invalid_config", err)
	}
}
