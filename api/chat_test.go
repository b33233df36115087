package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
)

// chatWait bounds every wait for an event: a missing event fails the test
// after it, it is never a way to synchronise.
const chatWait = 30 * time.Second

type chatBundle struct {
	e *apitest.Env
	u *apitest.User
}

func setupChat(t *testing.T, o apitest.Options) *chatBundle {
	t.Helper()
	e := apitest.New(t, o)
	return &chatBundle{e: e, u: e.NewUser()}
}

func (b *chatBundle) do(method, path string, body any) *apitest.Response {
	b.e.T.Helper()
	return b.e.Do(method, path, body, b.u.Bearer())
}

func (b *chatBundle) conversation(t *testing.T) string {
	t.Helper()
	res := b.do(http.MethodPost, "/api/conversations", map[string]any{})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	return res.Map(t)["id"].(string)
}

// send posts a message and returns the 202's body.
func (b *chatBundle) send(t *testing.T, convID, content string) map[string]any {
	t.Helper()
	res := b.do(http.MethodPost, "/api/conversations/"+convID+"/messages",
		map[string]any{"content": content, "client_msg_id": uuid.NewString()})
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	return res.Map(t)
}

// chatEvent is a stream event as a client reads it.
type chatEvent map[string]any

func (e chatEvent) typ() string { s, _ := e["type"].(string); return s }

func (e chatEvent) seq() int64 {
	f, ok := e["seq"].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// ---- sockets ----------------------------------------------------------------

type socket struct {
	t    *testing.T
	conn *websocket.Conn
}

func wsURL(e *apitest.Env, convID, query string) string {
	return "ws" + strings.TrimPrefix(e.Server.URL, "http") + "/api/chat/" + convID + query
}

// dial opens a socket; headers are "Name: value".
func dial(t *testing.T, e *apitest.Env, convID, query string, headers ...string) (*socket, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		h.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, wsURL(e, convID, query), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(1 << 20)
	s := &socket{t: t, conn: conn}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return s, res, nil
}

func (b *chatBundle) dial(t *testing.T, e *apitest.Env, convID string) *socket {
	t.Helper()
	s, res, err := dial(t, e, convID, "", b.u.Bearer())
	require.NoError(t, err, "dial: %v", res)
	return s
}

func (s *socket) sendRaw(typ websocket.MessageType, data []byte) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	require.NoError(s.t, s.conn.Write(ctx, typ, data))
}

func (s *socket) sendJSON(v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(s.t, err)
	s.sendRaw(websocket.MessageText, b)
}

func (s *socket) read() chatEvent {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	typ, data, err := s.conn.Read(ctx)
	require.NoError(s.t, err, "reading the socket")
	require.Equal(s.t, websocket.MessageText, typ)
	var e chatEvent
	require.NoError(s.t, json.Unmarshal(data, &e), "%s", data)
	return e
}

// subscribe sends subscribe and returns its ack.
func (s *socket) subscribe(after *int64) chatEvent {
	s.t.Helper()
	m := map[string]any{"type": "subscribe", "ref": "sub"}
	if after != nil {
		m["after_seq"] = *after
	}
	s.sendJSON(m)
	ack := s.read()
	require.Equal(s.t, "ack", ack.typ(), "%v", ack)
	require.Equal(s.t, "sub", ack["ref"])
	require.Nil(s.t, ack["seq"])
	return ack
}

// until reads log events up to and including the first run.completed.
func (s *socket) untilRunCompleted() []chatEvent {
	s.t.Helper()
	var out []chatEvent
	for {
		e := s.read()
		if e.typ() == "ack" {
			continue
		}
		out = append(out, e)
		if e.typ() == chat.EventRunCompleted {
			return out
		}
	}
}

// ---- SSE ----------------------------------------------------------------------

type sseEvent struct {
	id, event string
	data      chatEvent
}

