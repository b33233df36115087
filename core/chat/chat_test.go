package chat

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fakeAgents is the agent registry of these tests.
type fakeAgents []Agent

func (f fakeAgents) Agents() []Agent { return f }
func (f fakeAgents) Agent(name string) (Agent, bool) {
	for _, a := range f {
		if a.Name == name {
			return a, true
		}
	}
	return Agent{}, false
}

var testAgents = fakeAgents{{Name: "assistant", Provider: LocalProvider}, {Name: "planner", Provider: "openai"}}

type testBundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	svc  *Service
	hub  *Hub
	user uuid.UUID
}

// nopWorker registers the run kind with the insert-only River client.
type nopWorker struct {
	river.WorkerDefaults[RunTurnArgs]
}

func (nopWorker) Work(context.Context, *river.Job[RunTurnArgs]) error { return nil }

// setup is one process: a service with its own started hub on the package
// database, and a new user.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.Pool(t)
	b := &testBundle{ctx: ctx, pool: pool}
	b.svc, b.hub = newProcess(t, pool)
	b.user = newUser(t, pool)
	return b
}

func newProcess(t *testing.T, pool *pgxpool.Pool) (*Service, *Hub) {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, nopWorker{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, TestOnly: true})
	require.NoError(t, err)
	d := db.New(pool)
	d.SetJobs(rc)
	logger := slog.New(slog.DiscardHandler)
	hub := NewHub(pool, logger)
	ctx, cancel := context.WithCancel(context.Background())
	hub.Start(ctx)
	t.Cleanup(func() { cancel(); hub.Wait() })
	// A queue of the test's own: no worker of this package takes its jobs.
	svc := NewService(Options{DB: d, Agents: testAgents, Hub: hub, Queue: "chat_test_" + strings.ReplaceAll(uuid.NewString()[:8], "-", ""), Logger: logger})
	return svc, hub
}

func newUser(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, pool.QueryRow(context.Background(), `INSERT INTO users (email) VALUES ($1) RETURNING id`,
		"chat-"+uuid.NewString()+"@example.com").Scan(&id))
	return id
}

func (b *testBundle) conversation(t *testing.T) *Conversation {
	t.Helper()
	c, err := b.svc.CreateConversation(b.ctx, b.user, &ConversationFields{})
	require.NoError(t, err)
	return c
}

// send sends content to conversation c (to agent, when not nil) as the
// bundle's user.
func (b *testBundle) send(t *testing.T, c *Conversation, content string, agent *string) *Sent {
	t.Helper()
	sent, err := b.svc.Send(b.ctx, b.user, c.ID, &SendParams{Content: content, AgentID: agent, ClientMsgID: uuid.NewString()})
	require.NoError(t, err)
	return sent
}

// appendN appends n events to the conversation, batch events per
// transaction.
func (b *testBundle) appendN(t *testing.T, convID uuid.UUID, n, batch int) {
	t.Helper()
	for n > 0 {
		k := min(batch, n)
		evs := make([]Event, k)
		for i := range evs {
			evs[i] = NewEvent(nil, EventMessageDelta, map[string]any{"text": "x"})
		}
		require.NoError(t, db.New(b.pool).InTx(b.ctx, func(tx db.Tx) error {
			_, err := AppendEvents(b.ctx, tx, b.user, convID, evs...)
			return err
		}))
		n -= k
	}
}

// collect reads a subscription until it has seen seq last (or fails after
// 30 s: a missing event is a failure, not a wait).
func collect(t *testing.T, sub *Subscription, last int64) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []Event
	for len(out) == 0 || out[len(out)-1].Seq < last {
		evs, err := sub.Next(ctx)
		require.NoError(t, err, "waiting for seq %d, have %d events", last, len(out))
		out = append(out, evs...)
	}
	return out
}

func requireSeqs(t *testing.T, evs []Event, from, to int64) {
	t.Helper()
	require.Len(t, evs, int(to-from+1), "events %d..%d", from, to)
	for i, e := range evs {
		require.Equal(t, from+int64(i), e.Seq, "event %d", i)
	}
}

