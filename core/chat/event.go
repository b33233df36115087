package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/db"
)

// Event types. Clients see each event as one JSON object: type, seq,
// conversation_id, run_id, created_at and the fields of its type.
const (
	// EventRunStarted: a worker took the run up ({agent_id, attempt}).
	EventRunStarted = "run.started"
	// EventMessageDelta: more text of a message being written
	// ({message_id, text}); batched, never one per token.
	EventMessageDelta = "message.delta"
	// EventMessageCompleted: a message was stored ({message}), the user's
	// own included, so that every open client shows it.
	EventMessageCompleted = "message.completed"
	// Tool calls, delegation and approvals are written by the orchestrator.
	EventToolCallStarted  = "tool_call.started"
	EventToolCallFinished = "tool_call.finished"
	EventAgentDelegated   = "agent.delegated"
	EventAgentReturned    = "agent.returned"
	EventApprovalRequired = "approval.required"
	// EventApprovalAnswered: the user allowed or denied an approval
	// ({approval_id, allow}); the run resumes.
	EventApprovalAnswered = "approval.answered"
	// EventRunCompleted: the run ended ({status}).
	EventRunCompleted = "run.completed"
	// EventError: something went wrong ({code, message}); in the log when
	// a run failed, on one stream only when a client's request was bad.
	EventError = "error"
	// EventResyncRequired is never stored: a stream sends it instead of
	// events it no longer has ({after_seq}); its seq is the one the stream
	// continues after. The client reloads the conversation's messages.
	EventResyncRequired = "resync_required"
)

// Event is one entry of a conversation's event log.
type Event struct {
	Seq            int64
	ConversationID uuid.UUID
	RunID          *uuid.UUID
	Type           string
	// Payload is a JSON object of the type's own fields; its members must
	// not reuse the envelope's names (type, seq, conversation_id, run_id,
	// created_at).
	Payload   json.RawMessage
	CreatedAt time.Time
}

// NewEvent is an event to append: payload is marshalled to a JSON object.
func NewEvent(runID *uuid.UUID, typ string, payload any) Event {
	raw, err := json.Marshal(payload)
	if err != nil || len(raw) < 2 || raw[0] != '{' {
		// Payloads are our own structs and maps: a failure is a bug.
		panic(fmt.Sprintf("chat: event %s payload %T is not a JSON object: %v", typ, payload, err))
	}
	return Event{RunID: runID, Type: typ, Payload: raw}
}

