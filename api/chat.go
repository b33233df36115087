package api

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Conversation is a conversation as the API shows it.
type Conversation struct {
	ID            uuid.UUID  `json:"id"`
	Title         string     `json:"title" example:"What is due this week?" doc:"Set by the user, or the first words of the first message."`
	Metadata      JSONObject `json:"metadata"`
	LastEventSeq  int64      `json:"last_event_seq" doc:"The seq of the conversation's last event. Read the conversation, then its messages, then stream its events with after_seq set to this: nothing is missed in between."`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastMessageAt *time.Time `json:"last_message_at" doc:"When the last message was stored; null before the first."`
}

func toConversation(c *chat.Conversation) Conversation {
	return Conversation{ID: c.ID, Title: c.Title, Metadata: JSONObject(c.Metadata), LastEventSeq: c.LastEventSeq,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, LastMessageAt: c.LastMessageAt}
}

// ConversationRequest creates or changes a conversation; PUT changes only
// the fields sent.
type ConversationRequest struct {
	Title    *string     `json:"title,omitempty" maxLength:"200" example:"Planning the week" doc:"One line. Left empty, the conversation takes the first words of its first message."`
	Metadata *JSONObject `json:"metadata,omitempty" doc:"Replaces the metadata."`
}

func (r *ConversationRequest) fields() *chat.ConversationFields {
	return &chat.ConversationFields{Title: r.Title, Metadata: rawObject(r.Metadata)}
}

// ChatMessage is a message as the API shows it.
type ChatMessage struct {
	ID             uuid.UUID  `json:"id"`
	ConversationID uuid.UUID  `json:"conversation_id"`
	Role           string     `json:"role" enum:"user,assistant,tool,system"`
	Content        string     `json:"content"`
	AgentID        *string    `json:"agent_id" doc:"The agent that wrote the message, or the one a user's message was sent to; null when the user named none."`
	RunID          *uuid.UUID `json:"run_id" nullable:"true" doc:"The run a user's message started, or the run that wrote any other message."`
	Metadata       JSONObject `json:"metadata" doc:"What the server records with a message: provider, model, tool calls, citations, usage; incomplete: true, stop_reason (cancelled, budget_exceeded, model_temporary, ...) and error on an answer that did not finish; a tool message's call_id, tool, status and summary."`
	CreatedAt      time.Time  `json:"created_at"`
}

func toChatMessage(m *chat.Message) ChatMessage {
	return ChatMessage{ID: m.ID, ConversationID: m.ConversationID, Role: m.Role, Content: m.Content, AgentID: m.AgentID,
		RunID: m.RunID, Metadata: JSONObject(m.Metadata), CreatedAt: m.CreatedAt}
}

// SendMessageRequest is a user's message.
type SendMessageRequest struct {
	Content     string  `json:"content" minLength:"1" maxLength:"32000" example:"What is due this week?" doc:"The message, at most 32,000 characters."`
	AgentID     *string `json:"agent_id,omitempty" example:"assistant" doc:"The agent to talk to (GET /api/ai/agents lists them); absent: the first configured agent answers."`
	ClientMsgID string  `json:"client_msg_id" format:"uuid" example:"6f1c1d1e-8d3a-4c55-9d6b-2f0e6f7a9b10" doc:"A random UUID the client makes for this message. Sending it again (after a lost answer) answers the first send and starts nothing; sending it with another content answers 409."`
}

// SentMessage is the 202 of send-message.
type SentMessage struct {
	Message  ChatMessage `json:"message"`
	RunID    uuid.UUID   `json:"run_id" doc:"The run that answers: follow it on the conversation's event stream (run.started ... run.completed)."`
	Repeated bool        `json:"repeated" doc:"True when client_msg_id had been sent before: message and run_id are the first send's."`
}

