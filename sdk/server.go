package sdk

import (
	"context"
	"errors"
	"sync"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Servers of the plugin side: they adapt the Go interfaces to the generated
// gRPC services. Optional interfaces are looked up per call, so a method the
// plugin does not implement answers unimplemented.

type controlServer struct {
	pb.UnimplementedControlServer
	rt    *pluginRuntime
	kinds []string
}

func (s *controlServer) Init(ctx context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	if err := s.rt.init(req); err != nil {
		return nil, errorToStatus(ctx, err)
	}
	return &pb.InitResponse{SdkVersion: Version, Kinds: s.kinds}, nil
}

// serverRegistry registers Control once per gRPC server even when a process
// serves both kinds.
type serverRegistry struct {
	rt    *pluginRuntime
	kinds []string
	once  sync.Once
}

func (r *serverRegistry) register(broker *plugin.GRPCBroker, s *grpc.Server) {
	r.rt.mu.Lock()
	r.rt.broker = broker
	r.rt.mu.Unlock()
	r.once.Do(func() { pb.RegisterControlServer(s, &controlServer{rt: r.rt, kinds: r.kinds}) })
}

// go-plugin Plugin implementations of the plugin side; package sdk/host has
// the host side's.

type llmPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl LLM
	reg  *serverRegistry
}

func (p *llmPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	p.reg.register(broker, s)
	pb.RegisterLLMServer(s, &llmServer{impl: p.impl, rt: p.reg.rt})
	return nil
}

func (p *llmPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("package sdk serves plugins; hosts dispense them with sdk/host")
}

type integrationPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Integration
	reg  *serverRegistry
}

func (p *integrationPlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	p.reg.register(broker, s)
	pb.RegisterIntegrationServer(s, &integrationServer{impl: p.impl, rt: p.reg.rt})
	return nil
}

func (p *integrationPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("package sdk serves plugins; hosts dispense them with sdk/host")
}

func finishManifest(m *Manifest, methods []string) *Manifest {
	out := *m
	out.ProtocolVersion = ProtocolVersion
	out.SDKVersion = Version
	out.Methods = methods
	return &out
}

func noResponse(method string) error {
	return Errorf(CodeInternal, "%s returned neither a response nor an error", method)
}

func unimplemented(method string) error {
	return Errorf(CodeUnimplemented, "this plugin does not implement %s", method)
}

// LLM.

func llmMethods(impl LLM) []string {
	m := []string{"Describe", "Chat"}
	if _, ok := impl.(Embedder); ok {
		m = append(m, "Embed")
	}
	if _, ok := impl.(Transcriber); ok {
		m = append(m, "Transcribe")
	}
	return m
}

type llmServer struct {
	pb.UnimplementedLLMServer
	impl LLM
	rt   *pluginRuntime
}

func (s *llmServer) Describe(ctx context.Context, req *pb.DescribeRequest) (out *pb.Manifest, err error) {
	err = s.rt.call(ctx, "Describe", func(ctx context.Context) error {
		m, err := s.impl.Describe(ctx, &DescribeRequest{Connection: connFromPB(req.Connection)})
		if err != nil {
			return err
		}
		if m == nil {
			return noResponse("Describe")
		}
		out = manifestToPB(finishManifest(m, llmMethods(s.impl)))
		return nil
	})
	return out, err
}

func (s *llmServer) Chat(req *pb.ChatRequest, st pb.LLM_ChatServer) error {
	return s.rt.call(st.Context(), "Chat", func(ctx context.Context) error {
		send := ChatStreamFunc(func(ev *ChatEvent) error {
			if ev == nil {
				return nil
			}
			return st.Send(&pb.ChatChunk{Chunk: &pb.ChatChunk_Event{Event: chatEventToPB(ev)}})
		})
		resp, err := s.impl.Chat(ctx, chatRequestFromPB(req), send)
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("Chat")
		}
		return st.Send(&pb.ChatChunk{Chunk: &pb.ChatChunk_Response{Response: chatResponseToPB(resp)}})
	})
}

func (s *llmServer) Embed(ctx context.Context, req *pb.EmbedRequest) (out *pb.EmbedResponse, err error) {
	err = s.rt.call(ctx, "Embed", func(ctx context.Context) error {
		e, ok := s.impl.(Embedder)
		if !ok {
			return unimplemented("Embed")
		}
		resp, err := e.Embed(ctx, &EmbedRequest{Connection: connFromPB(req.Connection), Model: req.Model, Texts: req.Texts})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("Embed")
		}
		out = embedResponseToPB(resp)
		return nil
	})
	return out, err
}

func (s *llmServer) Transcribe(ctx context.Context, req *pb.TranscribeRequest) (out *pb.TranscribeResponse, err error) {
	err = s.rt.call(ctx, "Transcribe", func(ctx context.Context) error {
		t, ok := s.impl.(Transcriber)
		if !ok {
			return unimplemented("Transcribe")
		}
		resp, err := t.Transcribe(ctx, &TranscribeRequest{Connection: connFromPB(req.Connection), Model: req.Model,
			Image: req.Image, MIMEType: req.MimeType, Language: req.Language})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("Transcribe")
		}
		out = &pb.TranscribeResponse{Text: resp.Text}
		return nil
	})
	return out, err
}