type sseStream struct {
	t      *testing.T
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// openSSE opens the SSE stream; query and headers as sent.
func openSSE(t *testing.T, e *apitest.Env, u *apitest.User, convID, query string, headers ...string) (*sseStream, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Server.URL+"/api/conversations/"+convID+"/events"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+u.AccessToken)
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := (&http.Client{}).Do(req)
	require.NoError(t, err)
	if res.StatusCode != http.StatusOK {
		cancel()
		return nil, res
	}
	s := &sseStream{t: t, events: make(chan sseEvent, 1024), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					s.events <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &cur.data)
			}
		}
	}()
	t.Cleanup(s.close)
	return s, res
}

func (s *sseStream) close() {
	s.cancel()
	<-s.done
}

func (s *sseStream) next() sseEvent {
	s.t.Helper()
	select {
	case e, ok := <-s.events:
		require.True(s.t, ok, "the SSE stream ended")
		return e
	case <-time.After(chatWait):
		s.t.Fatal("no SSE event within the wait")
	}
	return sseEvent{}
}

func (s *sseStream) untilRunCompleted() []sseEvent {
	s.t.Helper()
	var out []sseEvent
	for {
		e := s.next()
		out = append(out, e)
		if e.event == chat.EventRunCompleted {
			return out
		}
	}
}

// requireSeqRun checks that events carry seqs from..from+len-1 in order.
func requireSeqRun(t *testing.T, from int64, seqs []int64) {
	t.Helper()
	for i, s := range seqs {
		require.Equal(t, from+int64(i), s, "seq %d of %v", i, seqs)
	}
}

func types(evs []chatEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.typ()
	}
	return out
}

func seqs(evs []chatEvent) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.seq()
	}
	return out
}

// oneTurn is what a user's message and its answer by the offline agent
// write to the log.
var oneTurn = []string{chat.EventMessageCompleted, chat.EventRunStarted, chat.EventMessageDelta, chat.EventMessageCompleted, chat.EventRunCompleted}

// ---- tests --------------------------------------------------------------------