// ChatRun is a run as the API shows it.
type ChatRun struct {
	ID              uuid.UUID     `json:"id"`
	ConversationID  uuid.UUID     `json:"conversation_id"`
	MessageID       uuid.UUID     `json:"message_id" doc:"The user's message the run answers."`
	AgentID         string        `json:"agent_id"`
	Status          string        `json:"status" enum:"queued,running,waiting_approval,completed,cancelled,failed,budget_exceeded" doc:"waiting_approval: stopped at an action that needs the user's approval (answer-approval); no worker holds it."`
	CancelRequested bool          `json:"cancel_requested" doc:"A cancel was asked for; the worker running the run stops at its next step."`
	Error           *ChatRunError `json:"error" doc:"Why the run failed; null otherwise."`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

// ChatRunError says why a run did not complete.
type ChatRunError struct {
	_       struct{} `nullable:"true"` // null on a run that did not fail
	Code    string   `json:"code" example:"unavailable"`
	Message string   `json:"message"`
}

func toChatRun(r *chat.Run) ChatRun {
	out := ChatRun{ID: r.ID, ConversationID: r.ConversationID, MessageID: r.MessageID, AgentID: r.AgentID, Status: r.Status,
		CancelRequested: r.CancelRequested, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.ErrorCode != "" {
		out.Error = &ChatRunError{Code: r.ErrorCode, Message: r.ErrorMessage}
	}
	return out
}

// ConversationList is a page of conversations.
type ConversationList page.Page[Conversation]

// MessageList is a page of messages.
type MessageList page.Page[ChatMessage]

// ConversationPath is the path of a conversation's operations (exported:
// Huma reads parameters of embedded structs only when they are).
type ConversationPath struct {
	ConversationID string `path:"conversation_id" format:"uuid" doc:"The conversation's id."`
}

func (p *ConversationPath) id() (uuid.UUID, error) { return parseID(p.ConversationID, "conversation") }

type runPath struct {
	ConversationID string `path:"conversation_id" format:"uuid" doc:"The conversation's id."`
	RunID          string `path:"run_id" format:"uuid" doc:"The run's id (run_id of send-message and of every event of the run)."`
}

type conversationCreatedOutput struct {
	Location string `header:"Location" doc:"The new conversation: /api/conversations/{conversation_id}."`
	Body     Conversation
}

// ChatTicketRequest asks for a socket ticket.
type ChatTicketRequest struct {
	ConversationID string `json:"conversation_id" format:"uuid" doc:"The conversation the socket will open."`
}

// ChatTicket opens one socket.
type ChatTicket struct {
	Ticket    string    `json:"ticket" doc:"Pass as ?ticket= when opening WS /api/chat/{conversation_id}. Single-use."`
	ExpiresAt time.Time `json:"expires_at" doc:"Use it before this (60 seconds after it was issued)."`
}

var chatTags = []string{"chat"}

// chatProtocol documents the stream for the frontend developer; the
// operations that stream quote it.
const chatProtocol = "**Events.** Every event of a conversation is one JSON object " +
	"`{type, seq, conversation_id, run_id, created_at, ...}` with the fields of its type. `seq` counts the " +
	"conversation's events from 1 without gaps; `run_id` names the run an event belongs to (null for none). Types: " +
	"`run.started` {agent_id, attempt}; `message.delta` {message_id, text} (more text of a message being written, " +
	"batched); `message.completed` {message_id, message} (a message was stored, the user's own included); " +
	"`run.completed` {status: completed|cancelled|failed|budget_exceeded}; `error` {code, message}; " +
	"`tool_call.started` {call_id, tool, agent, arguments, effect}; `tool_call.finished` {call_id, tool, agent, status, " +
	"summary}; `agent.delegated` {call_id, from, to, brief, expected_output, depth}; `agent.returned` {call_id, from, to, " +
	"summary}; `approval.required` {approval_id, tool, agent, call_id, arguments, effect, reason, provider?: the outside app of an external tool} (the run waits: answer " +
	"with answer-approval or the socket's approval.respond); `approval.answered` {approval_id, allow}. " +
	"`resync_required` {after_seq} means the events " +
	"after the seq asked for are no longer kept (they are kept for 24 hours): reload the messages; the stream " +
	"continues after the `seq` it carries.\n\n" +
	"**Resuming.** Read the conversation (its `last_event_seq`), then its messages, then open the stream with " +
	"`after_seq` = that seq: every later event comes exactly once. After a drop, reopen with the last seq seen " +
	"(SSE: `Last-Event-ID`, sent by SSE clients on reconnect). Runs live in workers: closing a stream never stops one.\n\n" +
	"**WebSocket** `GET /api/chat/{conversation_id}` (not in this document: OpenAPI cannot describe sockets). " +
	"Authenticate with `?ticket=` from POST /api/chat/ticket (browsers cannot send headers on a socket) or the " +
	"bearer header; a browser's Origin must be in http.cors_origins (or be the API's own). Frames are text, one JSON " +
	"object each. Client events carry `type` and an optional `ref` (up to 128 characters) that the answer echoes: " +
	"`subscribe` {after_seq?} starts (or restarts) the stream (absent after_seq: from now on); " +
	"`message.send` {content, agent_id?, client_msg_id} is send-message; `run.cancel` {run_id} is cancel-run; " +
	"`approval.respond` {approval_id, allow} is answer-approval. Each is answered by `ack` {ref, for, ...} " +
	"(message.send: message, run_id, repeated; run.cancel: run; approval.respond: approval; subscribe: after_seq) or by `error` {ref, for, code, " +
	"message, errors?}; a frame that is not a JSON object, an unknown type or a bad field gets an `error` naming " +
	"it, changes nothing and leaves the socket open. Replies (`ack`, and `error` answering a client event) are not " +
	"part of the log: their `seq` is null, and an `ack` may arrive after the events its request caused. The server " +
	"pings every 30 seconds and closes a socket that does not answer, or that does not take a frame within 10 seconds."

func registerChat(authed huma.API, svc *chat.Service, hub *chat.Hub) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-conversations", Method: http.MethodGet, Path: "/conversations", Tags: chatTags,
		Summary:     "List conversations",
		Description: "The signed-in user's conversations, the most recently active (last message, else creation) first. Page with next_cursor.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page."`
	}) (*struct{ Body ConversationList }, error) {
		res, err := svc.ListConversations(ctx, principal(ctx).User.ID, &chat.ConversationFilter{Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, err
		}
		return &struct{ Body ConversationList }{Body: ConversationList(page.Map(res, toConversation))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-conversation", Method: http.MethodPost, Path: "/conversations", Tags: chatTags,
		Summary: "Start a conversation", DefaultStatus: http.StatusCreated,
		Description: "An empty conversation. Without a title it takes the first words of its first message. " +
			"Send messages with send-message and follow the answers on the event stream.",
		Errors:      []int{http.StatusUnprocessableEntity},
		RequestBody: jsonExample(map[string]any{"title": "Planning the week", "metadata": map[string]any{"pinned": true}}),
	}, func(ctx context.Context, in *struct{ Body ConversationRequest }) (*conversationCreatedOutput, error) {
		c, err := svc.CreateConversation(ctx, principal(ctx).User.ID, in.Body.fields())
		if err != nil {
			return nil, err
		}
		return &conversationCreatedOutput{Location: apiPrefix + "/conversations/" + c.ID.String(), Body: toConversation(c)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-conversation", Method: http.MethodGet, Path: "/conversations/{conversation_id}", Tags: chatTags,
		Summary:     "Get a conversation",
		Description: "Another user's conversation answers 404, as one that does not exist.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *ConversationPath) (*struct{ Body Conversation }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		c, err := svc.GetConversation(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body Conversation }{toConversation(c)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "update-conversation", Method: http.MethodPut, Path: "/conversations/{conversation_id}", Tags: chatTags,
		Summary:     "Rename a conversation or change its metadata",
		Description: "Only the fields sent change; metadata is replaced whole. A change that changes nothing keeps updated_at.",
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		RequestBody: jsonExample(map[string]any{"title": "Planning the week"}),
	}, func(ctx context.Context, in *struct {
		ConversationPath
		Body ConversationRequest
	}) (*struct{ Body Conversation }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		c, err := svc.UpdateConversation(ctx, principal(ctx).User.ID, id, in.Body.fields())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Conversation }{toConversation(c)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "delete-conversation", Method: http.MethodDelete, Path: "/conversations/{conversation_id}", Tags: chatTags,
		Summary: "Delete a conversation", DefaultStatus: http.StatusNoContent,
		Description: "Deletes the conversation with its messages, runs and events. Its open streams end with an error " +
			"event {code: not_found}; a run still working finds nothing left to write to and stops.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *ConversationPath) (*struct{}, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		return nil, svc.DeleteConversation(ctx, principal(ctx).User.ID, id)
	})

	huma.Register(authed, huma.Operation{
		OperationID: "list-messages", Method: http.MethodGet, Path: "/conversations/{conversation_id}/messages", Tags: chatTags,
		Summary: "List a conversation's messages",
		Description: "Newest first by default (open a conversation at its end and page back with next_cursor), " +
			"or order=asc from the start. Messages of runs still being written appear when they are stored; " +
			"their text streams as message.delta events meanwhile.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *struct {
		ConversationPath
		Order  string `query:"order" enum:"desc,asc" default:"desc" doc:"desc: newest first; asc: oldest first."`
		Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page (with the same order)."`
	}) (*struct{ Body MessageList }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		res, err := svc.ListMessages(ctx, principal(ctx).User.ID, id, &chat.MessageFilter{Order: in.Order, Limit: in.Limit, Cursor: in.Cursor})
		if err != nil {
			return nil, err
		}
		return &struct{ Body MessageList }{Body: MessageList(page.Map(res, toChatMessage))}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "send-message", Method: http.MethodPost, Path: "/conversations/{conversation_id}/messages", Tags: chatTags,
		Summary: "Send a message", DefaultStatus: http.StatusAccepted,
		Description: "Stores the message and queues a run that answers it, in one transaction, and answers 202 at once " +
			"with the stored message and the run's id. The answer streams on the conversation's events (run.started, " +
			"message.delta, message.completed, run.completed); runs of one conversation answer in order. " +
			"client_msg_id makes retries safe: the same id with the same content answers the first send (repeated: " +
			"true) and starts nothing; with another content it answers 409. An unknown agent_id, an empty message or " +
			"one over 32,000 characters answers 422 naming the field; a deleted conversation 404.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		RequestBody: jsonExample(map[string]any{"content": "What is due this week?", "client_msg_id": "6f1c1d1e-8d3a-4c55-9d6b-2f0e6f7a9b10"}),
	}, func(ctx context.Context, in *struct {
		ConversationPath
		Body SendMessageRequest
	}) (*struct{ Body SentMessage }, error) {
		id, err := in.id()
		if err != nil {
			return nil, err
		}
		sent, err := svc.Send(ctx, principal(ctx).User.ID, id, &chat.SendParams{Content: in.Body.Content, AgentID: in.Body.AgentID, ClientMsgID: in.Body.ClientMsgID})
		if err != nil {
			return nil, err
		}
		return &struct{ Body SentMessage }{SentMessage{Message: toChatMessage(sent.Message), RunID: sent.RunID, Repeated: sent.Repeated}}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "get-run", Method: http.MethodGet, Path: "/conversations/{conversation_id}/runs/{run_id}", Tags: chatTags,
		Summary:     "Get a run",
		Description: "Where a run stands (the event stream says the same as it happens).",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *runPath) (*struct{ Body ChatRun }, error) {
		convID, runID, err := in.ids()
		if err != nil {
			return nil, err
		}
		r, err := svc.GetRun(ctx, principal(ctx).User.ID, convID, runID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ChatRun }{toChatRun(r)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "cancel-run", Method: http.MethodPost, Path: "/conversations/{conversation_id}/runs/{run_id}/cancel", Tags: chatTags,
		Summary: "Cancel a run",
		Description: "A queued run is cancelled at once; a running one is asked to stop, and the worker running it, on " +
			"whichever server, stops at its next step (run.completed {status: cancelled} follows on the stream). " +
			"A run that has ended is answered as it is. The same as the socket's run.cancel.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *runPath) (*struct{ Body ChatRun }, error) {
		convID, runID, err := in.ids()
		if err != nil {
			return nil, err
		}
		r, err := svc.CancelRun(ctx, principal(ctx).User.ID, convID, runID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ChatRun }{toChatRun(r)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "answer-approval", Method: http.MethodPost, Path: "/conversations/{conversation_id}/approvals/{approval_id}", Tags: chatTags,
		Summary: "Allow or deny an agent's action",
		Description: "An agent's destructive, external or bulk tool call, and any write once text from outside (a document, " +
			"mail) is in the turn, waits for the user: the run stops (status waiting_approval, holding no worker) and the " +
			"stream carries approval.required {approval_id, tool, arguments, effect, reason}. This answers it: allowed, the " +
			"call runs; denied, the agent is told the user said no. Either way the run is queued again and any worker resumes " +
			"it (approval.answered, then run.started follow on the stream). An approval answered before, or whose run has " +
			"ended (cancelled), answers 409; another user's or an unknown one 404. The same as the socket's approval.respond.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
		RequestBody: jsonExample(map[string]any{"allow": true}),
	}, func(ctx context.Context, in *struct {
		ApprovalPath
		Body ApprovalAnswer
	}) (*struct{ Body ChatApproval }, error) {
		convID, approvalID, err := in.ids()
		if err != nil {
			return nil, err
		}
		a, err := svc.AnswerApproval(ctx, principal(ctx).User.ID, convID, approvalID, *in.Body.Allow)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ChatApproval }{toChatApproval(a)}, nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "create-chat-ticket", Method: http.MethodPost, Path: "/chat/ticket", Tags: chatTags,
		Summary: "Get a ticket to open a chat socket",
		Description: "Browsers cannot send an Authorization header when they open a WebSocket: open " +
			"`WS /api/chat/{conversation_id}?ticket=...` with this ticket instead. It opens one socket on this " +
			"conversation, once, within 60 seconds; it is stored only as a hash.\n\n" + chatProtocol,
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		RequestBody: jsonExample(map[string]any{"conversation_id": "0b7e6f1a-3c2d-4e5f-8a9b-1c2d3e4f5a6b"}),
	}, func(ctx context.Context, in *struct{ Body ChatTicketRequest }) (*struct{ Body ChatTicket }, error) {
		id, err := field.ID("conversation_id", in.Body.ConversationID)
		if err != nil {
			return nil, err
		}
		t, err := svc.IssueTicket(ctx, principal(ctx).User.ID, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body ChatTicket }{ChatTicket{Ticket: t.Value, ExpiresAt: t.ExpiresAt}}, nil
	})

	registerChatEvents(authed, hub)
}

