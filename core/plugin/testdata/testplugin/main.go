// Command testplugin misbehaves on request, for the host's tests. Its
// behaviour at start depends on the name it runs under:
//
//   - *noisy*: prints to stdout from init, before Serve (without a newline)
//     and from a goroutine during the handshake.
//
// Its tools (ExecuteTool) hang, panic, fail with a given code, print, and
// report their environment, pid, progress and concurrency.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

var name = filepath.Base(os.Args[0])

func init() {
	if strings.Contains(name, "noisy") {
		fmt.Println("noise from init")
	}
}

func main() {
	if strings.Contains(name, "noisy") {
		fmt.Print("noise before Serve without a newline ")
		out := os.Stdout
		go func() {
			for i := range 200 {
				fmt.Fprintf(out, "noise from a goroutine %d\n", i)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	p := &testPlugin{}
	sdk.Serve(sdk.ServeConfig{Integration: p, LLM: p})
}

type testPlugin struct {
	calls    atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func (p *testPlugin) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	m := &sdk.Manifest{Name: "testplugin", DisplayName: "Test plugin", Version: "1.2.3",
		Capabilities: []sdk.Capability{sdk.CapTools},
		Models:       []sdk.Model{{ID: "echo", Capabilities: []sdk.Capability{sdk.CapChat, sdk.CapChatStream, sdk.CapEmbed}, EmbeddingDimension: 3}}}
	c := req.Connection.Config
	if n, _ := strconv.Atoi(c["rate_requests"]); n > 0 {
		per, err := time.ParseDuration(c["rate_per"])
		if err != nil {
			return nil, sdk.InvalidConfig("rate_per: %v", err)
		}
		burst, _ := strconv.Atoi(c["rate_burst"])
		m.RateLimits = append(m.RateLimits, sdk.RateLimit{Scope: sdk.RateLimitScope(req.Connection.Setting("rate_scope", "connection")),
			Requests: n, Per: per, Burst: burst})
	}
	return m, nil
}

func (p *testPlugin) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	return &sdk.ListToolsResponse{Tools: []sdk.Tool{{Name: "echo"}}}, nil
}

func (p *testPlugin) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	p.calls.Add(1)
	var args struct {
		Ms           int    `json:"ms"`
		Code         string `json:"code"`
		RetryAfterMs int    `json:"retry_after_ms"`
	}
	if len(req.Arguments) > 0 {
		_ = json.Unmarshal(req.Arguments, &args)
	}
	out := func(v any) (*sdk.ExecuteToolResponse, error) {
		b, err := json.Marshal(v)
		return &sdk.ExecuteToolResponse{Output: b}, err
	}
	switch req.Name {
	case "echo":
		return &sdk.ExecuteToolResponse{Output: req.Arguments}, nil
	case "trace":
		tp, ts := sdk.TraceContext(ctx)
		return out(map[string]string{"traceparent": tp, "tracestate": ts})
	case "hang":
		select {} // ignores ctx on purpose
	case "sleep":
		n := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		for {
			m := p.maxIn.Load()
			if n <= m || p.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-time.After(time.Duration(args.Ms) * time.Millisecond):
			return out("slept")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "max_in_flight":
		return out(p.maxIn.Load())
	case "panic":
		var m map[string]int
		m["boom"]++
	case "fail":
		return nil, &sdk.Error{Code: sdk.Code(args.Code), Message: "failed on request", RetryAfter: time.Duration(args.RetryAfterMs) * time.Millisecond}
	case "print":
		fmt.Println("noise from a call via os.Stdout")
		_, _ = syscall.Write(1, []byte("noise from a call via fd 1\n"))
		return out("printed")
	case "env":
		return out(os.Environ())
	case "pid":
		return out(os.Getpid())
	case "calls":
		return out(p.calls.Load())
	case "connection":
		return out(req.Connection)
	case "progress":
		for i := range 3 {
			_ = sdk.ReportProgress(ctx, sdk.Progress{Done: int64(i + 1), Total: 3})
		}
		sdk.Logger(ctx).Info("progress reported", "steps", 3)
		return out("ok")
	}
	return nil, sdk.NotFound("no tool %q", req.Name)
}

func (p *testPlugin) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	if req.Model != "echo" {
		return nil, sdk.NotFound("no model %q", req.Model)
	}
	text := req.Messages[len(req.Messages)-1].Content
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		if err := stream.Send(&sdk.ChatEvent{Text: w}); err != nil {
			return nil, err
		}
	}
	return &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: text}, Model: req.Model}, nil
}

func (p *testPlugin) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	resp := &sdk.EmbedResponse{Model: req.Model, Dimension: 3}
	for _, t := range req.Texts {
		resp.Vectors = append(resp.Vectors, []float32{float32(len(t)), 0, 1})
	}
	return resp, nil
}
