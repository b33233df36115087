package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
)

const (
	// socketReadLimit fits the largest valid message.send (32,000
	// characters, each escaped as \uXXXX at worst) with room to spare; a
	// larger frame closes the socket (1009), as the WebSocket library does.
	socketReadLimit = 256 << 10
	// socketPingInterval and socketPingTimeout reap dead sockets.
	socketPingInterval = 30 * time.Second
	socketPingTimeout  = 10 * time.Second
	maxRefLength       = 128
)

// chatSockets serves WS /api/chat/{conversation_id}; Huma cannot describe
// a socket, so it is a plain handler on the mux (chatProtocol documents it).
type chatSockets struct {
	svc     *chat.Service
	hub     *chat.Hub
	auth    *auth.Service
	limits  *limits
	origins []string
	logger  *slog.Logger
}

func (h *chatSockets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	logger := loggerFrom(ctx, h.logger)
	fail := func(err error) {
		ae := appErrorOf(ctx, logger, err)
		if ae == nil {
			logger.ErrorContext(ctx, "chat socket: request failed", "error", err)
			writeProblem(w, r, newProblem(ctx, http.StatusInternalServerError,
				"internal error: the server could not complete the request; quote the instance id when reporting it"))
			return
		}
		p, hdr := problemFromAppErr(ctx, ae, "query")
		for k, vs := range hdr {
			w.Header()[k] = vs
		}
		writeProblem(w, r, p)
	}
	// Refused before anything else: a page of another site must not even
	// learn whether a ticket is good.
	if origin := r.Header.Get("Origin"); origin != "" && !h.originAllowed(origin, r.Host) {
		writeProblem(w, r, newProblem(ctx, http.StatusForbidden, fmt.Sprintf("origin %s is not allowed (http.cors_origins)", origin)))
		return
	}
	convID, err := parseID(r.PathValue("conversation_id"), "conversation")
	if err != nil {
		fail(err)
		return
	}
	userID, err := h.authenticate(r, convID)
	if err != nil {
		fail(err)
		return
	}
	if ri := requestInfoFrom(ctx); ri != nil {
		ri.UserID = userID.String()
		ri.Logger = ri.Logger.With("user_id", ri.UserID)
		logger = ri.Logger
	}
	if _, err := h.svc.GetConversation(ctx, userID, convID); err != nil {
		fail(err)
		return
	}
	// http.Server's read timeout would cut the socket after its first
	// minute: the connection is the socket's from here on.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // origin checked above
	if err != nil {
		logger.InfoContext(ctx, "chat socket: handshake failed", "error", err)
		return
	}
	conn.SetReadLimit(socketReadLimit)
	// r.Context() must not be used after Accept (the connection is
	// hijacked): the socket has its own.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &chatSocket{h: h, conn: conn, userID: userID, convID: convID, logger: logger, ctx: sctx, cancel: cancel}
	s.serve()
}

// originAllowed: no Origin (not a browser), the API's own, or one of
// http.cors_origins ("*" allows any).
func (h *chatSockets) originAllowed(origin, host string) bool {
	if slices.Contains(h.origins, "*") || slices.Contains(h.origins, origin) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// authenticate reads ?ticket= (used up here) or the bearer header.
func (h *chatSockets) authenticate(r *http.Request, convID uuid.UUID) (uuid.UUID, error) {
	if t := r.URL.Query().Get("ticket"); t != "" {
		return h.svc.RedeemTicket(r.Context(), t, convID)
	}
	token := ""
	if v := r.Header.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		token = strings.TrimSpace(v[7:])
	}
	if token == "" {
		return uuid.Nil, apperr.New(apperr.Unauthorized, "open the socket with ?ticket= (POST /api/chat/ticket) or a bearer token")
	}
	p, err := h.auth.Authenticate(r.Context(), token)
	if err != nil {
		return uuid.Nil, err
	}
	return p.User.ID, nil
}

// chatSocket is one open socket.
type chatSocket struct {
	h              *chatSockets
	conn           *websocket.Conn
	userID, convID uuid.UUID
	logger         *slog.Logger
	ctx            context.Context
	cancel         context.CancelFunc

	// stream is the running subscription's streamer (nil before the
	// first subscribe); only the read loop touches it.
	stream *socketStream
}

type socketStream struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *chatSocket) serve() {
	defer s.cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.keepalive() }()
	s.readLoop()
	s.cancel()
	if s.stream != nil {
		<-s.stream.done
	}
	wg.Wait()
	_ = s.conn.CloseNow()
}

