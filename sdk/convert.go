package sdk

import (
	"time"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/consilium-hq/consilium/sdk/internal/wire"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the SDK's Go types and the wire types. Zero times and
// durations travel as absent fields.

func tsToPB(t time.Time) *timestamppb.Timestamp { return wire.TimeToPB(t) }

func tsFromPB(t *timestamppb.Timestamp) time.Time { return wire.TimeFromPB(t) }

func durToPB(d time.Duration) *durationpb.Duration { return wire.DurToPB(d) }

func durFromPB(d *durationpb.Duration) time.Duration { return wire.DurFromPB(d) }

func connToPB(c *Connection) *pb.Connection {
	out := &pb.Connection{Id: c.ID, Config: c.Config, Secrets: c.Secrets}
	if c.Token != nil {
		out.Token = &pb.Token{AccessToken: c.Token.AccessToken, TokenType: c.Token.TokenType, Expiry: tsToPB(c.Token.Expiry)}
	}
	return out
}

func connFromPB(c *pb.Connection) Connection {
	if c == nil {
		return Connection{}
	}
	out := Connection{ID: c.Id, Config: c.Config, Secrets: c.Secrets}
	if t := c.Token; t != nil {
		out.Token = &Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: tsFromPB(t.Expiry)}
	}
	return out
}

func capsToStrings(cs []Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func capsFromStrings(ss []string) []Capability {
	if ss == nil {
		return nil
	}
	out := make([]Capability, len(ss))
	for i, s := range ss {
		out[i] = Capability(s)
	}
	return out
}

func manifestToPB(m *Manifest) *pb.Manifest {
	out := &pb.Manifest{
		Name: m.Name, DisplayName: m.DisplayName, Description: m.Description, Version: m.Version,
		Auth:            &pb.Auth{Type: string(m.Auth.Type)},
		Capabilities:    capsToStrings(m.Capabilities),
		ProtocolVersion: int32(m.ProtocolVersion), Methods: m.Methods, SdkVersion: m.SDKVersion,
	}
	if o := m.Auth.OAuth2; o != nil {
		out.Auth.Oauth2 = &pb.OAuth2{AuthUrl: o.AuthURL, TokenUrl: o.TokenURL, Scopes: o.Scopes, Pkce: o.PKCE, AuthParams: o.AuthParams}
	}
	for _, f := range m.Config {
		out.Config = append(out.Config, &pb.ConfigField{Key: f.Key, Label: f.Label, Help: f.Help, Type: f.Type,
			Required: f.Required, Secret: f.Secret, Default: f.Default})
	}
	for _, md := range m.Models {
		out.Models = append(out.Models, &pb.Model{Id: md.ID, DisplayName: md.DisplayName,
			Capabilities: capsToStrings(md.Capabilities), ContextWindow: int32(md.ContextWindow),
			EmbeddingDimension: int32(md.EmbeddingDimension)})
	}
	for _, l := range m.RateLimits {
		out.RateLimits = append(out.RateLimits, &pb.RateLimit{Scope: string(l.Scope), Requests: int32(l.Requests),
			Per: durToPB(l.Per), Burst: int32(l.Burst)})
	}
	return out
}

func manifestFromPB(m *pb.Manifest) *Manifest {
	out := &Manifest{
		Name: m.Name, DisplayName: m.DisplayName, Description: m.Description, Version: m.Version,
		Capabilities:    capsFromStrings(m.Capabilities),
		ProtocolVersion: int(m.ProtocolVersion), Methods: m.Methods, SDKVersion: m.SdkVersion,
	}
	if a := m.Auth; a != nil {
		out.Auth.Type = AuthType(a.Type)
		if o := a.Oauth2; o != nil {
			out.Auth.OAuth2 = &OAuth2{AuthURL: o.AuthUrl, TokenURL: o.TokenUrl, Scopes: o.Scopes, PKCE: o.Pkce, AuthParams: o.AuthParams}
		}
	}
	for _, f := range m.Config {
		out.Config = append(out.Config, ConfigField{Key: f.Key, Label: f.Label, Help: f.Help, Type: f.Type,
			Required: f.Required, Secret: f.Secret, Default: f.Default})
	}
	for _, md := range m.Models {
		out.Models = append(out.Models, Model{ID: md.Id, DisplayName: md.DisplayName,
			Capabilities: capsFromStrings(md.Capabilities), ContextWindow: int(md.ContextWindow),
			EmbeddingDimension: int(md.EmbeddingDimension)})
	}
	for _, l := range m.RateLimits {
		out.RateLimits = append(out.RateLimits, RateLimit{Scope: RateLimitScope(l.Scope), Requests: int(l.Requests),
			Per: durFromPB(l.Per), Burst: int(l.Burst)})
	}
	return out
}

// LLM.

func toolCallToPB(c *ToolCall) *pb.ToolCall {
	return &pb.ToolCall{Id: c.ID, Name: c.Name, Arguments: c.Arguments}
}

func toolCallFromPB(c *pb.ToolCall) ToolCall {
	return ToolCall{ID: c.Id, Name: c.Name, Arguments: c.Arguments}
}

func messageToPB(m *Message) *pb.Message {
	out := &pb.Message{Role: string(m.Role), Content: m.Content, ToolCallId: m.ToolCallID, Name: m.Name}
	for i := range m.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, toolCallToPB(&m.ToolCalls[i]))
	}
	return out
}