func TestChatConversations(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{})

	res := b.do(http.MethodPost, "/api/conversations", map[string]any{"title": "  Week plan ", "metadata": map[string]any{"pinned": true}})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	c := res.Map(t)
	id := c["id"].(string)
	require.Equal(t, "/api/conversations/"+id, res.Header.Get("Location"))
	require.Equal(t, "Week plan", c["title"])
	require.Equal(t, map[string]any{"pinned": true}, c["metadata"])
	require.Nil(t, c["last_message_at"])
	require.EqualValues(t, 0, c["last_event_seq"])

	second := b.conversation(t)
	sent := b.send(t, second, "  What is due\non Friday for the quarterly report and the team?  ")
	msg := sent["message"].(map[string]any)
	require.Equal(t, "user", msg["role"])
	require.Equal(t, "  What is due\non Friday for the quarterly report and the team?  ", msg["content"])
	require.Nil(t, msg["agent_id"])
	require.Equal(t, sent["run_id"], msg["run_id"])
	got := b.do(http.MethodGet, "/api/conversations/"+second, nil).Map(t)
	require.Equal(t, "What is due on Friday for the quarterly…", got["title"], "named by the first words of its first message")
	require.NotNil(t, got["last_message_at"])
	require.EqualValues(t, 1, got["last_event_seq"])

	// Most recently active first, one per page.
	page := b.do(http.MethodGet, "/api/conversations?limit=1", nil).Map(t)
	require.Len(t, page["items"], 1)
	require.Equal(t, second, page["items"].([]any)[0].(map[string]any)["id"])
	page = b.do(http.MethodGet, "/api/conversations?limit=1&cursor="+page["next_cursor"].(string), nil).Map(t)
	require.Equal(t, id, page["items"].([]any)[0].(map[string]any)["id"])
	require.Nil(t, page["next_cursor"])

	res = b.do(http.MethodPut, "/api/conversations/"+id, map[string]any{"title": "Renamed"})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	renamed := res.Map(t)
	require.Equal(t, "Renamed", renamed["title"])
	require.Equal(t, map[string]any{"pinned": true}, renamed["metadata"], "only the fields sent change")
	same := b.do(http.MethodPut, "/api/conversations/"+id, map[string]any{"title": "Renamed", "metadata": map[string]any{"pinned": true}}).Map(t)
	require.Equal(t, renamed["updated_at"], same["updated_at"], "a change that changes nothing keeps updated_at")
	for body, field := range map[string]string{
		`{"title":"a\nb"}`: "body.title",
		`{"metadata":[]}`:  "body.metadata",
		`{"title":"` + strings.Repeat("x", 201) + `"}`: "body.title",
	} {
		res := b.e.Do(http.MethodPut, "/api/conversations/"+id, body, b.u.Bearer())
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, res.String())
		require.Contains(t, res.String(), field)
	}

	// Messages, newest first by default, or from the start.
	b.send(t, second, "second message")
	desc := b.do(http.MethodGet, "/api/conversations/"+second+"/messages?limit=1", nil).Map(t)
	require.Equal(t, "second message", desc["items"].([]any)[0].(map[string]any)["content"])
	desc = b.do(http.MethodGet, "/api/conversations/"+second+"/messages?limit=1&cursor="+desc["next_cursor"].(string), nil).Map(t)
	require.Equal(t, msg["id"], desc["items"].([]any)[0].(map[string]any)["id"])
	asc := b.do(http.MethodGet, "/api/conversations/"+second+"/messages?order=asc", nil).Map(t)
	require.Len(t, asc["items"], 2)
	require.Equal(t, msg["id"], asc["items"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, http.StatusUnprocessableEntity, b.do(http.MethodGet, "/api/conversations/"+second+"/messages?cursor=forged", nil).Status)

	run := b.do(http.MethodGet, "/api/conversations/"+second+"/runs/"+sent["run_id"].(string), nil)
	require.Equal(t, http.StatusOK, run.Status, run.String())
	require.Equal(t, "queued", run.Map(t)["status"], "no worker in this test")
	require.Nil(t, run.Map(t)["error"])

	// Deleted: gone everywhere, and a message to it is 404.
	require.Equal(t, http.StatusNoContent, b.do(http.MethodDelete, "/api/conversations/"+second, nil).Status)
	for _, r := range []*apitest.Response{
		b.do(http.MethodGet, "/api/conversations/"+second, nil),
		b.do(http.MethodGet, "/api/conversations/"+second+"/messages", nil),
		b.do(http.MethodPost, "/api/conversations/"+second+"/messages", map[string]any{"content": "hello?", "client_msg_id": uuid.NewString()}),
		b.do(http.MethodDelete, "/api/conversations/"+second, nil),
		b.do(http.MethodGet, "/api/conversations/"+second+"/runs/"+sent["run_id"].(string), nil),
	} {
		require.Equal(t, http.StatusNotFound, r.Status, r.String())
	}
	var left int
	require.NoError(t, b.e.DB.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM chat_messages WHERE conversation_id = $1)
		+ (SELECT count(*) FROM chat_runs WHERE conversation_id = $1) + (SELECT count(*) FROM chat_events WHERE conversation_id = $1)`, second).Scan(&left))
	require.Zero(t, left, "messages, runs and events go with the conversation")
}

// Every chat endpoint, the SSE stream and the socket answer 404 for
// another user's conversation, and change nothing.
func TestChatOtherUsersConversation(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{})
	conv := b.conversation(t)
	sent := b.send(t, conv, "mine")
	runID := sent["run_id"].(string)
	other := b.e.NewUser()
	before := b.do(http.MethodGet, "/api/conversations/"+conv, nil).Map(t)

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/conversations/" + conv, nil},
		{http.MethodPut, "/api/conversations/" + conv, map[string]any{"title": "stolen"}},
		{http.MethodDelete, "/api/conversations/" + conv, nil},
		{http.MethodGet, "/api/conversations/" + conv + "/messages", nil},
		{http.MethodPost, "/api/conversations/" + conv + "/messages", map[string]any{"content": "hi", "client_msg_id": uuid.NewString()}},
		{http.MethodGet, "/api/conversations/" + conv + "/events", nil},
		{http.MethodGet, "/api/conversations/" + conv + "/runs/" + runID, nil},
		{http.MethodPost, "/api/conversations/" + conv + "/runs/" + runID + "/cancel", nil},
		{http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": conv}},
	} {
		res := b.e.Do(c.method, c.path, c.body, other.Bearer())
		require.Equal(t, http.StatusNotFound, res.Status, "%s %s: %s", c.method, c.path, res)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	}
	// Nor does it show in the other user's list.
	list := b.e.Do(http.MethodGet, "/api/conversations", nil, other.Bearer())
	require.Equal(t, http.StatusOK, list.Status, list.String())
	require.NotContains(t, list.String(), conv)
	// The other user's own conversation does not open this one's runs.
	otherConv := b.e.Do(http.MethodPost, "/api/conversations", map[string]any{}, other.Bearer()).Map(t)["id"].(string)
	require.Equal(t, http.StatusNotFound, b.e.Do(http.MethodGet, "/api/conversations/"+otherConv+"/runs/"+runID, nil, other.Bearer()).Status)

	_, res, err := dial(t, b.e, conv, "", other.Bearer())
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	tk := b.e.Do(http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": otherConv}, other.Bearer()).Map(t)["ticket"].(string)
	_, res, err = dial(t, b.e, conv, "?ticket="+tk)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a ticket opens only its own conversation")

	after := b.do(http.MethodGet, "/api/conversations/"+conv, nil).Map(t)
	require.Equal(t, before, after, "nothing changed")
	run := b.do(http.MethodGet, "/api/conversations/"+conv+"/runs/"+runID, nil).Map(t)
	require.Equal(t, "queued", run["status"])
	require.Equal(t, false, run["cancel_requested"])
}

// One client_msg_id sent 12 times at once: one message, one run, one job,
// one event; every answer is the first send's.
func TestChatSendIdempotentUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{})
	conv := b.conversation(t)
	body := map[string]any{"content": "once only", "client_msg_id": uuid.NewString()}
	const n = 12
	answers := make([]*apitest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = b.do(http.MethodPost, "/api/conversations/"+conv+"/messages", body)
		}()
	}
	close(start)
	wg.Wait()
	firsts := 0
	var msgID, runID any
	for _, res := range answers {
		require.Equal(t, http.StatusAccepted, res.Status, res.String())
		m := res.Map(t)
		if m["repeated"] == false {
			firsts++
		}
		if msgID == nil {
			msgID, runID = m["message"].(map[string]any)["id"], m["run_id"]
		}
		require.Equal(t, msgID, m["message"].(map[string]any)["id"])
		require.Equal(t, runID, m["run_id"])
	}
	require.Equal(t, 1, firsts, "one send stored the message")
	var messages, runs, jobs, events int
	require.NoError(t, b.e.DB.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM chat_messages WHERE conversation_id = $1),
		(SELECT count(*) FROM chat_runs WHERE conversation_id = $1),
		(SELECT count(*) FROM river_job WHERE kind = 'chat.run_turn' AND args->>'conversation_id' = $1::text),
		(SELECT count(*) FROM chat_events WHERE conversation_id = $1)`, conv).Scan(&messages, &runs, &jobs, &events))
	require.Equal(t, []int{1, 1, 1, 1}, []int{messages, runs, jobs, events})

	res := b.do(http.MethodPost, "/api/conversations/"+conv+"/messages", map[string]any{"content": "other words", "client_msg_id": body["client_msg_id"]})
	require.Equal(t, http.StatusConflict, res.Status, res.String())
	require.Contains(t, res.String(), "body.client_msg_id")
}