// Appenders on two processes write to one conversation at once while a
// third process streams it: the stream sees every seq once, in order,
// without gaps, whatever the interleaving of commits and notifications.
func TestEventsConcurrentAppendsStreamWithoutGaps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	_, reader := newProcess(t, b.pool)
	sub, err := reader.Subscribe(b.ctx, b.user, c.ID, nil)
	require.NoError(t, err)
	defer sub.Close()

	const writers, perWriter, batch = 6, 40, 3
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i += batch {
				evs := []Event{}
				for range min(batch, perWriter-i) {
					evs = append(evs, NewEvent(nil, EventMessageDelta, map[string]any{"text": fmt.Sprint(w)}))
				}
				if err := db.New(b.pool).InTx(b.ctx, func(tx db.Tx) error {
					_, err := AppendEvents(b.ctx, tx, b.user, c.ID, evs...)
					return err
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	requireSeqs(t, collect(t, sub, writers*perWriter), 1, writers*perWriter)

	stored, err := b.svc.Events(b.ctx, b.user, c.ID, 0, 1000)
	require.NoError(t, err)
	requireSeqs(t, stored, 1, writers*perWriter)
}

// A subscription that starts after seq k while events keep being appended
// gets exactly k+1..n: the stored ones, then the live ones, none twice.
func TestSubscribeReplaysThenStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	b.appendN(t, c.ID, 30, 4)
	after := int64(11)
	sub, err := b.hub.Subscribe(b.ctx, b.user, c.ID, &after)
	require.NoError(t, err)
	defer sub.Close()
	done := make(chan struct{})
	go func() { defer close(done); b.appendN(t, c.ID, 50, 1) }()
	evs := collect(t, sub, 80)
	<-done
	requireSeqs(t, evs, 12, 80)
	require.Equal(t, EventMessageDelta, evs[0].Type)
	require.Equal(t, c.ID, evs[0].ConversationID)

	// From now on (no after_seq): only what comes after the subscription.
	live, err := b.hub.Subscribe(b.ctx, b.user, c.ID, nil)
	require.NoError(t, err)
	defer live.Close()
	b.appendN(t, c.ID, 2, 2)
	requireSeqs(t, collect(t, live, 82), 81, 82)
}

// The hub loses its LISTEN connection; while it is away events are
// appended (and their notifications lost): once it is back, its streams
// read them, none lost or repeated.
func TestHubReconnectsAndRereads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	logger := slog.New(slog.DiscardHandler)
	hub := NewHub(b.pool, logger)
	listening := make(chan struct{}, 4)
	release := make(chan struct{})
	var connects int
	hub.onListen = func() {
		connects++
		if connects == 2 {
			<-release // reconnected, but wakes nobody until the test has appended
		}
		listening <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	hub.Start(ctx)
	defer func() { cancel(); hub.Wait() }()
	<-listening

	sub, err := hub.Subscribe(b.ctx, b.user, c.ID, nil)
	require.NoError(t, err)
	defer sub.Close()
	b.appendN(t, c.ID, 3, 3)
	requireSeqs(t, collect(t, sub, 3), 1, 3)

	pid := hub.listenerPID()
	require.NotZero(t, pid)
	_, err = b.pool.Exec(b.ctx, `SELECT pg_terminate_backend($1)`, int32(pid))
	require.NoError(t, err)
	// The hub is reconnecting (held in onListen): these notifications
	// reach no one.
	b.appendN(t, c.ID, 5, 2)
	close(release)
	<-listening
	requireSeqs(t, collect(t, sub, 8), 4, 8)
	b.appendN(t, c.ID, 1, 1)
	requireSeqs(t, collect(t, sub, 9), 9, 9)
}

// A resume from past the end, or from before what is kept, starts with
// resync_required carrying the seq the stream goes on after.
func TestResyncRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	b.appendN(t, c.ID, 10, 5)

	future := int64(99)
	sub, err := b.hub.Subscribe(b.ctx, b.user, c.ID, &future)
	require.NoError(t, err)
	evs := collect(t, sub, 10)
	require.Len(t, evs, 1)
	require.Equal(t, EventResyncRequired, evs[0].Type)
	require.EqualValues(t, 10, evs[0].Seq)
	require.JSONEq(t, `{"after_seq":99}`, string(evs[0].Payload))
	b.appendN(t, c.ID, 1, 1)
	requireSeqs(t, collect(t, sub, 11), 11, 11)
	sub.Close()

	// Events 1..6 age past the retention and are pruned.
	_, err = b.pool.Exec(b.ctx, `UPDATE chat_events SET created_at = now() - interval '25 hours'
		WHERE conversation_id = $1 AND seq <= 6`, c.ID)
	require.NoError(t, err)
	_, err = Prune(b.ctx, db.New(b.pool))
	require.NoError(t, err)
	stored, err := b.svc.Events(b.ctx, b.user, c.ID, 0, 100)
	require.NoError(t, err)
	requireSeqs(t, stored, 7, 11)

	for after, want := range map[int64]string{0: EventResyncRequired, 5: EventResyncRequired, 6: EventMessageDelta} {
		sub, err := b.hub.Subscribe(b.ctx, b.user, c.ID, &after)
		require.NoError(t, err)
		evs := collect(t, sub, 11)
		sub.Close()
		require.Equal(t, want, evs[0].Type, "after %d", after)
		if want == EventResyncRequired {
			require.Len(t, evs, 1)
			require.EqualValues(t, 11, evs[0].Seq)
		} else {
			requireSeqs(t, evs, 7, 11)
		}
	}
}