// ApprovalPath is the path of answer-approval (exported: Huma reads
// parameters of embedded structs only when they are).
type ApprovalPath struct {
	ConversationID string `path:"conversation_id" format:"uuid" doc:"The conversation's id."`
	ApprovalID     string `path:"approval_id" format:"uuid" doc:"approval_id of the approval.required event."`
}

func (p *ApprovalPath) ids() (uuid.UUID, uuid.UUID, error) {
	convID, err := parseID(p.ConversationID, "conversation")
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err := parseID(p.ApprovalID, "approval")
	return convID, id, err
}

// ApprovalAnswer is the user's answer to an approval.
type ApprovalAnswer struct {
	Allow *bool `json:"allow" required:"true" doc:"true lets the agent do it; false tells it the user said no."`
}

// ChatApproval is an agent's action waiting for (or answered by) the user.
type ChatApproval struct {
	ID             uuid.UUID  `json:"id"`
	ConversationID uuid.UUID  `json:"conversation_id"`
	RunID          uuid.UUID  `json:"run_id"`
	Agent          string     `json:"agent"`
	Tool           string     `json:"tool" example:"delete_task"`
	Arguments      any        `json:"arguments" doc:"The arguments the agent gave the tool."`
	Effect         string     `json:"effect" enum:"read,write,destructive,external"`
	Reason         string     `json:"reason" enum:"destructive,external,bulk,untrusted" doc:"Why it waited: its effect, its size, or text from outside in the turn."`
	Status         string     `json:"status" enum:"pending,allowed,denied"`
	CreatedAt      time.Time  `json:"created_at"`
	AnsweredAt     *time.Time `json:"answered_at" nullable:"true"`
}