// A run worked by the River worker streams over SSE and the socket alike:
// seqs 1, 2, ... without gaps, the same events on both.
func TestChatRunStreamsOverSSEAndSocket(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{Workers: true})
	conv := b.conversation(t)
	sse, _ := openSSE(t, b.e, b.u, conv, "?after_seq=0")
	ws := b.dial(t, b.e, conv)
	zero := int64(0)
	require.EqualValues(t, 0, ws.subscribe(&zero)["after_seq"])

	sent := b.send(t, conv, "hello")
	got := ws.untilRunCompleted()
	require.Equal(t, oneTurn, types(got))
	requireSeqRun(t, 1, seqs(got))
	for _, e := range got {
		require.Equal(t, conv, e["conversation_id"])
		require.Equal(t, sent["run_id"], e["run_id"])
	}
	require.Equal(t, sent["message"], got[0]["message"], "the user's message is an event too")
	answer := got[3]["message"].(map[string]any)
	require.Equal(t, "assistant", answer["role"])
	require.Contains(t, answer["content"], "No language model is configured", "the offline agent says so")
	require.Equal(t, answer["id"], got[2]["message_id"], "the delta names the message it becomes")
	require.Equal(t, answer["content"], got[2]["text"])
	require.Equal(t, "completed", got[4]["status"])

	sseGot := sse.untilRunCompleted()
	require.Len(t, sseGot, len(got))
	for i, e := range sseGot {
		require.Equal(t, strconv.FormatInt(got[i].seq(), 10), e.id, "id: is the seq")
		require.Equal(t, got[i].typ(), e.event, "event: is the type")
		require.Equal(t, got[i], e.data, "data: is the same object")
	}

	run := b.do(http.MethodGet, "/api/conversations/"+conv+"/runs/"+sent["run_id"].(string), nil).Map(t)
	require.Equal(t, "completed", run["status"])
	msgs := b.do(http.MethodGet, "/api/conversations/"+conv+"/messages?order=asc", nil).Map(t)["items"].([]any)
	require.Len(t, msgs, 2)
	require.Equal(t, answer, msgs[1])
}