// Integration.

func integrationMethods(impl Integration) []string {
	m := []string{"Describe"}
	if _, ok := impl.(Syncer); ok {
		m = append(m, "Sync")
	}
	if _, ok := impl.(TaskPusher); ok {
		m = append(m, "PushTask")
	}
	if _, ok := impl.(ToolProvider); ok {
		m = append(m, "ListTools", "ExecuteTool")
	}
	if _, ok := impl.(Linker); ok {
		m = append(m, "BeginLink", "CheckLink")
	}
	return m
}

type integrationServer struct {
	pb.UnimplementedIntegrationServer
	impl Integration
	rt   *pluginRuntime
}

func (s *integrationServer) Describe(ctx context.Context, req *pb.DescribeRequest) (out *pb.Manifest, err error) {
	err = s.rt.call(ctx, "Describe", func(ctx context.Context) error {
		m, err := s.impl.Describe(ctx, &DescribeRequest{Connection: connFromPB(req.Connection)})
		if err != nil {
			return err
		}
		if m == nil {
			return noResponse("Describe")
		}
		out = manifestToPB(finishManifest(m, integrationMethods(s.impl)))
		return nil
	})
	return out, err
}

func (s *integrationServer) Sync(ctx context.Context, req *pb.SyncRequest) (out *pb.SyncResponse, err error) {
	err = s.rt.call(ctx, "Sync", func(ctx context.Context) error {
		sy, ok := s.impl.(Syncer)
		if !ok {
			return unimplemented("Sync")
		}
		resp, err := sy.Sync(ctx, &SyncRequest{Connection: connFromPB(req.Connection), Cursor: req.Cursor, PageSize: int(req.PageSize)})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("Sync")
		}
		out = syncResponseToPB(resp)
		return nil
	})
	return out, err
}

func (s *integrationServer) PushTask(ctx context.Context, req *pb.PushTaskRequest) (out *pb.PushTaskResponse, err error) {
	err = s.rt.call(ctx, "PushTask", func(ctx context.Context) error {
		p, ok := s.impl.(TaskPusher)
		if !ok {
			return unimplemented("PushTask")
		}
		resp, err := p.PushTask(ctx, pushTaskRequestFromPB(req))
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("PushTask")
		}
		out = &pb.PushTaskResponse{ExternalId: resp.ExternalID, Url: resp.URL, UpdatedAt: tsToPB(resp.UpdatedAt)}
		return nil
	})
	return out, err
}

func (s *integrationServer) ListTools(ctx context.Context, req *pb.ListToolsRequest) (out *pb.ListToolsResponse, err error) {
	err = s.rt.call(ctx, "ListTools", func(ctx context.Context) error {
		tp, ok := s.impl.(ToolProvider)
		if !ok {
			return unimplemented("ListTools")
		}
		resp, err := tp.ListTools(ctx, &ListToolsRequest{Connection: connFromPB(req.Connection)})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("ListTools")
		}
		out = &pb.ListToolsResponse{Tools: toolsToPB(resp.Tools)}
		return nil
	})
	return out, err
}

func (s *integrationServer) ExecuteTool(ctx context.Context, req *pb.ExecuteToolRequest) (out *pb.ExecuteToolResponse, err error) {
	err = s.rt.call(ctx, "ExecuteTool", func(ctx context.Context) error {
		tp, ok := s.impl.(ToolProvider)
		if !ok {
			return unimplemented("ExecuteTool")
		}
		resp, err := tp.ExecuteTool(ctx, &ExecuteToolRequest{Connection: connFromPB(req.Connection), Name: req.Name, Arguments: req.Arguments})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("ExecuteTool")
		}
		out = &pb.ExecuteToolResponse{Output: resp.Output}
		return nil
	})
	return out, err
}

func (s *integrationServer) BeginLink(ctx context.Context, req *pb.BeginLinkRequest) (out *pb.BeginLinkResponse, err error) {
	err = s.rt.call(ctx, "BeginLink", func(ctx context.Context) error {
		l, ok := s.impl.(Linker)
		if !ok {
			return unimplemented("BeginLink")
		}
		resp, err := l.BeginLink(ctx, &BeginLinkRequest{Connection: connFromPB(req.Connection), UserRef: req.UserRef,
			CallbackURL: req.CallbackUrl, Params: req.Params})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("BeginLink")
		}
		out = &pb.BeginLinkResponse{Url: resp.URL, AccountId: resp.AccountID, ExpiresAt: tsToPB(resp.ExpiresAt)}
		return nil
	})
	return out, err
}

func (s *integrationServer) CheckLink(ctx context.Context, req *pb.CheckLinkRequest) (out *pb.CheckLinkResponse, err error) {
	err = s.rt.call(ctx, "CheckLink", func(ctx context.Context) error {
		l, ok := s.impl.(Linker)
		if !ok {
			return unimplemented("CheckLink")
		}
		resp, err := l.CheckLink(ctx, &CheckLinkRequest{Connection: connFromPB(req.Connection), AccountID: req.AccountId})
		if err != nil {
			return err
		}
		if resp == nil {
			return noResponse("CheckLink")
		}
		out = &pb.CheckLinkResponse{State: string(resp.State), Message: resp.Message}
		return nil
	})
	return out, err
}
