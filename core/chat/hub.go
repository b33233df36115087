package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Hub brings conversation events to the streams of one process, whichever
// process appended them: it holds one dedicated LISTEN connection (taken
// from the pool and owned by the hub), and on each NOTIFY chat_events
// wakes the subscriptions of that conversation, which read the new events
// from the table themselves. Notifications only wake; the table is the
// truth, so a stream never loses or repeats an event (see Subscribe).
//
// When the connection is lost the hub reconnects with backoff and then
// wakes every subscription, which re-reads from its last seq: whatever was
// notified while it was away is read then. The same connection hears
// NOTIFY chat_cancel for the runs this process works (see RunTurn).
type Hub struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	mu      sync.Mutex
	subs    map[uuid.UUID]map[*Subscription]struct{}
	cancels map[uuid.UUID]map[*cancelWatch]struct{}
	pid     uint32 // backend of the LISTEN connection (0 while down)
	// done is closed when the hub stops.
	done chan struct{}

	// onListen, when set (tests), runs after LISTEN and before the hub
	// wakes its subscriptions.
	onListen func()
}

type cancelWatch struct {
	userID uuid.UUID
	cancel context.CancelFunc
}

// NewHub returns a hub reading from pool; Start it.
func NewHub(pool *pgxpool.Pool, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{pool: pool, logger: logger, subs: map[uuid.UUID]map[*Subscription]struct{}{},
		cancels: map[uuid.UUID]map[*cancelWatch]struct{}{}, done: make(chan struct{})}
}

// Start runs the hub until ctx ends; its streams end then too (Next fails
// with ErrHubStopped), so that a shutting-down server is not held open by
// them. Wait returns once it has stopped.
func (h *Hub) Start(ctx context.Context) { go h.run(ctx) }

// Wait blocks until a started hub has stopped.
func (h *Hub) Wait() { <-h.done }

// Done is closed when the hub has stopped.
func (h *Hub) Done() <-chan struct{} { return h.done }

const (
	// hubCheckInterval is how long the LISTEN connection may stay silent
	// before the hub checks that it is alive (a dead peer can go unseen
	// for TCP's keepalive time otherwise).
	hubCheckInterval = 30 * time.Second
	hubMaxBackoff    = 5 * time.Second
)

func (h *Hub) run(ctx context.Context) {
	defer close(h.done)
	delay := 100 * time.Millisecond
	for {
		listened, err := h.listen(ctx)
		h.setPID(0)
		if ctx.Err() != nil {
			return
		}
		if listened {
			delay = 100 * time.Millisecond
		}
		h.logger.WarnContext(ctx, "chat hub: LISTEN connection lost; reconnecting", "error", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, hubMaxBackoff)
	}
}

// listen holds one LISTEN connection until it fails or ctx ends; listened
// says whether it got as far as listening.
func (h *Hub) listen(ctx context.Context) (listened bool, err error) {
	pc, err := h.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	// Hijacked: the connection is the hub's for good, and the pool may
	// open another in its place.
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, ch := range []string{notifyChannel, cancelChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	h.setPID(conn.PgConn().PID())
	if h.onListen != nil {
		h.onListen()
	}
	// Whatever was notified while the hub was not listening is read now.
	h.wakeAll(ctx)
	for {
		wctx, cancel := context.WithTimeout(ctx, hubCheckInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			h.dispatch(ctx, n)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = conn.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil {
				return true, fmt.Errorf("check connection: %w", err)
			}
		default:
			return true, err
		}
	}
}

func (h *Hub) setPID(pid uint32) {
	h.mu.Lock()
	h.pid = pid
	h.mu.Unlock()
}

// listenerPID is the backend of the LISTEN connection, 0 while down.
func (h *Hub) listenerPID() uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pid
}

func (h *Hub) dispatch(ctx context.Context, n *pgconn.Notification) {
	switch n.Channel {
	case notifyChannel:
		// '<conversation_id>:<last seq>'; anything else is not ours.
		idText, _, _ := strings.Cut(n.Payload, ":")
		id, err := uuid.Parse(idText)
		if err != nil {
			return
		}
		h.mu.Lock()
		for s := range h.subs[id] {
			s.wake()
		}
		h.mu.Unlock()
	case cancelChannel:
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			return
		}
		h.mu.Lock()
		for w := range h.cancels[id] {
			w.cancel()
		}
		h.mu.Unlock()
	}
}