// A client that drops and resumes from the last seq it saw gets exactly
// what it missed: over the socket (after_seq) and SSE (Last-Event-ID).
func TestChatResumeAfterDrop(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{Workers: true})
	conv := b.conversation(t)
	watcher := b.dial(t, b.e, conv) // stays connected: tells when runs end
	watcher.subscribe(nil)

	ws := b.dial(t, b.e, conv)
	ws.subscribe(nil)
	b.send(t, conv, "first")
	first := ws.untilRunCompleted()
	watcher.untilRunCompleted()
	lastSeen := first[len(first)-1].seq()
	require.NoError(t, ws.conn.Close(websocket.StatusNormalClosure, "dropped"))

	b.send(t, conv, "second while away")
	missed := watcher.untilRunCompleted()
	require.Equal(t, oneTurn, types(missed))

	back := b.dial(t, b.e, conv)
	require.EqualValues(t, lastSeen, back.subscribe(&lastSeen)["after_seq"])
	resumed := back.untilRunCompleted()
	require.Equal(t, missed, resumed, "exactly the missed events")
	requireSeqRun(t, lastSeen+1, seqs(resumed))
	// Then the live ones, none repeated.
	b.send(t, conv, "third")
	live := back.untilRunCompleted()
	requireSeqRun(t, resumed[len(resumed)-1].seq()+1, seqs(live))
	watcher.untilRunCompleted()

	// SSE: the Last-Event-ID an SSE client sends on reconnect wins over
	// the after_seq of the URL it reconnects to.
	sse, _ := openSSE(t, b.e, b.u, conv, "?after_seq=0", "Last-Event-ID: "+strconv.FormatInt(lastSeen, 10))
	sseGot := sse.untilRunCompleted()
	require.Len(t, sseGot, len(resumed))
	for i, e := range sseGot {
		require.Equal(t, resumed[i], e.data)
	}
	sseLive := sse.untilRunCompleted()
	require.Equal(t, live, func() []chatEvent {
		out := make([]chatEvent, len(sseLive))
		for i, e := range sseLive {
			out[i] = e.data
		}
		return out
	}())

	// From past the end: resync_required, then the stream goes on.
	far := lastSeen + 1000
	fresh := b.dial(t, b.e, conv)
	fresh.subscribe(&far)
	resync := fresh.read()
	require.Equal(t, chat.EventResyncRequired, resync.typ())
	require.Equal(t, live[len(live)-1].seq(), resync.seq())
	require.EqualValues(t, far, resync["after_seq"])
	for _, r := range []string{"?after_seq=-1", "?after_seq=x"} {
		_, res := openSSE(t, b.e, b.u, conv, r)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, r)
	}
	_, res := openSSE(t, b.e, b.u, conv, "", "Last-Event-ID: nonsense")
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
}