func toChatApproval(a *chat.Approval) ChatApproval {
	var args any
	_ = json.Unmarshal(a.Arguments, &args)
	return ChatApproval{ID: a.ID, ConversationID: a.ConversationID, RunID: a.RunID, Agent: a.Agent, Tool: a.Tool,
		Arguments: args, Effect: string(a.Effect), Reason: a.Reason, Status: a.Status, CreatedAt: a.CreatedAt, AnsweredAt: a.AnsweredAt}
}

func (p *runPath) ids() (uuid.UUID, uuid.UUID, error) {
	convID, err := parseID(p.ConversationID, "conversation")
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	runID, err := parseID(p.RunID, "run")
	return convID, runID, err
}

// chatEventSchemas document the event objects of the stream, by type.
var chatEventSchemas = map[string]any{
	chat.EventRunStarted:       RunStartedEvent{},
	chat.EventMessageDelta:     MessageDeltaEvent{},
	chat.EventMessageCompleted: MessageCompletedEvent{},
	chat.EventRunCompleted:     RunCompletedEvent{},
	chat.EventToolCallStarted:  ToolCallStartedEvent{},
	chat.EventToolCallFinished: ToolCallFinishedEvent{},
	chat.EventAgentDelegated:   AgentDelegatedEvent{},
	chat.EventAgentReturned:    AgentReturnedEvent{},
	chat.EventApprovalRequired: ApprovalRequiredEvent{},
	chat.EventApprovalAnswered: ApprovalAnsweredEvent{},
	chat.EventError:            ChatErrorEvent{},
	chat.EventResyncRequired:   ResyncRequiredEvent{},
}

