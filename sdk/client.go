package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// This file is the host side of the protocol. Plugin authors do not need it;
// the Consilium host and sdk/plugintest use it to talk to plugins.

// HostServices is what a host offers plugins to call back into.
type HostServices interface {
	Log(ctx context.Context, rec LogRecord)
	ReportProgress(ctx context.Context, callID string, p Progress)
}

// LogRecord is a log record sent by a plugin.
type LogRecord struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
	// CallID is the call the record belongs to, empty outside calls.
	CallID string
}

// ClientOptions configure the host side of a plugin connection.
type ClientOptions struct {
	// PluginName is the name the plugin is configured under.
	PluginName  string
	HostVersion string
	// LogLevel is the lowest level the host keeps; the plugin drops records
	// below it before sending.
	LogLevel slog.Level
	// Services receives the plugin's logs and progress; nil drops them.
	Services HostServices
}

// ClientPluginSets returns the go-plugin plugin sets a host passes as
// ClientConfig.VersionedPlugins. Dispensing string(KindLLM) gives an
// *LLMClient, string(KindIntegration) an *IntegrationClient.
func ClientPluginSets(opts ClientOptions) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {
		string(KindLLM):         &llmPlugin{opts: &opts},
		string(KindIntegration): &integrationPlugin{opts: &opts},
	}}
}

// SupportedProtocolVersions are the protocol versions this SDK's host side
// speaks.
func SupportedProtocolVersions() []int { return []int{ProtocolVersion} }

// go-plugin Plugin implementations; one type per kind serves both sides.

type llmPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl LLM
	reg  *serverRegistry
	opts *ClientOptions
}

func (p *llmPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	p.reg.register(broker, s)
	pb.RegisterLLMServer(s, &llmServer{impl: p.impl, rt: p.reg.rt})
	return nil
}

func (p *llmPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	base, err := newClientBase(ctx, broker, conn, p.opts, KindLLM)
	if err != nil {
		return nil, err
	}
	return &LLMClient{clientBase: base, c: pb.NewLLMClient(conn)}, nil
}

type integrationPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Integration
	reg  *serverRegistry
	opts *ClientOptions
}

func (p *integrationPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	p.reg.register(broker, s)
	pb.RegisterIntegrationServer(s, &integrationServer{impl: p.impl, rt: p.reg.rt})
	return nil
}

func (p *integrationPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	base, err := newClientBase(ctx, broker, conn, p.opts, KindIntegration)
	if err != nil {
		return nil, err
	}
	return &IntegrationClient{clientBase: base, c: pb.NewIntegrationClient(conn)}, nil
}

// clientBase is shared by both client kinds: it serves HostServices on the
// broker once per plugin process (the long-lived pattern, not one listener
// per call) and tells the plugin where to find it.
type clientBase struct {
	exited     <-chan struct{}
	services   atomic.Pointer[grpc.Server]
	sdkVersion string
}

// KindMismatchError says a plugin does not serve the kind asked for.
type KindMismatchError struct {
	Want   Kind
	Served []string
}

func (e *KindMismatchError) Error() string {
	return fmt.Sprintf("plugin serves %s, not %s: check the kind in its config", strings.Join(e.Served, " and "), e.Want)
}

func newClientBase(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn, opts *ClientOptions, kind Kind) (*clientBase, error) {
	b := &clientBase{exited: ctx.Done()}
	id := broker.NextId()
	go broker.AcceptAndServe(id, func(sopts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(sopts...)
		pb.RegisterHostServicesServer(s, &hostServicesServer{svc: opts.Services})
		b.services.Store(s)
		return s
	})
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := pb.NewControlClient(conn).Init(ictx, &pb.InitRequest{
		HostServicesId: id, PluginName: opts.PluginName, HostProtocolVersion: ProtocolVersion,
		HostVersion: opts.HostVersion, LogLevel: int32(opts.LogLevel),
	})
	if err != nil {
		return nil, errorFromStatus(ictx, "Init", err)
	}
	b.sdkVersion = resp.SdkVersion
	if !slices.Contains(resp.Kinds, string(kind)) {
		return nil, &KindMismatchError{Want: kind, Served: resp.Kinds}
	}
	return b, nil
}

// SDKVersion is the version of the SDK the plugin was built with.
func (b *clientBase) SDKVersion() string { return b.sdkVersion }

// Exited is closed when the plugin process has exited.
func (b *clientBase) Exited() <-chan struct{} { return b.exited }

type hostServicesServer struct {
	pb.UnimplementedHostServicesServer
	svc HostServices
}

func (s *hostServicesServer) Log(ctx context.Context, req *pb.LogRequest) (*pb.LogResponse, error) {
	if s.svc != nil {
		s.svc.Log(ctx, LogRecord{Level: slog.Level(req.Level), Message: req.Message, Attrs: req.Attrs, CallID: req.CallId})
	}
	return &pb.LogResponse{}, nil
}

func (s *hostServicesServer) ReportProgress(ctx context.Context, req *pb.ProgressRequest) (*pb.ProgressResponse, error) {
	if s.svc != nil {
		s.svc.ReportProgress(ctx, req.CallId, Progress{Done: req.Done, Total: req.Total, Message: req.Message})
	}
	return &pb.ProgressResponse{}, nil
}