// keepalive pings; a socket that does not answer is closed. A stopping
// server closes its sockets too (clients reconnect elsewhere).
func (s *chatSocket) keepalive() {
	t := time.NewTicker(socketPingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.h.hub.Done():
			_ = s.conn.Close(websocket.StatusGoingAway, "server shutting down")
			s.cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, socketPingTimeout)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil {
				s.cancel()
				_ = s.conn.CloseNow()
				return
			}
		}
	}
}

// write sends one frame; a client that does not take it in time is gone
// (the library closes the connection when the write's ctx expires).
func (s *chatSocket) write(b []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, streamWriteTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

func (s *chatSocket) readLoop() {
	for {
		typ, data, err := s.conn.Read(s.ctx)
		if err != nil {
			return // closed by the client, the server or a failed write
		}
		if typ != websocket.MessageText {
			s.replyError(nil, "", "bad_request", "send text frames, each one JSON object", nil)
			continue
		}
		if s.h.limits.enabled {
			if ok, wait := s.h.limits.perUser.allow(s.userID.String()); !ok {
				s.replyError(nil, "", string(apperr.RateLimited), "too many requests for this account; try again in "+retryAfterSeconds(wait)+" s", nil)
				continue
			}
		}
		s.handle(data)
	}
}

// clientEvent is what every client event has.
type clientEvent struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
}

type subscribeEvent struct {
	clientEvent
	AfterSeq *int64 `json:"after_seq"`
}

type sendEvent struct {
	clientEvent
	Content     *string `json:"content"`
	AgentID     *string `json:"agent_id"`
	ClientMsgID *string `json:"client_msg_id"`
}

type cancelEvent struct {
	clientEvent
	RunID *string `json:"run_id"`
}

type approvalEvent struct {
	clientEvent
	ApprovalID *string `json:"approval_id"`
	Allow      *bool   `json:"allow"`
}

var clientEventTypes = []string{"subscribe", "message.send", "run.cancel", "approval.respond"}

// clientRequest is a client event that decoded and passed every check
// that needs no database: Type says which of the other fields are set.
type clientRequest struct {
	Type string
	Ref  *string
	// subscribe
	AfterSeq *int64
	// message.send
	Send *chat.SendParams
	// run.cancel
	RunID uuid.UUID
	// approval.respond
	ApprovalID uuid.UUID
	Allow      bool
}

// eventRefusal is the error event answering a client event that did not
// decode: the event's ref (when it had a valid one), the type it named
// (when known) and what is wrong.
type eventRefusal struct {
	Ref     *string
	For     string
	Code    string
	Message string
	Fields  []apperr.FieldError
}

func refuse(ref *string, typ string, fields ...apperr.FieldError) *eventRefusal {
	return &eventRefusal{Ref: ref, For: typ, Code: "invalid", Message: "validation failed", Fields: fields}
}