func messageFromPB(m *pb.Message) Message {
	if m == nil {
		return Message{}
	}
	out := Message{Role: Role(m.Role), Content: m.Content, ToolCallID: m.ToolCallId, Name: m.Name}
	for _, c := range m.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, toolCallFromPB(c))
	}
	return out
}

func chatRequestToPB(r *ChatRequest) *pb.ChatRequest {
	out := &pb.ChatRequest{Connection: connToPB(&r.Connection), Model: r.Model, Temperature: r.Temperature,
		MaxTokens: int32(r.MaxTokens), Stream: r.Stream}
	for i := range r.Messages {
		out.Messages = append(out.Messages, messageToPB(&r.Messages[i]))
	}
	for _, t := range r.Tools {
		out.Tools = append(out.Tools, &pb.ToolDefinition{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return out
}

func chatRequestFromPB(r *pb.ChatRequest) *ChatRequest {
	out := &ChatRequest{Connection: connFromPB(r.Connection), Model: r.Model, Temperature: r.Temperature,
		MaxTokens: int(r.MaxTokens), Stream: r.Stream}
	for _, m := range r.Messages {
		out.Messages = append(out.Messages, messageFromPB(m))
	}
	for _, t := range r.Tools {
		out.Tools = append(out.Tools, ToolDefinition{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
	}
	return out
}

func chatEventToPB(e *ChatEvent) *pb.ChatEvent {
	out := &pb.ChatEvent{Text: e.Text}
	if e.ToolCall != nil {
		out.ToolCall = toolCallToPB(e.ToolCall)
	}
	return out
}

func chatEventFromPB(e *pb.ChatEvent) *ChatEvent {
	out := &ChatEvent{Text: e.Text}
	if e.ToolCall != nil {
		c := toolCallFromPB(e.ToolCall)
		out.ToolCall = &c
	}
	return out
}

func chatResponseToPB(r *ChatResponse) *pb.ChatResponse {
	return &pb.ChatResponse{Message: messageToPB(&r.Message), StopReason: r.StopReason, Model: r.Model,
		Usage: &pb.Usage{InputTokens: int32(r.Usage.InputTokens), OutputTokens: int32(r.Usage.OutputTokens)}}
}

func chatResponseFromPB(r *pb.ChatResponse) *ChatResponse {
	out := &ChatResponse{Message: messageFromPB(r.Message), StopReason: r.StopReason, Model: r.Model}
	if u := r.Usage; u != nil {
		out.Usage = Usage{InputTokens: int(u.InputTokens), OutputTokens: int(u.OutputTokens)}
	}
	return out
}

func embedResponseToPB(r *EmbedResponse) *pb.EmbedResponse {
	out := &pb.EmbedResponse{Model: r.Model, Dimension: int32(r.Dimension)}
	for _, v := range r.Vectors {
		out.Vectors = append(out.Vectors, &pb.Vector{Values: v})
	}
	return out
}

func embedResponseFromPB(r *pb.EmbedResponse) *EmbedResponse {
	out := &EmbedResponse{Model: r.Model, Dimension: int(r.Dimension)}
	for _, v := range r.Vectors {
		out.Vectors = append(out.Vectors, v.Values)
	}
	return out
}

// Integration.

func taskToPB(t *Task) *pb.Task {
	return &pb.Task{Title: t.Title, Description: t.Description, Status: string(t.Status), Priority: t.Priority,
		Due: tsToPB(t.Due), DueHasTime: t.DueHasTime, ParentExternalId: t.ParentExternalID, Tags: t.Tags, List: t.List,
		StatusName: t.StatusName, ListId: t.ListID}
}

func taskFromPB(t *pb.Task) Task {
	if t == nil {
		return Task{}
	}
	return Task{Title: t.Title, Description: t.Description, Status: TaskStatus(t.Status), Priority: t.Priority,
		Due: tsFromPB(t.Due), DueHasTime: t.DueHasTime, ParentExternalID: t.ParentExternalId, Tags: t.Tags, List: t.List,
		StatusName: t.StatusName, ListID: t.ListId}
}

func pushTaskRequestToPB(r *PushTaskRequest) *pb.PushTaskRequest {
	out := &pb.PushTaskRequest{Connection: connToPB(&r.Connection), Action: string(r.Action),
		ExternalId: r.ExternalID, Task: taskToPB(&r.Task)}
	for _, f := range r.Fields {
		out.Fields = append(out.Fields, string(f))
	}
	return out
}

func pushTaskRequestFromPB(r *pb.PushTaskRequest) *PushTaskRequest {
	out := &PushTaskRequest{Connection: connFromPB(r.Connection), Action: PushAction(r.Action),
		ExternalID: r.ExternalId, Task: taskFromPB(r.Task)}
	for _, f := range r.Fields {
		out.Fields = append(out.Fields, TaskField(f))
	}
	return out
}

func recordToPB(r *Record) *pb.Record {
	out := &pb.Record{ExternalId: r.ExternalID, Kind: string(r.Kind), Url: r.URL, UpdatedAt: tsToPB(r.UpdatedAt), Data: r.Data}
	if r.Task != nil {
		out.Task = taskToPB(r.Task)
	}
	if e := r.Email; e != nil {
		out.Email = &pb.Email{ThreadId: e.ThreadID, From: e.From, To: e.To, Subject: e.Subject, Snippet: e.Snippet,
			Body: e.Body, ReceivedAt: tsToPB(e.ReceivedAt), Labels: e.Labels}
	}
	return out
}

func recordFromPB(r *pb.Record) Record {
	out := Record{ExternalID: r.ExternalId, Kind: RecordKind(r.Kind), URL: r.Url, UpdatedAt: tsFromPB(r.UpdatedAt), Data: r.Data}
	if r.Task != nil {
		t := taskFromPB(r.Task)
		out.Task = &t
	}
	if e := r.Email; e != nil {
		out.Email = &Email{ThreadID: e.ThreadId, From: e.From, To: e.To, Subject: e.Subject, Snippet: e.Snippet,
			Body: e.Body, ReceivedAt: tsFromPB(e.ReceivedAt), Labels: e.Labels}
	}
	return out
}

func syncResponseToPB(r *SyncResponse) *pb.SyncResponse {
	out := &pb.SyncResponse{Deletes: r.Deletes, NextCursor: r.NextCursor, HasMore: r.HasMore, Reset_: r.Reset}
	for i := range r.Upserts {
		out.Upserts = append(out.Upserts, recordToPB(&r.Upserts[i]))
	}
	return out
}

func syncResponseFromPB(r *pb.SyncResponse) *SyncResponse {
	out := &SyncResponse{Deletes: r.Deletes, NextCursor: r.NextCursor, HasMore: r.HasMore, Reset: r.Reset_}
	for _, rec := range r.Upserts {
		out.Upserts = append(out.Upserts, recordFromPB(rec))
	}
	return out
}

func toolsToPB(ts []Tool) []*pb.Tool {
	var out []*pb.Tool
	for _, t := range ts {
		out = append(out, &pb.Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema})
	}
	return out
}

func toolsFromPB(ts []*pb.Tool) []Tool {
	var out []Tool
	for _, t := range ts {
		out = append(out, Tool{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema})
	}
	return out
}
