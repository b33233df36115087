package sdk_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/host"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// chatty logs and reports progress through the host services.
type chatty struct{ failing }

func (chatty) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	log := sdk.Logger(ctx).With("connection", req.Connection.ID)
	for i := range 3 {
		if err := sdk.ReportProgress(ctx, sdk.Progress{Done: int64(i + 1), Total: 3, Message: "step"}); err != nil {
			return nil, err
		}
	}
	log.WithGroup("sync").Info("done", "pages", 3)
	log.Debug("details")
	return &sdk.ExecuteToolResponse{Output: json.RawMessage(`true`)}, nil
}

func TestLogsAndProgressReachTheHost(t *testing.T) {
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: chatty{}})
	ctx := host.WithCallID(context.Background(), "call-42")
	if _, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: sdk.Connection{ID: "acct-1"}, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	prog := p.Host.Progress("call-42")
	if len(prog) != 3 || prog[2] != (sdk.Progress{Done: 3, Total: 3, Message: "step"}) {
		t.Fatalf("progress = %+v", prog)
	}
	var info, debug *host.LogRecord
	for _, r := range p.Host.Logs() {
		switch r.Message {
		case "done":
			info = &r
		case "details":
			debug = &r
		}
	}
	if info == nil || info.Level != slog.LevelInfo || info.CallID != "call-42" ||
		info.Attrs["connection"] != "acct-1" || info.Attrs["sync.pages"] != "3" || info.Attrs["method"] != "ExecuteTool" {
		t.Fatalf("info record = %+v", info)
	}
	// plugintest's host keeps debug records.
	if debug == nil || debug.Level != slog.LevelDebug {
		t.Fatalf("debug record = %+v", debug)
	}
}