// decodeClientEvent reads one text frame. It is the whole of the
// socket's input checking: anything it returns a request for is a known
// event with every required field present and well-formed; anything
// else is refused with an error event naming what is wrong.
func decodeClientEvent(data []byte) (*clientRequest, *eventRefusal) {
	var head map[string]json.RawMessage
	if err := json.Unmarshal(data, &head); err != nil || head == nil {
		msg := "the frame is not a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, &eventRefusal{Code: "bad_request", Message: msg}
	}
	var ce clientEvent
	var ref *string
	if raw, ok := head["ref"]; ok {
		if json.Unmarshal(raw, &ce.Ref) != nil || len(ce.Ref) > maxRefLength {
			return nil, refuse(nil, "", fieldErr("ref", fmt.Sprintf("must be a string of at most %d characters", maxRefLength))...)
		}
		ref = &ce.Ref
	}
	raw, ok := head["type"]
	if !ok || json.Unmarshal(raw, &ce.Type) != nil {
		return nil, refuse(ref, "", fieldErr("type", "is required: one of "+strings.Join(clientEventTypes, ", "))...)
	}
	req := &clientRequest{Type: ce.Type, Ref: ref}
	switch ce.Type {
	case "subscribe":
		var e subscribeEvent
		if bad := decodeStrict(ref, ce.Type, data, &e); bad != nil {
			return nil, bad
		}
		if e.AfterSeq != nil && *e.AfterSeq < 0 {
			return nil, refuse(ref, ce.Type, fieldErr("after_seq", "must be 0 or more")...)
		}
		req.AfterSeq = e.AfterSeq
	case "message.send":
		var e sendEvent
		if bad := decodeStrict(ref, ce.Type, data, &e); bad != nil {
			return nil, bad
		}
		p := &chat.SendParams{AgentID: e.AgentID}
		var missing []apperr.FieldError
		if e.Content == nil {
			missing = append(missing, apperr.FieldError{Location: "content", Message: "is required"})
		} else {
			p.Content = *e.Content
		}
		if e.ClientMsgID == nil {
			missing = append(missing, apperr.FieldError{Location: "client_msg_id", Message: "is required"})
		} else {
			p.ClientMsgID = *e.ClientMsgID
		}
		if len(missing) > 0 {
			return nil, refuse(ref, ce.Type, missing...)
		}
		req.Send = p
	case "run.cancel":
		var e cancelEvent
		if bad := decodeStrict(ref, ce.Type, data, &e); bad != nil {
			return nil, bad
		}
		if e.RunID == nil {
			return nil, refuse(ref, ce.Type, fieldErr("run_id", "is required")...)
		}
		id, err := uuid.Parse(*e.RunID)
		if err != nil {
			return nil, refuse(ref, ce.Type, fieldErr("run_id", "must be a run id (a UUID)")...)
		}
		req.RunID = id
	case "approval.respond":
		var e approvalEvent
		if bad := decodeStrict(ref, ce.Type, data, &e); bad != nil {
			return nil, bad
		}
		var missing []apperr.FieldError
		if e.ApprovalID == nil {
			missing = append(missing, apperr.FieldError{Location: "approval_id", Message: "is required"})
		}
		if e.Allow == nil {
			missing = append(missing, apperr.FieldError{Location: "allow", Message: "is required"})
		}
		if len(missing) > 0 {
			return nil, refuse(ref, ce.Type, missing...)
		}
		id, err := uuid.Parse(*e.ApprovalID)
		if err != nil {
			return nil, refuse(ref, ce.Type, fieldErr("approval_id", "must be an approval id (a UUID)")...)
		}
		req.ApprovalID, req.Allow = id, *e.Allow
	default:
		return nil, refuse(ref, "", fieldErr("type", "unknown event type; one of "+strings.Join(clientEventTypes, ", "))...)
	}
	return req, nil
}

// handle answers one client event; a bad one gets an error naming what is
// wrong and changes nothing.
func (s *chatSocket) handle(data []byte) {
	req, bad := decodeClientEvent(data)
	if bad != nil {
		s.replyError(bad.Ref, bad.For, bad.Code, bad.Message, bad.Fields)
		return
	}
	switch req.Type {
	case "subscribe":
		s.subscribe(req)
	case "message.send":
		s.send(req)
	case "run.cancel":
		s.cancelRun(req)
	case "approval.respond":
		s.answerApproval(req)
	}
}