// MarshalJSON writes the event as clients see it: the envelope, then the
// payload's fields.
func (e Event) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	t, _ := json.Marshal(e.Type)
	b.Write(t)
	b.WriteString(`,"seq":`)
	b.WriteString(strconv.FormatInt(e.Seq, 10))
	b.WriteString(`,"conversation_id":"`)
	b.WriteString(e.ConversationID.String())
	b.WriteString(`","run_id":`)
	if e.RunID != nil {
		b.WriteString(`"` + e.RunID.String() + `"`)
	} else {
		b.WriteString(`null`)
	}
	b.WriteString(`,"created_at":`)
	at, _ := e.CreatedAt.UTC().MarshalJSON()
	b.Write(at)
	if p := bytes.TrimSpace(e.Payload); len(p) > 2 {
		inner := bytes.TrimSpace(p[1 : len(p)-1])
		if len(inner) > 0 {
			b.WriteByte(',')
			b.Write(inner)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// notifyChannel carries '<conversation_id>:<last seq>' once per committed
// batch of events (and when a conversation is deleted).
const notifyChannel = "chat_events"

// AppendEvents appends events to the user's conversation in tx and returns
// them with their seqs. Seqs come from the conversation's counter, whose
// row stays locked until tx ends: they have no gaps and commit in order,
// so a reader that has seen seq n has seen every seq before it. One NOTIFY
// per call (delivered at commit) wakes the streams on every API process.
func AppendEvents(ctx context.Context, tx pgx.Tx, userID, convID uuid.UUID, events ...Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var last int64
	err := tx.QueryRow(ctx, `UPDATE conversations SET last_event_seq = last_event_seq + $3
		WHERE user_id = $1 AND id = $2 RETURNING last_event_seq`, userID, convID, len(events)).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	first := last - int64(len(events)) + 1
	runs := make([]string, len(events))
	types := make([]string, len(events))
	payloads := make([]string, len(events))
	for i, e := range events {
		if e.RunID != nil {
			runs[i] = e.RunID.String()
		}
		types[i] = e.Type
		payloads[i] = string(e.Payload)
		if len(e.Payload) == 0 {
			payloads[i] = "{}"
		}
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO chat_events (conversation_id, seq, user_id, run_id, type, payload)
		SELECT $1, $2::bigint + o.n - 1, $3, nullif(o.run_id, '')::uuid, o.type, o.payload::jsonb
		FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS o(run_id, type, payload, n)
		RETURNING seq, created_at`, convID, first, userID, runs, types, payloads)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	out := make([]Event, len(events))
	copy(out, events)
	i := 0
	for rows.Next() {
		var seq int64
		var at time.Time
		if err := rows.Scan(&seq, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("append events: %w", err)
		}
		out[seq-first].Seq, out[seq-first].CreatedAt, out[seq-first].ConversationID = seq, at, convID
		i++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	if i != len(events) {
		return nil, fmt.Errorf("append events: inserted %d of %d", i, len(events))
	}
	for j := range out {
		if len(out[j].Payload) == 0 {
			out[j].Payload = json.RawMessage(`{}`)
		}
	}
	return out, notifyEvents(ctx, tx, convID, last)
}

func notifyEvents(ctx context.Context, q db.Querier, convID uuid.UUID, last int64) error {
	if _, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, convID.String()+":"+strconv.FormatInt(last, 10)); err != nil {
		return fmt.Errorf("notify events: %w", err)
	}
	return nil
}

// eventLog is what a stream reads of a conversation: the events after a
// seq and where the log stands.
type eventLog struct {
	Events []Event
	// Last is the conversation's last seq; Pruned the last seq pruned.
	Last, Pruned int64
}

// readEvents reads at most limit events of the user's conversation after
// seq after; errNotFound when the conversation is not (or no longer) there.
func readEvents(ctx context.Context, q db.Querier, userID, convID uuid.UUID, after int64, limit int) (*eventLog, error) {
	rows, err := q.Query(ctx, `
		SELECT c.last_event_seq, c.pruned_event_seq, e.seq, e.run_id, e.type, e.payload, e.created_at
		FROM conversations c
		LEFT JOIN LATERAL (
			SELECT seq, run_id, type, payload, created_at FROM chat_events
			WHERE conversation_id = c.id AND seq > $3 ORDER BY seq LIMIT $4
		) e ON true
		WHERE c.user_id = $1 AND c.id = $2
		ORDER BY e.seq`, userID, convID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var log *eventLog
	for rows.Next() {
		var l eventLog
		var seq *int64
		var e Event
		var typ *string
		var at *time.Time
		if err := rows.Scan(&l.Last, &l.Pruned, &seq, &e.RunID, &typ, &e.Payload, &at); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		if log == nil {
			log = &l
		}
		if seq != nil {
			e.Seq, e.Type, e.CreatedAt, e.ConversationID = *seq, *typ, *at, convID
			log.Events = append(log.Events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if log == nil {
		return nil, errNotFound
	}
	return log, nil
}

// Events returns at most limit stored events of the user's conversation
// after seq after (tests and tools; streams use Hub.Subscribe).
func (s *Service) Events(ctx context.Context, userID, convID uuid.UUID, after int64, limit int) ([]Event, error) {
	l, err := readEvents(ctx, s.db.Pool, userID, convID, after, limit)
	if err != nil {
		return nil, err
	}
	return l.Events, nil
}

// Payloads of the events core writes.

type messagePayload struct {
	MessageID uuid.UUID      `json:"message_id"`
	Message   MessagePayload `json:"message"`
}

// MessagePayload is a message inside an event, shaped like the API's.
type MessagePayload struct {
	ID             uuid.UUID       `json:"id"`
	ConversationID uuid.UUID       `json:"conversation_id"`
	Role           string          `json:"role"`
	Content        string          `json:"content"`
	AgentID        *string         `json:"agent_id"`
	RunID          *uuid.UUID      `json:"run_id"`
	Metadata       json.RawMessage `json:"metadata"`
	CreatedAt      time.Time       `json:"created_at"`
}

func messageCompleted(runID uuid.UUID, m *Message) Event {
	return NewEvent(&runID, EventMessageCompleted, messagePayload{MessageID: m.ID, Message: MessagePayload{
		ID: m.ID, ConversationID: m.ConversationID, Role: m.Role, Content: m.Content, AgentID: m.AgentID,
		RunID: m.RunID, Metadata: m.Metadata, CreatedAt: m.CreatedAt}})
}

// DeltaEvent is a message.delta: more text of the message being written.
func DeltaEvent(runID, messageID uuid.UUID, text string) Event {
	return NewEvent(&runID, EventMessageDelta, struct {
		MessageID uuid.UUID `json:"message_id"`
		Text      string    `json:"text"`
	}{messageID, text})
}

// ErrorEvent is an error event: code is machine-readable, message is for
// people.
func ErrorEvent(runID *uuid.UUID, code, message string) Event {
	return NewEvent(runID, EventError, struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
}
