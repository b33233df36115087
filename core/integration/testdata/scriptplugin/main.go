// Command scriptplugin is an integration plugin whose outside system is a
// test's control server (config "control_url"): Sync, PushTask, ListTools
// and ExecuteTool post the request there (to /sync, /push, /tools and
// /execute) and answer what it says, an error, or exit at once (a crash in
// the middle of a sync). It accepts the API key "good-token".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

type script struct{}

func (script) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "scriptplugin", DisplayName: "Script", Version: "0.1.0", Auth: sdk.Auth{Type: sdk.AuthAPIKey},
		Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush, sdk.CapTools}}, nil
}

// answer is what the control server says.
type answer struct {
	Sync   *sdk.SyncResponse     `json:"sync,omitempty"`
	Push   *sdk.PushTaskResponse `json:"push,omitempty"`
	Tools  []sdk.Tool            `json:"tools,omitempty"`
	Output json.RawMessage       `json:"output,omitempty"`
	Error  *struct {
		Code         sdk.Code `json:"code"`
		Message      string   `json:"message"`
		RetryAfterMS int64    `json:"retry_after_ms"`
	} `json:"error,omitempty"`
	Crash bool `json:"crash,omitempty"`
}

func call(ctx context.Context, c sdk.Connection, path string, body any) (*answer, error) {
	if c.Secrets["token"] != "good-token" {
		return nil, sdk.NeedsReauth("API key refused")
	}
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Config["control_url"]+path, bytes.NewReader(raw))
	if err != nil {
		return nil, sdk.InvalidConfig("control_url: %v", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, sdk.Temporary("control server: %v", err)
	}
	defer res.Body.Close()
	var a answer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		return nil, sdk.Temporary("control server answered %s: %v", res.Status, err)
	}
	if a.Crash {
		fmt.Fprintln(os.Stderr, "scriptplugin: crashing as told")
		os.Exit(3)
	}
	if e := a.Error; e != nil {
		if e.Code == sdk.CodeRateLimited {
			return nil, sdk.RateLimited(time.Duration(e.RetryAfterMS)*time.Millisecond, "%s", e.Message)
		}
		return nil, sdk.Errorf(e.Code, "%s", e.Message)
	}
	return &a, nil
}

func (script) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	a, err := call(ctx, req.Connection, "/sync", map[string]any{"cursor": req.Cursor, "page_size": req.PageSize})
	if err != nil {
		return nil, err
	}
	if a.Sync == nil {
		return nil, sdk.Permanent("the control server answered no page")
	}
	return a.Sync, nil
}

func (script) PushTask(ctx context.Context, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	r := *req
	r.Connection = sdk.Connection{}
	a, err := call(ctx, req.Connection, "/push", r)
	if err != nil {
		return nil, err
	}
	if a.Push == nil {
		return nil, sdk.Permanent("the control server answered no push result")
	}
	return a.Push, nil
}

func (script) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	a, err := call(ctx, req.Connection, "/tools", map[string]any{})
	if err != nil {
		return nil, err
	}
	return &sdk.ListToolsResponse{Tools: a.Tools}, nil
}

func (script) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	a, err := call(ctx, req.Connection, "/execute", map[string]any{"name": req.Name, "arguments": req.Arguments})
	if err != nil {
		return nil, err
	}
	return &sdk.ExecuteToolResponse{Output: a.Output}, nil
}

func main() { sdk.Serve(sdk.ServeConfig{Integration: script{}}) }
