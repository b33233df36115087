package host

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

	"github.com/consilium-hq/consilium/sdk"
	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// HostServices is what a host offers plugins to call back into.
type HostServices interface {
	Log(ctx context.Context, rec LogRecord)
	ReportProgress(ctx context.Context, callID string, p sdk.Progress)
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
// ClientConfig.VersionedPlugins. Dispensing string(sdk.KindLLM) gives an
// *LLMClient, string(sdk.KindIntegration) an *IntegrationClient.
func ClientPluginSets(opts ClientOptions) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{sdk.ProtocolVersion: {
		string(sdk.KindLLM):         &llmPlugin{opts: &opts},
		string(sdk.KindIntegration): &integrationPlugin{opts: &opts},
	}}
}

// SupportedProtocolVersions are the protocol versions this SDK's host side
// speaks.
func SupportedProtocolVersions() []int { return []int{sdk.ProtocolVersion} }

// go-plugin Plugin implementations of the host side; package sdk has the
// plugin side's.

type llmPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	opts *ClientOptions
}

func (p *llmPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("sdk/host dispenses plugins; plugins serve with sdk.Serve")
}

func (p *llmPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	base, err := newClientBase(ctx, broker, conn, p.opts, sdk.KindLLM)
	if err != nil {
		return nil, err
	}
	return &LLMClient{clientBase: base, c: pb.NewLLMClient(conn)}, nil
}

type integrationPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	opts *ClientOptions
}

func (p *integrationPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("sdk/host dispenses plugins; plugins serve with sdk.Serve")
}

func (p *integrationPlugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	base, err := newClientBase(ctx, broker, conn, p.opts, sdk.KindIntegration)
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
	Want   sdk.Kind
	Served []string
}

func (e *KindMismatchError) Error() string {
	return fmt.Sprintf("plugin serves %s, not %s: check the kind in its config", strings.Join(e.Served, " and "), e.Want)
}

func newClientBase(ctx context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn, opts *ClientOptions, kind sdk.Kind) (*clientBase, error) {
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
		HostServicesId: id, PluginName: opts.PluginName, HostProtocolVersion: sdk.ProtocolVersion,
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
		s.svc.ReportProgress(ctx, req.CallId, sdk.Progress{Done: req.Done, Total: req.Total, Message: req.Message})
	}
	return &pb.ProgressResponse{}, nil
}

// LLMClient calls an llm plugin. It implements sdk.LLM, sdk.Embedder and
// sdk.Transcriber; methods the plugin lacks fail with CodeUnimplemented.
type LLMClient struct {
	*clientBase
	c pb.LLMClient
}

var (
	_ sdk.LLM         = (*LLMClient)(nil)
	_ sdk.Embedder    = (*LLMClient)(nil)
	_ sdk.Transcriber = (*LLMClient)(nil)
)

func (c *LLMClient) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	out, err := c.c.Describe(ctx, &pb.DescribeRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Describe", err)
	}
	return manifestFromPB(out), nil
}

// Chat sends each streamed event to stream (which may be nil) and returns the
// final answer. An error from stream.Send cancels the call.
func (c *LLMClient) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.c.Chat(ctx, chatRequestToPB(req))
	if err != nil {
		return nil, errorFromStatus(ctx, "Chat", err)
	}
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return nil, sdk.Errorf(sdk.CodeInternal, "Chat: stream ended without a response")
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

func (c *LLMClient) Embed(ctx context.Context, req *sdk.EmbedRequest) (*sdk.EmbedResponse, error) {
	out, err := c.c.Embed(ctx, &pb.EmbedRequest{Connection: connToPB(&req.Connection), Model: req.Model, Texts: req.Texts})
	if err != nil {
		return nil, errorFromStatus(ctx, "Embed", err)
	}
	return embedResponseFromPB(out), nil
}