// LLMClient calls an llm plugin. It implements LLM, Embedder and
// Transcriber; methods the plugin lacks fail with CodeUnimplemented.
type LLMClient struct {
	*clientBase
	c pb.LLMClient
}

var (
	_ LLM         = (*LLMClient)(nil)
	_ Embedder    = (*LLMClient)(nil)
	_ Transcriber = (*LLMClient)(nil)
)

func (c *LLMClient) Describe(ctx context.Context, req *DescribeRequest) (*Manifest, error) {
	out, err := c.c.Describe(ctx, &pb.DescribeRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Describe", err)
	}
	return manifestFromPB(out), nil
}

// Chat sends each streamed event to stream (which may be nil) and returns the
// final answer. An error from stream.Send cancels the call.
func (c *LLMClient) Chat(ctx context.Context, req *ChatRequest, stream ChatStream) (*ChatResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.c.Chat(ctx, chatRequestToPB(req))
	if err != nil {
		return nil, errorFromStatus(ctx, "Chat", err)
	}
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil, Errorf(CodeInternal, "Chat: stream ended without a response")
		}
		if err != nil {
			return nil, errorFromStatus(ctx, "Chat", err)
		}
		switch ch := chunk.Chunk.(type) {
		case *pb.ChatChunk_Event:
			if stream != nil {
				if err := stream.Send(chatEventFromPB(ch.Event)); err != nil {
					return nil, err
				}
			}
		case *pb.ChatChunk_Response:
			return chatResponseFromPB(ch.Response), nil
		}
	}
}

func (c *LLMClient) Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error) {
	out, err := c.c.Embed(ctx, &pb.EmbedRequest{Connection: connToPB(&req.Connection), Model: req.Model, Texts: req.Texts})
	if err != nil {
		return nil, errorFromStatus(ctx, "Embed", err)
	}
	return embedResponseFromPB(out), nil
}

func (c *LLMClient) Transcribe(ctx context.Context, req *TranscribeRequest) (*TranscribeResponse, error) {
	out, err := c.c.Transcribe(ctx, &pb.TranscribeRequest{Connection: connToPB(&req.Connection), Model: req.Model,
		Image: req.Image, MimeType: req.MIMEType, Language: req.Language})
	if err != nil {
		return nil, errorFromStatus(ctx, "Transcribe", err)
	}
	return &TranscribeResponse{Text: out.Text}, nil
}

// IntegrationClient calls an integration plugin. It implements Integration,
// Syncer, TaskPusher and ToolProvider; methods the plugin lacks fail with
// CodeUnimplemented.
type IntegrationClient struct {
	*clientBase
	c pb.IntegrationClient
}

var (
	_ Integration  = (*IntegrationClient)(nil)
	_ Syncer       = (*IntegrationClient)(nil)
	_ TaskPusher   = (*IntegrationClient)(nil)
	_ ToolProvider = (*IntegrationClient)(nil)
)

func (c *IntegrationClient) Describe(ctx context.Context, req *DescribeRequest) (*Manifest, error) {
	out, err := c.c.Describe(ctx, &pb.DescribeRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Describe", err)
	}
	return manifestFromPB(out), nil
}

func (c *IntegrationClient) Sync(ctx context.Context, req *SyncRequest) (*SyncResponse, error) {
	out, err := c.c.Sync(ctx, &pb.SyncRequest{Connection: connToPB(&req.Connection), Cursor: req.Cursor, PageSize: int32(req.PageSize)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Sync", err)
	}
	return syncResponseFromPB(out), nil
}

func (c *IntegrationClient) PushTask(ctx context.Context, req *PushTaskRequest) (*PushTaskResponse, error) {
	out, err := c.c.PushTask(ctx, &pb.PushTaskRequest{Connection: connToPB(&req.Connection), Action: req.Action,
		ExternalId: req.ExternalID, Task: taskToPB(&req.Task), Fields: req.Fields})
	if err != nil {
		return nil, errorFromStatus(ctx, "PushTask", err)
	}
	return &PushTaskResponse{ExternalID: out.ExternalId, URL: out.Url, UpdatedAt: tsFromPB(out.UpdatedAt)}, nil
}

func (c *IntegrationClient) ListTools(ctx context.Context, req *ListToolsRequest) (*ListToolsResponse, error) {
	out, err := c.c.ListTools(ctx, &pb.ListToolsRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "ListTools", err)
	}
	return &ListToolsResponse{Tools: toolsFromPB(out.Tools)}, nil
}

func (c *IntegrationClient) ExecuteTool(ctx context.Context, req *ExecuteToolRequest) (*ExecuteToolResponse, error) {
	out, err := c.c.ExecuteTool(ctx, &pb.ExecuteToolRequest{Connection: connToPB(&req.Connection), Name: req.Name, Arguments: req.Arguments})
	if err != nil {
		return nil, errorFromStatus(ctx, "ExecuteTool", err)
	}
	return &ExecuteToolResponse{Output: out.Output}, nil
}