// ChatEventEnvelope is what every event carries.
type ChatEventEnvelope struct {
	Type           string     `json:"type"`
	Seq            *int64     `json:"seq" doc:"The event's place in the conversation (1, 2, ... without gaps); null on a socket's replies (ack, and errors answering a client event)."`
	ConversationID uuid.UUID  `json:"conversation_id"`
	RunID          *uuid.UUID `json:"run_id" nullable:"true" doc:"The run the event belongs to; null for none."`
	CreatedAt      time.Time  `json:"created_at"`
}

// RunStartedEvent: a worker took the run up.
type RunStartedEvent struct {
	ChatEventEnvelope
	AgentID string `json:"agent_id"`
	Attempt int    `json:"attempt" doc:"1, or more when a worker died mid-turn and another took the run up again."`
}

// MessageDeltaEvent is more text of a message being written.
type MessageDeltaEvent struct {
	ChatEventEnvelope
	MessageID uuid.UUID `json:"message_id" doc:"The message the text belongs to (message.completed carries it whole)."`
	Text      string    `json:"text" doc:"Text to append."`
}

// MessageCompletedEvent: a message was stored.
type MessageCompletedEvent struct {
	ChatEventEnvelope
	MessageID uuid.UUID   `json:"message_id"`
	Message   ChatMessage `json:"message"`
}