// decodeStrict reads a client event strictly: a field it does not know,
// or of the wrong type, is named in the refusal.
func decodeStrict(ref *string, typ string, data []byte, v any) *eventRefusal {
	// Names match exactly: encoding/json alone would take "Allow" for
	// "allow".
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) == nil {
		known := knownNames(reflect.TypeOf(v).Elem())
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if !known[k] {
				return refuse(ref, typ, fieldErr(k, "unexpected property")...)
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		loc, msg := "", err.Error()
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			loc, msg = te.Field, "must be of type "+te.Type.String()
		case strings.HasPrefix(msg, "json: unknown field "):
			loc, msg = strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`), "unexpected property"
		}
		return refuse(ref, typ, fieldErr(loc, msg)...)
	}
	return nil
}

// eventNames caches jsonNames by event type.
var eventNames sync.Map // reflect.Type -> map[string]bool

// knownNames are jsonNames(t), worked out once per type.
func knownNames(t reflect.Type) map[string]bool {
	if m, ok := eventNames.Load(t); ok {
		return m.(map[string]bool)
	}
	m, _ := eventNames.LoadOrStore(t, jsonNames(t))
	return m.(map[string]bool)
}

// jsonNames are the JSON names of a struct's fields, its embedded
// structs' included.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && f.Type.Kind() == reflect.Struct && name == "":
			maps.Copy(names, jsonNames(f.Type))
		case name != "":
			names[name] = true
		case f.IsExported():
			names[f.Name] = true
		}
	}
	return names
}

func fieldErr(loc, msg string) []apperr.FieldError {
	return []apperr.FieldError{{Location: loc, Message: msg}}
}

func (s *chatSocket) subscribe(req *clientRequest) {
	ref := req.Ref
	if s.stream != nil {
		s.stream.cancel()
		<-s.stream.done
		s.stream = nil
	}
	sub, err := s.h.hub.Subscribe(s.ctx, s.userID, s.convID, req.AfterSeq)
	if err != nil {
		s.replyAppError(ref, req.Type, err)
		return
	}
	if s.write(replyEvent(s.convID, "ack", nil, map[string]any{"ref": ref, "for": req.Type, "after_seq": sub.LastSeq()})) != nil {
		sub.Close()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	st := &socketStream{cancel: cancel, done: make(chan struct{})}
	s.stream = st
	go func() {
		defer close(st.done)
		defer sub.Close()
		s.pump(ctx, sub)
	}()
}

// pump writes the subscription's events until ctx ends; a deleted
// conversation or a stopping server ends the socket.
func (s *chatSocket) pump(ctx context.Context, sub *chat.Subscription) {
	for {
		evs, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !apperr.Is(err, apperr.NotFound) && !errors.Is(err, chat.ErrHubStopped) {
				s.logger.ErrorContext(s.ctx, "chat socket: stream failed", "error", err)
			}
			_ = s.write(streamEndEvent(s.convID, err))
			code, reason := websocket.StatusInternalError, "stream failed"
			switch {
			case errors.Is(err, chat.ErrHubStopped):
				code, reason = websocket.StatusGoingAway, "server shutting down"
			case apperr.Is(err, apperr.NotFound):
				code, reason = websocket.StatusNormalClosure, "conversation deleted"
			}
			_ = s.conn.Close(code, reason)
			s.cancel()
			return
		}
		for _, e := range evs {
			if s.write(eventJSON(e)) != nil {
				s.cancel()
				return
			}
		}
	}
}

func (s *chatSocket) send(req *clientRequest) {
	sent, err := s.h.svc.Send(s.ctx, s.userID, s.convID, req.Send)
	if err != nil {
		s.replyAppError(req.Ref, req.Type, err)
		return
	}
	_ = s.write(replyEvent(s.convID, "ack", &sent.RunID, map[string]any{"ref": req.Ref, "for": req.Type,
		"message": toChatMessage(sent.Message), "repeated": sent.Repeated}))
}

func (s *chatSocket) cancelRun(req *clientRequest) {
	r, err := s.h.svc.CancelRun(s.ctx, s.userID, s.convID, req.RunID)
	if err != nil {
		s.replyAppError(req.Ref, req.Type, err)
		return
	}
	_ = s.write(replyEvent(s.convID, "ack", &r.ID, map[string]any{"ref": req.Ref, "for": req.Type, "run": toChatRun(r)}))
}

func (s *chatSocket) answerApproval(req *clientRequest) {
	a, err := s.h.svc.AnswerApproval(s.ctx, s.userID, s.convID, req.ApprovalID, req.Allow)
	if err != nil {
		s.replyAppError(req.Ref, req.Type, err)
		return
	}
	_ = s.write(replyEvent(s.convID, "ack", &a.RunID, map[string]any{"ref": req.Ref, "for": req.Type, "approval": toChatApproval(a)}))
}

// replyAppError answers a client event that core refused; an internal
// error is logged and not shown.
func (s *chatSocket) replyAppError(ref *string, typ string, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code == apperr.Internal {
		if u := appErrorOf(s.ctx, s.logger, err); u != nil {
			s.replyError(ref, typ, string(u.Code), u.Message, nil)
			return
		}
		s.logger.ErrorContext(s.ctx, "chat socket: event failed", "type", typ, "error", err)
		s.replyError(ref, typ, string(apperr.Internal), "internal error: the server could not complete the event", nil)
		return
	}
	s.replyError(ref, typ, string(ae.Code), ae.Message, ae.Fields)
}

func (s *chatSocket) replyError(ref *string, typ, code, message string, fields []apperr.FieldError) {
	_ = s.write(errorEvent(s.convID, ref, typ, code, message, fields))
}

// errorEvent is the error event answering a client event.
func errorEvent(convID uuid.UUID, ref *string, typ, code, message string, fields []apperr.FieldError) []byte {
	m := map[string]any{"ref": ref, "code": code, "message": message}
	if typ != "" {
		m["for"] = typ
	}
	if len(fields) > 0 {
		errs := make([]map[string]any, len(fields))
		for i, f := range fields {
			errs[i] = map[string]any{"location": f.Where(), "message": f.Message}
		}
		m["errors"] = errs
	}
	return replyEvent(convID, chat.EventError, nil, m)
}