// Another user's conversation is not found, whatever is asked of it.
func TestOtherUsersConversationNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	sent := b.send(t, c, "mine", nil)
	other := newUser(t, b.pool)
	title := "stolen"
	zero := int64(0)
	for name, call := range map[string]func() error{
		"get": func() error { _, err := b.svc.GetConversation(b.ctx, other, c.ID); return err },
		"update": func() error {
			_, err := b.svc.UpdateConversation(b.ctx, other, c.ID, &ConversationFields{Title: &title})
			return err
		},
		"delete": func() error { return b.svc.DeleteConversation(b.ctx, other, c.ID) },
		"list messages": func() error {
			_, err := b.svc.ListMessages(b.ctx, other, c.ID, &MessageFilter{})
			return err
		},
		"send": func() error {
			_, err := b.svc.Send(b.ctx, other, c.ID, &SendParams{Content: "hi", ClientMsgID: uuid.NewString()})
			return err
		},
		"subscribe": func() error { _, err := b.hub.Subscribe(b.ctx, other, c.ID, &zero); return err },
		"ticket":    func() error { _, err := b.svc.IssueTicket(b.ctx, other, c.ID); return err },
		"cancel":    func() error { _, err := b.svc.CancelRun(b.ctx, other, c.ID, sent.RunID); return err },
		"get run":   func() error { _, err := b.svc.GetRun(b.ctx, other, c.ID, sent.RunID); return err },
		"events": func() error {
			_, err := b.svc.Events(b.ctx, other, c.ID, 0, 10)
			return err
		},
		"append": func() error {
			return db.New(b.pool).InTx(b.ctx, func(tx db.Tx) error {
				_, err := AppendEvents(b.ctx, tx, other, c.ID, NewEvent(nil, EventError, map[string]any{}))
				return err
			})
		},
	} {
		require.True(t, apperr.Is(call(), apperr.NotFound), name)
	}
	got, err := b.svc.GetConversation(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	require.Equal(t, "mine", got.Title, "unchanged by the other user")
	require.EqualValues(t, 1, got.LastEventSeq)
}