// Two API servers on one database, one of them working jobs: a socket on
// the other receives the run through NOTIFY, and cancels a run the first
// is working.
func TestChatEventsReachAnotherServer(t *testing.T) {
	t.Parallel()
	runner := &blockingRunner{started: make(chan uuid.UUID, 4), release: make(chan struct{})}
	worker := setupChat(t, apitest.Options{Workers: true, ChatRunner: runner})
	other := apitest.New(t, apitest.Options{})
	conv := worker.conversation(t)
	ws := worker.dial(t, other, conv) // the socket is on the server without workers
	ws.subscribe(nil)
	sse, _ := openSSE(t, other, worker.u, conv, "")

	sent := worker.send(t, conv, "think long") // sent to, and worked by, the first server
	runID := sent["run_id"].(string)
	require.Equal(t, runID, (<-runner.started).String())
	e := ws.read()
	require.Equal(t, chat.EventMessageCompleted, e.typ())
	require.Equal(t, chat.EventRunStarted, ws.read().typ())

	ws.sendJSON(map[string]any{"type": "run.cancel", "ref": "c1", "run_id": runID})
	var ack chatEvent
	var rest []chatEvent
	for ack == nil || len(rest) == 0 || rest[len(rest)-1].typ() != chat.EventRunCompleted {
		e := ws.read()
		if e.typ() == "ack" {
			ack = e
		} else {
			rest = append(rest, e)
		}
	}
	require.Equal(t, "run.cancel", ack["for"])
	require.Equal(t, "c1", ack["ref"])
	require.Equal(t, true, ack["run"].(map[string]any)["cancel_requested"])
	require.Equal(t, []string{chat.EventRunCompleted}, types(rest))
	require.Equal(t, "cancelled", rest[0]["status"])
	requireSeqRun(t, 1, []int64{1, 2, rest[0].seq()})

	sseGot := sse.untilRunCompleted()
	require.Equal(t, []string{chat.EventMessageCompleted, chat.EventRunStarted, chat.EventRunCompleted}, func() []string {
		out := []string{}
		for _, e := range sseGot {
			out = append(out, e.event)
		}
		return out
	}())
	run := worker.do(http.MethodGet, "/api/conversations/"+conv+"/runs/"+runID, nil).Map(t)
	require.Equal(t, "cancelled", run["status"])

	// Closing the sockets never stops a run: one running while they
	// close completes.
	next := worker.send(t, conv, "quick one")
	require.Equal(t, next["run_id"], (<-runner.started).String())
	require.NoError(t, ws.conn.Close(websocket.StatusNormalClosure, ""))
	sse.close()
	close(runner.release)
	watch := worker.dial(t, worker.e, conv)
	after := int64(3)
	watch.subscribe(&after)
	got := watch.untilRunCompleted()
	require.Equal(t, next["run_id"], got[len(got)-1]["run_id"])
	require.Equal(t, "completed", got[len(got)-1]["status"])
}

// blockingRunner holds each turn until its run is cancelled (it fails
// then) or release is closed (it completes then).
type blockingRunner struct {
	started chan uuid.UUID
	release chan struct{}
}

func (r *blockingRunner) RunTurn(ctx context.Context, t *chat.Turn) error {
	r.started <- t.Run.ID
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.release:
		return nil
	}
}

