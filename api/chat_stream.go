package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/chat"
)

// optionalParam is a query parameter that tells "absent" from its zero
// value (Huma takes no pointers for parameters).
type optionalParam[T any] struct {
	Value T
	Set   bool
}

func (o *optionalParam[T]) Receiver() reflect.Value { return reflect.ValueOf(o).Elem().Field(0) }

func (o *optionalParam[T]) OnParamSet(isSet bool, _ any) { o.Set = isSet }

// Schema is T's: the wrapper is not what the client sends.
func (o optionalParam[T]) Schema(r huma.Registry) *huma.Schema {
	s := *r.Schema(reflect.TypeFor[T](), true, "")
	return &s
}

const (
	// streamWriteTimeout bounds one write to a stream: a client that
	// takes nothing for this long is gone, and its stream is closed.
	streamWriteTimeout = 10 * time.Second
	// sseKeepalive is how often an idle SSE stream sends a comment, so
	// that proxies keep it open and a dead client is noticed.
	sseKeepalive = 15 * time.Second
)

type streamInput struct {
	ConversationPath
	AfterSeq    optionalParam[int64] `query:"after_seq" minimum:"0" doc:"Stream the events after this seq (the conversation's last_event_seq, or the last seq seen). Absent: only events from now on."`
	LastEventID string               `header:"Last-Event-ID" doc:"Sent by SSE clients when they reconnect: the last seq seen. Takes precedence over after_seq."`
}

// after is where the stream starts: Last-Event-ID, else after_seq, else
// nil (from now on).
func (in *streamInput) after() (*int64, error) {
	if h := strings.TrimSpace(in.LastEventID); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			return nil, &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: []apperr.FieldError{{
				In: "header", Location: "Last-Event-ID", Message: "must be the seq of an event of this stream (a non-negative integer)"}}}
		}
		return &n, nil
	}
	if in.AfterSeq.Set {
		return &in.AfterSeq.Value, nil
	}
	return nil, nil
}

func registerChatEvents(authed huma.API, hub *chat.Hub) {
	huma.Register(authed, huma.Operation{
		OperationID: "stream-conversation-events", Method: http.MethodGet, Path: "/conversations/{conversation_id}/events", Tags: chatTags,
		Summary: "Stream a conversation's events (SSE)",
		Description: "The conversation's events as server-sent events, the same stream as the WebSocket's: each SSE " +
			"message has `id:` the event's seq, `event:` its type and `data:` the event object (which carries type and " +
			"seq too). Idle streams get a comment every 15 seconds. A stream of a conversation that is deleted ends " +
			"with an `error` event {code: not_found}; one of a server shutting down with {code: unavailable}: reconnect " +
			"with Last-Event-ID. Browsers' EventSource cannot send the bearer header: use a fetch-based SSE reader, or " +
			"the WebSocket with a ticket.\n\n" + chatProtocol,
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{"200": {
			Description: "The event stream.",
			Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: sseEventSchema(authed, chatEventSchemas)}},
		}},
	}, func(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
		convID, err := in.id()
		if err != nil {
			return nil, err
		}
		after, err := in.after()
		if err != nil {
			return nil, err
		}
		sub, err := hub.Subscribe(ctx, principal(ctx).User.ID, convID, after)
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer sub.Close()
			streamSSE(hctx, sub, convID)
		}}, nil
	})
}

func streamSSE(hctx huma.Context, sub *chat.Subscription, convID uuid.UUID) {
	r, w := humago.Unwrap(hctx)
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// http.Server's read timeout would end the request (and so the stream)
	// while its connection idles: a stream is not a request body.
	_ = rc.SetReadDeadline(time.Time{})
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-cache")
	hctx.SetHeader("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	hctx.SetStatus(http.StatusOK)
	bw := hctx.BodyWriter()
	write := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := bw.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write([]byte("retry: 2000\n\n")) != nil {
		return
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, sseKeepalive)
		evs, err := sub.Next(wctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return // the client left
		case errors.Is(err, context.DeadlineExceeded):
			if write([]byte(": keepalive\n\n")) != nil {
				return
			}
			continue
		default:
			if !apperr.Is(err, apperr.NotFound) && !errors.Is(err, chat.ErrHubStopped) {
				loggerFrom(ctx, slog.Default()).ErrorContext(ctx, "chat stream failed", "error", err)
			}
			_ = write(fmt.Appendf(nil, "event: error\ndata: %s\n\n", streamEndEvent(convID, err)))
			return
		}
		var buf []byte
		for _, e := range evs {
			buf = fmt.Appendf(buf, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, eventJSON(e))
		}
		if write(buf) != nil {
			return
		}
	}
}

// replyEvent is an event that is not part of the log (an ack, an error
// answering a client or ending a stream): seq is null.
func replyEvent(convID uuid.UUID, typ string, runID *uuid.UUID, fields map[string]any) []byte {
	m := map[string]any{"type": typ, "seq": nil, "conversation_id": convID, "run_id": runID, "created_at": time.Now().UTC()}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // our own values
	}
	return b
}

// streamEndEvent is the error that ends a stream.
func streamEndEvent(convID uuid.UUID, err error) []byte {
	code, msg := "internal", "the stream failed on the server; reconnect with the last seq seen"
	switch {
	case errors.Is(err, chat.ErrHubStopped):
		code, msg = "unavailable", "the server is shutting down; reconnect with the last seq seen"
	case apperr.Is(err, apperr.NotFound):
		code, msg = "not_found", "conversation not found: it was deleted"
	}
	return replyEvent(convID, chat.EventError, nil, map[string]any{"code": code, "message": msg})
}