// Send stores the message, its run and its job in one transaction; a
// repeat of client_msg_id answers the first send, another content under it
// is a conflict; bad fields are named.
func TestSend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	clientID := uuid.NewString()
	p := &SendParams{Content: "Plan my week around the dentist appointment on Thursday afternoon please", ClientMsgID: clientID}
	sent, err := b.svc.Send(b.ctx, b.user, c.ID, p)
	require.NoError(t, err)
	require.False(t, sent.Repeated)
	require.Equal(t, RoleUser, sent.Message.Role)
	require.Nil(t, sent.Message.AgentID)
	require.Equal(t, sent.RunID, *sent.Message.RunID)

	run, err := b.svc.GetRun(b.ctx, b.user, c.ID, sent.RunID)
	require.NoError(t, err)
	require.Equal(t, RunQueued, run.Status)
	require.Equal(t, "assistant", run.AgentID, "the first configured agent answers when none is named")
	var jobs int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM river_job WHERE kind = 'chat.run_turn' AND args->>'run_id' = $1`,
		sent.RunID.String()).Scan(&jobs))
	require.Equal(t, 1, jobs)

	got, err := b.svc.GetConversation(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Plan my week around the dentist appointment on…", got.Title, "the first words of the first message")
	require.NotNil(t, got.LastMessageAt)

	again, err := b.svc.Send(b.ctx, b.user, c.ID, p)
	require.NoError(t, err)
	require.True(t, again.Repeated)
	require.Equal(t, sent.Message.ID, again.Message.ID)
	require.Equal(t, sent.RunID, again.RunID)

	_, err = b.svc.Send(b.ctx, b.user, c.ID, &SendParams{Content: "something else", ClientMsgID: clientID})
	require.True(t, apperr.Is(err, apperr.Conflict), "%v", err)

	planner := "planner"
	second := b.send(t, c, "and goals?", &planner)
	require.Equal(t, "planner", *second.Message.AgentID)
	got, err = b.svc.GetConversation(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Plan my week around the dentist appointment on…", got.Title, "only the first message names it")

	unknown := "nobody"
	for name, c := range map[string]struct {
		p     SendParams
		field string
	}{
		"empty":         {SendParams{Content: "  \n", ClientMsgID: uuid.NewString()}, "content"},
		"too long":      {SendParams{Content: strings.Repeat("é", MaxContentLength+1), ClientMsgID: uuid.NewString()}, "content"},
		"NUL":           {SendParams{Content: "a\x00b", ClientMsgID: uuid.NewString()}, "content"},
		"unknown agent": {SendParams{Content: "hi", AgentID: &unknown, ClientMsgID: uuid.NewString()}, "agent_id"},
		"no client id":  {SendParams{Content: "hi"}, "client_msg_id"},
		"nil client id": {SendParams{Content: "hi", ClientMsgID: uuid.Nil.String()}, "client_msg_id"},
	} {
		_, err := b.svc.Send(b.ctx, b.user, got.ID, &c.p)
		var ae *apperr.Error
		require.True(t, errors.As(err, &ae), name)
		require.Equal(t, apperr.Invalid, ae.Code, name)
		require.Equal(t, c.field, ae.Fields[0].Location, name)
	}
	_, err = b.svc.Send(b.ctx, b.user, c.ID, &SendParams{Content: strings.Repeat("é", MaxContentLength), ClientMsgID: uuid.NewString()})
	require.NoError(t, err, "32,000 characters are allowed")

	res, err := b.svc.ListMessages(b.ctx, b.user, c.ID, &MessageFilter{Order: "asc"})
	require.NoError(t, err)
	msgs := res.Items
	require.Len(t, msgs, 3, "refused sends stored nothing")
}

// The message, its run, its job and its event commit together: when any
// of them cannot be written, none is. Faults are injected with triggers
// that refuse this conversation's rows only.
func TestSendIsOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	counts := func() []int {
		var m, r, j, ev int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT
			(SELECT count(*) FROM chat_messages WHERE conversation_id = $1),
			(SELECT count(*) FROM chat_runs WHERE conversation_id = $1),
			(SELECT count(*) FROM river_job WHERE kind = 'chat.run_turn' AND args->>'conversation_id' = $1::text),
			(SELECT count(*) FROM chat_events WHERE conversation_id = $1)`, c.ID).Scan(&m, &r, &j, &ev))
		return []int{m, r, j, ev}
	}
	send := func() error {
		_, err := b.svc.Send(b.ctx, b.user, c.ID, &SendParams{Content: "hello", ClientMsgID: uuid.NewString()})
		return err
	}
	require.NoError(t, send())
	require.Equal(t, []int{1, 1, 1, 1}, counts())

	name := "chat_fault_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	_, err := b.pool.Exec(b.ctx, `CREATE FUNCTION `+name+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected fault'; END $$`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = b.pool.Exec(context.Background(), `DROP FUNCTION `+name+`() CASCADE`) })
	for _, table := range []struct{ name, when string }{
		{"river_job", "NEW.args->>'conversation_id' = '" + c.ID.String() + "'"},
		{"chat_events", "NEW.conversation_id = '" + c.ID.String() + "'"},
		{"chat_runs", "NEW.conversation_id = '" + c.ID.String() + "'"},
	} {
		_, err := b.pool.Exec(b.ctx, fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW WHEN (%s) EXECUTE FUNCTION %s()`,
			name, table.name, table.when, name))
		require.NoError(t, err)
		err = send()
		require.ErrorContains(t, err, "injected fault", table.name)
		require.Equal(t, []int{1, 1, 1, 1}, counts(), "a failed %s insert leaves nothing behind", table.name)
		_, err = b.pool.Exec(b.ctx, fmt.Sprintf(`DROP TRIGGER %s ON %s`, name, table.name))
		require.NoError(t, err)
	}
	require.NoError(t, send())
	require.Equal(t, []int{2, 2, 2, 2}, counts())
}

// blockingRunner holds a turn until its ctx ends.
type blockingRunner struct{ started chan uuid.UUID }

func (r blockingRunner) RunTurn(ctx context.Context, t *Turn) error {
	r.started <- t.Run.ID
	<-ctx.Done()
	return ctx.Err()
}

// run.cancel reaches the turn through another process: the worker's hub
// hears NOTIFY chat_cancel, the Runner's ctx ends, the run ends cancelled.
func TestCancelFromAnotherProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	sent := b.send(t, c, "long task", nil)
	api, _ := newProcess(t, b.pool)

	runner := blockingRunner{started: make(chan uuid.UUID, 1)}
	done := make(chan error, 1)
	go func() {
		done <- b.svc.RunTurn(b.ctx, RunTurnArgs{RunID: sent.RunID, ConversationID: c.ID, UserID: b.user}, runner, TurnJob{})
	}()
	require.Equal(t, sent.RunID, <-runner.started)
	r, err := api.CancelRun(b.ctx, b.user, c.ID, sent.RunID)
	require.NoError(t, err)
	require.True(t, r.CancelRequested)
	require.Equal(t, RunRunning, r.Status)
	require.NoError(t, <-done)

	r, err = b.svc.GetRun(b.ctx, b.user, c.ID, sent.RunID)
	require.NoError(t, err)
	require.Equal(t, RunCancelled, r.Status)
	evs, err := b.svc.Events(b.ctx, b.user, c.ID, 0, 100)
	require.NoError(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	require.Equal(t, []string{EventMessageCompleted, EventRunStarted, EventRunCompleted}, types)
	require.JSONEq(t, `{"status":"cancelled"}`, string(evs[2].Payload))

	// A queued run is cancelled at once, and its job then does nothing.
	queued := b.send(t, c, "never mind", nil)
	r, err = api.CancelRun(b.ctx, b.user, c.ID, queued.RunID)
	require.NoError(t, err)
	require.Equal(t, RunCancelled, r.Status)
	require.NoError(t, b.svc.RunTurn(b.ctx, RunTurnArgs{RunID: queued.RunID, ConversationID: c.ID, UserID: b.user}, runner, TurnJob{}))
	require.Empty(t, runner.started, "a cancelled run is not started")
}

// The interim runner answers honestly: with the local provider it says
// that no language model is configured; with a real provider it fails the
// run saying agents are not available yet. Runs of one conversation go in
// order.
func TestNoModelRunner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	first := b.send(t, c, "hello", nil)
	planner := "planner"
	second := b.send(t, c, "plan", &planner)
	args := func(s *Sent) RunTurnArgs { return RunTurnArgs{RunID: s.RunID, ConversationID: c.ID, UserID: b.user} }

	// The second waits in its worker for the first to end...
	secondDone := make(chan error, 1)
	go func() { secondDone <- b.svc.RunTurn(b.ctx, args(second), NoModelRunner{}, TurnJob{}) }()
	// ... or, with no hub to wait on, is snoozed at once.
	noHub := NewService(Options{DB: b.svc.db, Agents: testAgents})
	require.ErrorIs(t, noHub.RunTurn(b.ctx, args(second), NoModelRunner{}, TurnJob{}), ErrEarlierRun)
	require.NoError(t, b.svc.RunTurn(b.ctx, args(first), NoModelRunner{}, TurnJob{}))
	require.NoError(t, <-secondDone)

	r, err := b.svc.GetRun(b.ctx, b.user, c.ID, first.RunID)
	require.NoError(t, err)
	require.Equal(t, RunCompleted, r.Status)
	r, err = b.svc.GetRun(b.ctx, b.user, c.ID, second.RunID)
	require.NoError(t, err)
	require.Equal(t, RunFailed, r.Status)
	require.Equal(t, "unavailable", r.ErrorCode)

	res, err := b.svc.ListMessages(b.ctx, b.user, c.ID, &MessageFilter{Order: "asc"})
	require.NoError(t, err)
	msgs := res.Items
	require.Len(t, msgs, 3)
	answer := msgs[2]
	require.Equal(t, RoleAssistant, answer.Role)
	require.Equal(t, NoModelText, answer.Content)
	require.Equal(t, "assistant", *answer.AgentID)
	require.Equal(t, first.RunID, *answer.RunID)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(answer.Metadata, &meta))
	require.Equal(t, true, meta["no_language_model"])

	evs, err := b.svc.Events(b.ctx, b.user, c.ID, 0, 100)
	require.NoError(t, err)
	var got []string
	for _, e := range evs {
		got = append(got, e.Type)
	}
	require.Equal(t, []string{
		EventMessageCompleted, EventMessageCompleted, // the two user messages
		EventRunStarted, EventMessageDelta, EventMessageCompleted, EventRunCompleted, // the local answer
		EventRunStarted, EventError, EventRunCompleted, // the planner, on a provider it cannot use yet
	}, got)
	var delta struct {
		MessageID uuid.UUID `json:"message_id"`
		Text      string    `json:"text"`
	}
	require.NoError(t, json.Unmarshal(evs[3].Payload, &delta))
	require.Equal(t, answer.ID, delta.MessageID, "the delta names the message it becomes")
	require.Equal(t, NoModelText, delta.Text)
	require.JSONEq(t, `{"status":"failed"}`, string(evs[8].Payload))

	// Run again (a retried job): nothing more happens.
	require.NoError(t, b.svc.RunTurn(b.ctx, args(first), NoModelRunner{}, TurnJob{}))
	again, err := b.svc.Events(b.ctx, b.user, c.ID, 0, 100)
	require.NoError(t, err)
	require.Len(t, again, len(evs))
}

// Tickets are single-use, expire, open only their conversation, and are
// stored as hashes.
func TestTickets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	other := b.conversation(t)
	tk, err := b.svc.IssueTicket(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(TicketTTL), tk.ExpiresAt, 10*time.Second)
	var hashes [][]byte
	rows, err := b.pool.Query(b.ctx, `SELECT hash FROM chat_tickets WHERE user_id = $1`, b.user)
	require.NoError(t, err)
	hashes, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(tk.Value))
	require.Equal(t, [][]byte{sum[:]}, hashes, "only the ticket's SHA-256 is stored")
	var stored int

	user, err := b.svc.RedeemTicket(b.ctx, tk.Value, c.ID)
	require.NoError(t, err)
	require.Equal(t, b.user, user)
	_, err = b.svc.RedeemTicket(b.ctx, tk.Value, c.ID)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "single use")

	wrong, err := b.svc.IssueTicket(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	_, err = b.svc.RedeemTicket(b.ctx, wrong.Value, other.ID)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "another conversation")
	_, err = b.svc.RedeemTicket(b.ctx, wrong.Value, c.ID)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "used up by the wrong attempt")

	expired, err := b.svc.IssueTicket(b.ctx, b.user, c.ID)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE chat_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1`, b.user)
	require.NoError(t, err)
	_, err = b.svc.RedeemTicket(b.ctx, expired.Value, c.ID)
	require.True(t, apperr.Is(err, apperr.Unauthorized), "expired")
	_, err = Prune(b.ctx, db.New(b.pool))
	require.NoError(t, err)
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM chat_tickets WHERE user_id = $1`, b.user).Scan(&stored))
	require.Zero(t, stored, "expired tickets are pruned")

	for _, v := range []string{"", "nonsense", strings.Repeat("x", 4096)} {
		_, err := b.svc.RedeemTicket(b.ctx, v, c.ID)
		require.True(t, apperr.Is(err, apperr.Unauthorized), "%q", v)
	}
}

// Deleting a conversation ends its streams with not_found.
func TestDeleteEndsStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	zero := int64(0)
	sub, err := b.hub.Subscribe(b.ctx, b.user, c.ID, &zero)
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, b.svc.DeleteConversation(b.ctx, b.user, c.ID))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	_, err = sub.Next(ctx)
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
}

func TestAutoTitle(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Hello":                       "Hello",
		"  what\tis\n\ndue   today? ": "what is due today?",
		"one two three four five six seven eight nine": "one two three four five six seven eight…",
		strings.Repeat("a", 70):                        strings.Repeat("a", 60) + "…",
		"short " + strings.Repeat("b", 58):             "short…",
	} {
		require.Equal(t, want, autoTitle(in), "%q", in)
	}
}

func TestEventJSON(t *testing.T) {
	t.Parallel()
	run := uuid.New()
	conv := uuid.New()
	e := DeltaEvent(run, uuid.Nil, "hi \"there\"")
	e.Seq, e.ConversationID, e.CreatedAt = 7, conv, time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	raw, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"type":"message.delta","seq":7,"conversation_id":%q,"run_id":%q,
		"created_at":"2026-03-14T09:30:00Z","message_id":%q,"text":"hi \"there\""}`, conv, run, uuid.Nil), string(raw))
	e = Event{Type: EventResyncRequired, Seq: 1, ConversationID: conv}
	raw, err = json.Marshal(e)
	require.NoError(t, err)
	require.True(t, json.Valid(raw))
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	require.Nil(t, m["run_id"])
}