// wakeAll wakes every subscription and checks every watched run for a
// cancel request: notifications may have been missed.
func (h *Hub) wakeAll(ctx context.Context) {
	h.mu.Lock()
	for _, subs := range h.subs {
		for s := range subs {
			s.wake()
		}
	}
	var runs []uuid.UUID
	var users []uuid.UUID
	for id, ws := range h.cancels {
		for w := range ws {
			runs, users = append(runs, id), append(users, w.userID)
			break
		}
	}
	h.mu.Unlock()
	if len(runs) == 0 {
		return
	}
	rows, err := h.pool.Query(ctx, `SELECT r.id FROM chat_runs r JOIN unnest($1::uuid[], $2::uuid[]) AS w(id, user_id)
		ON r.id = w.id AND r.user_id = w.user_id WHERE r.cancel_requested_at IS NOT NULL OR r.status = 'cancelled'`, runs, users)
	if err != nil {
		h.logger.WarnContext(ctx, "chat hub: check cancel requests", "error", err)
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		h.logger.WarnContext(ctx, "chat hub: check cancel requests", "error", err)
		return
	}
	h.mu.Lock()
	for _, id := range ids {
		for w := range h.cancels[id] {
			w.cancel()
		}
	}
	h.mu.Unlock()
}

// watchCancel calls cancel when a cancel of the run is requested; stop
// ends the watch.
func (h *Hub) watchCancel(runID, userID uuid.UUID, cancel context.CancelFunc) (stop func()) {
	w := &cancelWatch{userID: userID, cancel: cancel}
	h.mu.Lock()
	if h.cancels[runID] == nil {
		h.cancels[runID] = map[*cancelWatch]struct{}{}
	}
	h.cancels[runID][w] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.cancels[runID], w)
		if len(h.cancels[runID]) == 0 {
			delete(h.cancels, runID)
		}
		h.mu.Unlock()
	}
}

// ErrHubStopped ends the streams of a process that is shutting down; the
// client resumes on another (or the restarted) process.
var ErrHubStopped = errors.New("the server is shutting down")

// eventBatch bounds one read of a subscription.
const eventBatch = 500

// Subscription is one stream's view of a conversation's events.
type Subscription struct {
	hub            *Hub
	userID, convID uuid.UUID
	// last is the seq of the last event delivered (or the seq the stream
	// started after); only Next touches it.
	last    int64
	wakeC   chan struct{}
	closeMu sync.Once
}

func (s *Subscription) wake() {
	select {
	case s.wakeC <- struct{}{}:
	default: // a wake is pending already: one read serves both
	}
}

// Subscribe opens a stream of the user's conversation: the stored events
// after seq after (nil: from now on), then the live ones, each once, in
// seq order and without gaps. When after is older than what is kept
// (EventRetention) or newer than the conversation's last seq, the stream
// starts with a resync_required event instead. Another user's (or no)
// conversation is not found.
//
// It registers before it reads, so an event committed at any moment is
// either read by the first read or wakes a later one; every read asks for
// the seqs after the last delivered, so nothing comes twice.
func (h *Hub) Subscribe(ctx context.Context, userID, convID uuid.UUID, after *int64) (*Subscription, error) {
	s := &Subscription{hub: h, userID: userID, convID: convID, wakeC: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[convID] == nil {
		h.subs[convID] = map[*Subscription]struct{}{}
	}
	h.subs[convID][s] = struct{}{}
	h.mu.Unlock()
	c, err := getConversation(ctx, h.pool, userID, convID)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.last = c.LastEventSeq
	if after != nil {
		s.last = *after
	}
	s.wake() // the first Next reads what is stored after s.last
	return s, nil
}

// Next waits for and returns the next events: at most eventBatch of them,
// in seq order. It fails with a not_found error when the conversation has
// been deleted, and with ctx's error when ctx ends.
func (s *Subscription) Next(ctx context.Context) ([]Event, error) {
	for {
		select {
		case <-s.wakeC:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.hub.done:
			return nil, ErrHubStopped
		}
		l, err := readEvents(ctx, s.hub.pool, s.userID, s.convID, s.last, eventBatch)
		if err != nil {
			s.wake() // the read did not happen: the next Next makes it
			return nil, err
		}
		if s.last > l.Last || s.last < l.Pruned {
			ev := Event{Seq: l.Last, ConversationID: s.convID, Type: EventResyncRequired, CreatedAt: time.Now(),
				Payload: []byte(`{"after_seq":` + strconv.FormatInt(s.last, 10) + `}`)}
			s.last = l.Last
			s.wake() // events may have come after l.Last meanwhile
			return []Event{ev}, nil
		}
		if len(l.Events) == eventBatch {
			s.wake() // more to read
		}
		if len(l.Events) > 0 {
			s.last = l.Events[len(l.Events)-1].Seq
			return l.Events, nil
		}
	}
}

// LastSeq is the seq of the last event Next returned (or the one the
// stream started after).
func (s *Subscription) LastSeq() int64 { return s.last }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.closeMu.Do(func() {
		h := s.hub
		h.mu.Lock()
		delete(h.subs[s.convID], s)
		if len(h.subs[s.convID]) == 0 {
			delete(h.subs, s.convID)
		}
		h.mu.Unlock()
	})
}