// RunCompletedEvent: the run ended.
type RunCompletedEvent struct {
	ChatEventEnvelope
	Status string `json:"status" enum:"completed,cancelled,failed,budget_exceeded"`
}

// ToolCallStartedEvent: an agent called a tool.
type ToolCallStartedEvent struct {
	ChatEventEnvelope
	CallID    string `json:"call_id"`
	Tool      string `json:"tool"`
	Agent     string `json:"agent"`
	Arguments any    `json:"arguments"`
	Effect    string `json:"effect" enum:"read,write,destructive,external"`
}

// ToolCallFinishedEvent: a tool call has its outcome.
type ToolCallFinishedEvent struct {
	ChatEventEnvelope
	CallID  string `json:"call_id"`
	Tool    string `json:"tool"`
	Agent   string `json:"agent"`
	Status  string `json:"status" enum:"completed,failed,denied,rejected"`
	Summary string `json:"summary"`
}

// AgentDelegatedEvent: an agent handed work to another.
type AgentDelegatedEvent struct {
	ChatEventEnvelope
	CallID         string `json:"call_id"`
	From           string `json:"from"`
	To             string `json:"to"`
	Brief          string `json:"brief"`
	ExpectedOutput string `json:"expected_output"`
	Depth          int    `json:"depth" doc:"1 for a delegate of the agent the user talks to, at most 2."`
}