// answerThenStop stores the answer, as NoModelRunner does, and then the
// worker stops before the run is ended (as when the database went away
// between the two): the job is retried.
type answerThenStop struct{ stop context.CancelFunc }

func (a answerThenStop) RunTurn(ctx context.Context, t *Turn) error {
	if err := (NoModelRunner{}).RunTurn(ctx, t); err != nil {
		return err
	}
	a.stop()
	return ctx.Err()
}

// A run whose answer was stored by an attempt that could not end it is
// answered once: the next attempt finds its answer stored.
func TestAnswerStoredOnceWhenTheRunIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.conversation(t)
	sent := b.send(t, c, "hello", nil)
	args := RunTurnArgs{RunID: sent.RunID, ConversationID: c.ID, UserID: b.user}
	ctx, stop := context.WithCancel(b.ctx)
	require.Error(t, b.svc.RunTurn(ctx, args, answerThenStop{stop}, TurnJob{}), "the interrupted attempt asks for a retry")
	require.NoError(t, b.svc.RunTurn(b.ctx, args, NoModelRunner{}, TurnJob{}))

	r, err := b.svc.GetRun(b.ctx, b.user, c.ID, sent.RunID)
	require.NoError(t, err)
	require.Equal(t, RunCompleted, r.Status)
	require.Equal(t, 2, r.Attempts)
	res, err := b.svc.ListMessages(b.ctx, b.user, c.ID, &MessageFilter{Order: "asc"})
	require.NoError(t, err)
	var answers int
	for _, m := range res.Items {
		if m.Role == RoleAssistant {
			answers++
		}
	}
	require.Equal(t, 1, answers, "one answer")
}