// Socket tickets: single-use, short-lived, for one conversation; without
// a ticket or token the socket is refused.
func TestChatSocketTickets(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{})
	conv := b.conversation(t)
	ticket := func() string {
		res := b.do(http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": conv})
		require.Equal(t, http.StatusOK, res.Status, res.String())
		m := res.Map(t)
		exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(chat.TicketTTL), exp, 10*time.Second)
		return m["ticket"].(string)
	}
	tk := ticket()
	s, res, err := dial(t, b.e, conv, "?ticket="+tk)
	require.NoError(t, err, "%v", res)
	s.subscribe(nil)
	_, res, err = dial(t, b.e, conv, "?ticket="+tk)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "single use")

	expired := ticket()
	_, err = b.e.DB.Pool.Exec(context.Background(), `UPDATE chat_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1`, b.u.ID)
	require.NoError(t, err)
	_, res, err = dial(t, b.e, conv, "?ticket="+expired)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "expired")

	for _, q := range []string{"", "?ticket=forged", "?ticket=" + strings.Repeat("x", 5000)} {
		_, res, err := dial(t, b.e, conv, q)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, q)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	}
	_, res, err = dial(t, b.e, conv, "", "Authorization: Bearer not-a-token")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	_, res, err = dial(t, b.e, "not-a-uuid", "", b.u.Bearer())
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	_, res, err = dial(t, b.e, uuid.NewString(), "", b.u.Bearer())
	require.Error(t, err)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	for body, status := range map[string]int{
		`{"conversation_id":"not-a-uuid"}`:               http.StatusUnprocessableEntity,
		`{"conversation_id":"` + uuid.NewString() + `"}`: http.StatusNotFound,
		`{}`: http.StatusUnprocessableEntity,
	} {
		res := b.e.Do(http.MethodPost, "/api/chat/ticket", body, b.u.Bearer())
		require.Equal(t, status, res.Status, "%s: %s", body, res)
	}
}

