package sdk

import (
	"context"
	"encoding/json"
)

// LLM is what a model provider plugin implements. Embedding and image
// transcription are optional: implement Embedder or Transcriber as well and
// the SDK advertises them; the host discovers them at run time, so an
// interface added in a later SDK version never breaks an existing plugin.
type LLM interface {
	Describe(ctx context.Context, req *DescribeRequest) (*Manifest, error)
	// Chat answers a conversation. A plugin that streams calls
	// stream.Send for each piece of text or complete tool call as it
	// arrives, then returns the whole answer.
	Chat(ctx context.Context, req *ChatRequest, stream ChatStream) (*ChatResponse, error)
}

// Embedder turns texts into vectors.
type Embedder interface {
	Embed(ctx context.Context, req *EmbedRequest) (*EmbedResponse, error)
}

// Transcriber turns an image (a photo of a page, a screenshot) into text.
type Transcriber interface {
	Transcribe(ctx context.Context, req *TranscribeRequest) (*TranscribeResponse, error)
}

// ChatStream receives a chat's events as they happen.
type ChatStream interface {
	Send(ev *ChatEvent) error
}

// ChatStreamFunc adapts a function to ChatStream.
type ChatStreamFunc func(ev *ChatEvent) error

// Send calls f(ev).
func (f ChatStreamFunc) Send(ev *ChatEvent) error { return f(ev) }

// Role says who speaks a chat message.
type Role string

// Roles of chat messages.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
	// ToolCalls made by the assistant in this turn.
	ToolCalls []ToolCall
	// ToolCallID is the call a tool message answers.
	ToolCallID string
	Name       string
}

// ToolCall is a model's request to run a tool.
type ToolCall struct {
	ID        string
	Name      string
	Arguments json.RawMessage
}

// ToolDefinition offers a tool to the model.
type ToolDefinition struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters json.RawMessage
}

// ChatRequest asks a model to answer.
type ChatRequest struct {
	Connection Connection
	Model      string
	Messages   []Message
	Tools      []ToolDefinition
	// Temperature is nil for the provider's default.
	Temperature *float64
	MaxTokens   int
	// Stream asks for events through the ChatStream; plugins that cannot
	// stream may ignore it.
	Stream bool
}

// ChatEvent is a piece of a streamed answer: some text, or a complete tool
// call.
type ChatEvent struct {
	Text     string
	ToolCall *ToolCall
}

// ChatResponse is the whole answer.
type ChatResponse struct {
	Message    Message
	StopReason string
	Usage      Usage
	Model      string
}

// Usage counts tokens.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// EmbedRequest asks for one vector per text.
type EmbedRequest struct {
	Connection Connection
	Model      string
	Texts      []string
}

// EmbedResponse has Vectors[i] for Texts[i], each of length Dimension.
type EmbedResponse struct {
	Model     string
	Dimension int
	Vectors   [][]float32
}

// TranscribeRequest asks for the text in an image.
type TranscribeRequest struct {
	Connection Connection
	Model      string
	Image      []byte
	MIMEType   string
	// Language hint as a BCP 47 tag, empty when unknown.
	Language string
}

// TranscribeResponse is the text found.
type TranscribeResponse struct {
	Text string
}