func (c *LLMClient) Transcribe(ctx context.Context, req *sdk.TranscribeRequest) (*sdk.TranscribeResponse, error) {
	out, err := c.c.Transcribe(ctx, &pb.TranscribeRequest{Connection: connToPB(&req.Connection), Model: req.Model,
		Image: req.Image, MimeType: req.MIMEType, Language: req.Language})
	if err != nil {
		return nil, errorFromStatus(ctx, "Transcribe", err)
	}
	return &sdk.TranscribeResponse{Text: out.Text}, nil
}

// IntegrationClient calls an integration plugin. It implements sdk.Integration,
// sdk.Syncer, sdk.TaskPusher, sdk.ToolProvider and sdk.Linker; methods the
// plugin lacks fail with CodeUnimplemented.
type IntegrationClient struct {
	*clientBase
	c pb.IntegrationClient
}

var (
	_ sdk.Integration  = (*IntegrationClient)(nil)
	_ sdk.Syncer       = (*IntegrationClient)(nil)
	_ sdk.TaskPusher   = (*IntegrationClient)(nil)
	_ sdk.ToolProvider = (*IntegrationClient)(nil)
	_ sdk.Linker       = (*IntegrationClient)(nil)
)

func (c *IntegrationClient) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	out, err := c.c.Describe(ctx, &pb.DescribeRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Describe", err)
	}
	return manifestFromPB(out), nil
}

func (c *IntegrationClient) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	out, err := c.c.Sync(ctx, &pb.SyncRequest{Connection: connToPB(&req.Connection), Cursor: req.Cursor, PageSize: int32(req.PageSize)})
	if err != nil {
		return nil, errorFromStatus(ctx, "Sync", err)
	}
	return syncResponseFromPB(out), nil
}

func (c *IntegrationClient) PushTask(ctx context.Context, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	out, err := c.c.PushTask(ctx, pushTaskRequestToPB(req))
	if err != nil {
		return nil, errorFromStatus(ctx, "PushTask", err)
	}
	return &sdk.PushTaskResponse{ExternalID: out.ExternalId, URL: out.Url, UpdatedAt: tsFromPB(out.UpdatedAt)}, nil
}

func (c *IntegrationClient) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	out, err := c.c.ListTools(ctx, &pb.ListToolsRequest{Connection: connToPB(&req.Connection)})
	if err != nil {
		return nil, errorFromStatus(ctx, "ListTools", err)
	}
	return &sdk.ListToolsResponse{Tools: toolsFromPB(out.Tools)}, nil
}

func (c *IntegrationClient) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	out, err := c.c.ExecuteTool(ctx, &pb.ExecuteToolRequest{Connection: connToPB(&req.Connection), Name: req.Name, Arguments: req.Arguments})
	if err != nil {
		return nil, errorFromStatus(ctx, "ExecuteTool", err)
	}
	return &sdk.ExecuteToolResponse{Output: out.Output}, nil
}

func (c *IntegrationClient) BeginLink(ctx context.Context, req *sdk.BeginLinkRequest) (*sdk.BeginLinkResponse, error) {
	out, err := c.c.BeginLink(ctx, &pb.BeginLinkRequest{Connection: connToPB(&req.Connection), UserRef: req.UserRef,
		CallbackUrl: req.CallbackURL, Params: req.Params})
	if err != nil {
		return nil, errorFromStatus(ctx, "BeginLink", err)
	}
	return &sdk.BeginLinkResponse{URL: out.Url, AccountID: out.AccountId, ExpiresAt: tsFromPB(out.ExpiresAt)}, nil
}

func (c *IntegrationClient) CheckLink(ctx context.Context, req *sdk.CheckLinkRequest) (*sdk.CheckLinkResponse, error) {
	out, err := c.c.CheckLink(ctx, &pb.CheckLinkRequest{Connection: connToPB(&req.Connection), AccountId: req.AccountID})
	if err != nil {
		return nil, errorFromStatus(ctx, "CheckLink", err)
	}
	return &sdk.CheckLinkResponse{State: sdk.LinkState(out.State), Message: out.Message}, nil
}