// AgentReturnedEvent: a delegate answered.
type AgentReturnedEvent struct {
	ChatEventEnvelope
	CallID  string `json:"call_id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Summary string `json:"summary"`
}

// ApprovalRequiredEvent: the run waits for the user's approval.
type ApprovalRequiredEvent struct {
	ChatEventEnvelope
	ApprovalID uuid.UUID `json:"approval_id"`
	Tool       string    `json:"tool"`
	Agent      string    `json:"agent"`
	CallID     string    `json:"call_id"`
	Arguments  any       `json:"arguments"`
	Effect     string    `json:"effect" enum:"read,write,destructive,external"`
	Reason     string    `json:"reason" enum:"destructive,external,bulk,untrusted"`
}

// ApprovalAnsweredEvent: the user answered an approval.
type ApprovalAnsweredEvent struct {
	ChatEventEnvelope
	ApprovalID uuid.UUID `json:"approval_id"`
	Allow      bool      `json:"allow"`
}

// ChatErrorEvent says what went wrong.
type ChatErrorEvent struct {
	ChatEventEnvelope
	Code    string `json:"code" example:"unavailable" doc:"Machine-readable: unavailable, internal, not_found, agent_unavailable, ... (on a socket also bad_request, invalid, conflict, not_supported, rate_limited)."`
	Message string `json:"message"`
}

// ResyncRequiredEvent: the events after after_seq are no longer kept.
type ResyncRequiredEvent struct {
	ChatEventEnvelope
	AfterSeq int64 `json:"after_seq" doc:"The seq the stream was asked to start after."`
}

// sseEventSchema documents a text/event-stream of chat events the way
// Huma's sse package does: each item one SSE message.
func sseEventSchema(api huma.API, events map[string]any) *huma.Schema {
	var items []*huma.Schema
	for _, name := range slices.Sorted(maps.Keys(events)) {
		t := reflect.TypeOf(events[name])
		items = append(items, &huma.Schema{
			Title: "Event " + name,
			Type:  huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeInteger, Description: "The event's seq (absent on a final error that is not in the log)."},
				"event": {Type: huma.TypeString, Description: "The event's type.", Extensions: map[string]any{"const": name}},
				"data":  api.OpenAPI().Components.Schemas.Schema(t, true, name),
			},
			Required: []string{"event", "data"},
		})
	}
	return &huma.Schema{
		Title:       "Server-sent events",
		Description: "Each item is one SSE message: `id:` the seq, `event:` the type, `data:` the event object.",
		Type:        huma.TypeArray,
		Items:       &huma.Schema{Extensions: map[string]any{"oneOf": items}},
	}
}

// eventJSON is an event as a stream sends it.
func eventJSON(e chat.Event) []byte {
	b, _ := json.Marshal(e)
	return b
}