// A bad socket frame gets an error naming what is wrong; the socket stays
// open and nothing changes.
func TestChatSocketBadFrames(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{})
	conv := b.conversation(t)
	s := b.dial(t, b.e, conv)
	s.subscribe(nil)
	for name, c := range map[string]struct {
		frame    string
		code     string
		location string
		ref      any
	}{
		"not JSON":          {`hello`, "bad_request", "", nil},
		"truncated":         {`{"type":`, "bad_request", "", nil},
		"array":             {`[1,2]`, "bad_request", "", nil},
		"null":              {`null`, "bad_request", "", nil},
		"no type":           {`{"ref":"r1"}`, "invalid", "type", "r1"},
		"type not a string": {`{"type":42,"ref":"r2"}`, "invalid", "type", "r2"},
		"unknown type":      {`{"type":"message.delete","ref":"r3"}`, "invalid", "type", "r3"},
		"ref not a string":  {`{"type":"subscribe","ref":7}`, "invalid", "ref", nil},
		"ref too long":      {`{"type":"subscribe","ref":"` + strings.Repeat("r", 129) + `"}`, "invalid", "ref", nil},
		"unknown field":     {`{"type":"subscribe","ref":"r4","from":3}`, "invalid", "from", "r4"},
		"negative after":    {`{"type":"subscribe","ref":"r5","after_seq":-1}`, "invalid", "after_seq", "r5"},
		"after not number":  {`{"type":"subscribe","ref":"r6","after_seq":"3"}`, "invalid", "after_seq", "r6"},
		"send no fields":    {`{"type":"message.send","ref":"r7"}`, "invalid", "content", "r7"},
		"send empty":        {`{"type":"message.send","ref":"r8","content":" ","client_msg_id":"` + uuid.NewString() + `"}`, "invalid", "content", "r8"},
		"send too long":     {`{"type":"message.send","ref":"r9","content":"` + strings.Repeat("x", 32001) + `","client_msg_id":"` + uuid.NewString() + `"}`, "invalid", "content", "r9"},
		"send bad id":       {`{"type":"message.send","ref":"r10","content":"x","client_msg_id":"nope"}`, "invalid", "client_msg_id", "r10"},
		"send agent":        {`{"type":"message.send","ref":"r11","content":"x","client_msg_id":"` + uuid.NewString() + `","agent_id":"nobody"}`, "invalid", "agent_id", "r11"},
		"send wrong type":   {`{"type":"message.send","ref":"r12","content":5,"client_msg_id":"` + uuid.NewString() + `"}`, "invalid", "content", "r12"},
		"cancel no run":     {`{"type":"run.cancel","ref":"r13"}`, "invalid", "run_id", "r13"},
		"cancel bad run":    {`{"type":"run.cancel","ref":"r14","run_id":"x"}`, "invalid", "run_id", "r14"},
		"cancel unknown":    {`{"type":"run.cancel","ref":"r15","run_id":"` + uuid.NewString() + `"}`, "not_found", "", "r15"},
		"approval bad id":   {`{"type":"approval.respond","ref":"r16","approval_id":"a","allow":true}`, "invalid", "approval_id", "r16"},
		"approval bad":      {`{"type":"approval.respond","ref":"r17","allow":"yes"}`, "invalid", "allow", "r17"},
		"approval no allow": {`{"type":"approval.respond","ref":"r18","approval_id":"` + uuid.NewString() + `"}`, "invalid", "allow", "r18"},
		"approval unknown":  {`{"type":"approval.respond","ref":"r19","approval_id":"` + uuid.NewString() + `","allow":false}`, "not_found", "", "r19"},
	} {
		s.sendRaw(websocket.MessageText, []byte(c.frame))
		e := s.read()
		require.Equal(t, chat.EventError, e.typ(), "%s: %v", name, e)
		require.Equal(t, c.code, e["code"], "%s: %v", name, e)
		require.NotEmpty(t, e["message"], name)
		require.Nil(t, e["seq"], name)
		require.Equal(t, c.ref, e["ref"], name)
		if c.location != "" {
			require.Equal(t, c.location, e["errors"].([]any)[0].(map[string]any)["location"], "%s: %v", name, e)
		}
	}
	s.sendRaw(websocket.MessageBinary, []byte(`{"type":"subscribe"}`))
	require.Equal(t, "bad_request", s.read()["code"])

	// Still open, and nothing changed.
	s.subscribe(nil)
	c := b.do(http.MethodGet, "/api/conversations/"+conv, nil).Map(t)
	require.EqualValues(t, 0, c["last_event_seq"])
	require.Empty(t, b.do(http.MethodGet, "/api/conversations/"+conv+"/messages", nil).Map(t)["items"])

	// A good send over the socket: ack with the message and run, then its
	// event; a repeat answers the first.
	clientID := uuid.NewString()
	send := map[string]any{"type": "message.send", "ref": "ok", "content": "from the socket", "client_msg_id": clientID}
	s.sendJSON(send)
	var ack chatEvent
	var evs []chatEvent
	for ack == nil || len(evs) == 0 {
		e := s.read()
		if e.typ() == "ack" {
			ack = e
		} else {
			evs = append(evs, e)
		}
	}
	require.Equal(t, "message.send", ack["for"])
	require.Equal(t, false, ack["repeated"])
	require.Equal(t, "from the socket", ack["message"].(map[string]any)["content"])
	require.Equal(t, ack["run_id"], evs[0]["run_id"])
	require.Equal(t, chat.EventMessageCompleted, evs[0].typ())
	s.sendJSON(send)
	again := s.read()
	require.Equal(t, "ack", again.typ())
	require.Equal(t, true, again["repeated"])
	require.Equal(t, ack["run_id"], again["run_id"])
}

// A browser page of another origin cannot open a socket; the configured
// origins and the API's own can.
func TestChatSocketOrigin(t *testing.T) {
	t.Parallel()
	b := setupChat(t, apitest.Options{Configure: func(c *config.Config) { c.HTTP.CORSOrigins = []string{"https://app.example"} }})
	conv := b.conversation(t)
	_, res, err := dial(t, b.e, conv, "", b.u.Bearer(), "Origin: https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

	tk := b.do(http.MethodPost, "/api/chat/ticket", map[string]any{"conversation_id": conv}).Map(t)["ticket"].(string)
	_, res, err = dial(t, b.e, conv, "?ticket="+tk, "Origin: https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	s, res, err := dial(t, b.e, conv, "?ticket="+tk, "Origin: https://app.example")
	require.NoError(t, err, "%v: the refused origin did not use the ticket up", res)
	s.subscribe(nil)
	s, res, err = dial(t, b.e, conv, "", b.u.Bearer(), "Origin: "+b.e.Server.URL)
	require.NoError(t, err, "%v", res)
	s.subscribe(nil)
}
