package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// BenchmarkChat measures chat streaming through the real socket and prints
// a table:
//
//   - floor: a bare WebSocket echo that inserts one row per message (the
//     least a send answered over a socket can cost);
//   - send-to-first-delta: the time from writing message.send to reading the
//     run's first message.delta, one client sending one message after its
//     previous run completed. The path: the send transaction (message, run,
//     River job on the chat queue, event), River fetching the job (the chat
//     queue's jobs.chat_fetch_cooldown/poll_interval), the worker's
//     run.started, the orchestrator's context and delta (a model that
//     answers at once), NOTIFY, the hub's read and the socket write;
//   - streaming: 200 sockets, each its own user and conversation, sending
//     a message as soon as their previous answer completed; each answer is
//     10 message.delta batches 100ms apart (a model's pace). It reports the
//     events delivered per second and the delay of each event (read on the
//     socket minus its created_at), and fails on any lost, repeated or
//     out-of-order seq of any conversation.
func BenchmarkChat(b *testing.B) {
	var rows []chatBenchRow
	b.Run("floor-echo-insert", func(b *testing.B) {
		for range b.N {
			rows = append(rows, benchFloor(b))
		}
	})
	b.Run("send-to-first-delta", func(b *testing.B) {
		for range b.N {
			rows = append(rows, benchFirstDelta(b))
		}
	})
	b.Run("streaming-200-sockets", func(b *testing.B) {
		for range b.N {
			rows = append(rows, benchStreaming(b, 200))
		}
	})
	if len(rows) > 0 {
		fmt.Printf("\nchat over the WebSocket (%s per timed run, %d cores)\n", benchDuration(), runtime.NumCPU())
		fmt.Printf("%-46s %8s %9s %9s %9s %s\n", "measure", "samples", "p50", "p95", "p99", "")
		for _, r := range rows {
			fmt.Printf("%-46s %8d %9s %9s %9s %s\n", r.name, r.samples, ms(r.p50), ms(r.p95), ms(r.p99), r.note)
		}
		fmt.Println()
	}
}

type chatBenchRow struct {
	name          string
	samples       int
	p50, p95, p99 time.Duration
	note          string
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func latencyRow(b *testing.B, name string, lat []time.Duration) chatBenchRow {
	reportLatencies(b, lat)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	return chatBenchRow{name: name, samples: len(lat), p50: pct(0.5), p95: pct(0.95), p99: pct(0.99)}
}

func benchFloor(b *testing.B) chatBenchRow {
	pool := dbtest.Pool(b)
	ctx := context.Background()
	table := "bench_floor_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id bigserial PRIMARY KEY, body text NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = pool.Exec(ctx, `DROP TABLE `+table) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if _, err := pool.Exec(context.Background(), `INSERT INTO `+table+` (body) VALUES ($1)`, string(data)); err != nil {
				return
			}
			if c.Write(context.Background(), websocket.MessageText, data) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	lat := timed(benchDuration(), nil, func() error {
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"message.send","content":"hello"}`)); err != nil {
			return err
		}
		_, _, err := conn.Read(ctx)
		return err
	})
	return latencyRow(b, "floor: WS echo + 1 Postgres INSERT", lat)
}

func benchFirstDelta(b *testing.B) chatBenchRow {
	// The orchestrator with a provider that answers at once: the turn's
	// context (tasks, goals, passages, history) is built as for any model.
	m := &modeltest.Model{ChatFunc: func(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (*sdk.ChatResponse, error) {
		if stream != nil {
			if err := stream.Send(&sdk.ChatEvent{Text: "ok"}); err != nil {
				return nil, err
			}
		}
		return &sdk.ChatResponse{Message: sdk.Message{Role: sdk.RoleAssistant, Content: "ok"}, StopReason: "stop", Model: "instant"}, nil
	}}
	e := apitest.New(b, apitest.Options{Workers: true, Models: modeltest.Source{"instant": m}, Configure: func(c *config.Config) {
		c.Plugins.Items = append(c.Plugins.Items, plugin.PluginConfig{Name: "instant", Kind: sdk.KindLLM, Path: "/nonexistent/instant"})
		c.AI.ChatProvider = "instant"
		c.AI.Chat.ModelTitles = false
	}})
	u := e.NewUser()
	res := e.Do(http.MethodPost, "/api/conversations", map[string]any{}, u.Bearer())
	var conv struct {
		ID string `json:"id"`
	}
	res.JSON(b, &conv)
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, wsURL(e, conv.ID, ""), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + u.AccessToken}}})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	read := func() (map[string]any, error) {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(data, &m)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe"}`)); err != nil {
		b.Fatal(err)
	}
	if _, err := read(); err != nil {
		b.Fatal(err)
	}
	// Besides the total, where the time goes: the send's ack (its
	// transaction), the run.started the worker writes once River fetched
	// the job, and the delta after it.
	var firstDelta, toAck, toStarted, toDelta []time.Duration
	timed(benchDuration(), func() { firstDelta, toAck, toStarted, toDelta = nil, nil, nil, nil }, func() error {
		frame, _ := json.Marshal(map[string]any{"type": "message.send", "content": "hello", "client_msg_id": uuid.NewString()})
		t0 := time.Now()
		if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
			return err
		}
		var started time.Time
		seen := false
		for {
			m, err := read()
			if err != nil {
				return err
			}
			switch m["type"] {
			case "ack":
				toAck = append(toAck, time.Since(t0))
			case chat.EventRunStarted:
				started = time.Now()
				toStarted = append(toStarted, started.Sub(t0))
			case chat.EventMessageDelta:
				if !seen {
					firstDelta = append(firstDelta, time.Since(t0))
					toDelta = append(toDelta, time.Since(started))
					seen = true
				}
			case chat.EventRunCompleted:
				return nil
			}
		}
	})
	p50 := func(d []time.Duration) string {
		slices.Sort(d)
		return ms(d[len(d)/2])
	}
	row := latencyRow(b, "message.send -> first message.delta", firstDelta)
	row.note = fmt.Sprintf("p50 of the steps: ack %s, run.started %s, then delta %s", p50(toAck), p50(toStarted), p50(toDelta))
	return row
}

// paceRunner answers with n message.delta batches every apart, then the
// message: a model streaming at its pace.
type paceRunner struct {
	n     int
	every time.Duration
}

func (r paceRunner) RunTurn(ctx context.Context, t *chat.Turn) error {
	id := uuid.New()
	var text strings.Builder
	for i := range r.n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.every):
			}
		}
		part := fmt.Sprintf("part %d; ", i)
		if err := t.Emit(ctx, chat.DeltaEvent(t.Run.ID, id, part)); err != nil {
			return err
		}
		text.WriteString(part)
	}
	_, err := t.AddMessage(ctx, &chat.NewMessage{ID: id, Role: chat.RoleAssistant, Content: text.String(), AgentID: t.Agent.Name})
	return err
}

func benchStreaming(b *testing.B, sockets int) chatBenchRow {
	const deltas, every, maxConns = 10, 100 * time.Millisecond, 40
	pool, err := db.Open(context.Background(), dbtest.URL(b), db.PoolOptions{MaxConns: maxConns})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	e := apitest.New(b, apitest.Options{Workers: true, Pool: pool, ChatRunner: paceRunner{n: deltas, every: every},
		Configure: func(c *config.Config) { c.Jobs.ChatWorkers = sockets }})
	ctx := context.Background()
	type client struct {
		conn   *websocket.Conn
		convID string
		last   int64
	}
	clients := make([]*client, sockets)
	for i := range clients {
		u := e.NewUser()
		var conv struct {
			ID string `json:"id"`
		}
		e.Do(http.MethodPost, "/api/conversations", map[string]any{}, u.Bearer()).JSON(b, &conv)
		conn, _, err := websocket.Dial(ctx, wsURL(e, conv.ID, ""), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + u.AccessToken}}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.CloseNow() })
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","after_seq":0}`)); err != nil {
			b.Fatal(err)
		}
		clients[i] = &client{conn: conn, convID: conv.ID}
	}
	var (
		mu      sync.Mutex
		delays  []time.Duration
		pickups []time.Duration // message.send written -> run.started read
		answers []time.Duration // run.started read -> run.completed read
		runs    int
		failure error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if failure == nil {
			failure = err
		}
	}
	start := time.Now()
	deadline := start.Add(benchDuration())
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				delays = append(delays, mine...)
				mu.Unlock()
			}()
			for time.Now().Before(deadline) {
				frame, _ := json.Marshal(map[string]any{"type": "message.send", "content": "hello", "client_msg_id": uuid.NewString()})
				sentAt, startedAt := time.Now(), time.Time{}
				if err := c.conn.Write(ctx, websocket.MessageText, frame); err != nil {
					fail(err)
					return
				}
				for done := false; !done; {
					rctx, cancel := context.WithTimeout(ctx, time.Minute)
					_, data, err := c.conn.Read(rctx)
					cancel()
					if err != nil {
						fail(fmt.Errorf("conversation %s: %w", c.convID, err))
						return
					}
					now := time.Now()
					var ev struct {
						Type      string    `json:"type"`
						Seq       *int64    `json:"seq"`
						CreatedAt time.Time `json:"created_at"`
						Status    string    `json:"status"`
					}
					if err := json.Unmarshal(data, &ev); err != nil {
						fail(err)
						return
					}
					if ev.Type == chat.EventError {
						fail(fmt.Errorf("conversation %s: %s", c.convID, data))
						return
					}
					if ev.Seq == nil {
						continue // ack
					}
					if *ev.Seq != c.last+1 {
						fail(fmt.Errorf("conversation %s: seq %d after %d (lost, repeated or out of order)", c.convID, *ev.Seq, c.last))
						return
					}
					c.last = *ev.Seq
					mine = append(mine, now.Sub(ev.CreatedAt))
					if ev.Type == chat.EventRunStarted {
						startedAt = now
					}
					if ev.Type == chat.EventRunCompleted {
						if ev.Status != chat.RunCompleted {
							fail(fmt.Errorf("conversation %s: run %s", c.convID, ev.Status))
							return
						}
						mu.Lock()
						runs++
						pickups = append(pickups, startedAt.Sub(sentAt))
						answers = append(answers, now.Sub(startedAt))
						mu.Unlock()
						done = true
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failure != nil {
		b.Fatal(failure)
	}
	// Every stored event reached its socket: each conversation's last seq
	// is the last one read.
	for _, c := range clients {
		var last int64
		if err := pool.QueryRow(ctx, `SELECT last_event_seq FROM conversations WHERE id = $1`, c.convID).Scan(&last); err != nil {
			b.Fatal(err)
		}
		if last != c.last {
			b.Fatalf("conversation %s: stored up to seq %d, read up to %d", c.convID, last, c.last)
		}
	}
	eps := float64(len(delays)) / elapsed.Seconds()
	b.ReportMetric(eps, "events/s")
	b.ReportMetric(float64(runs), "runs")
	row := latencyRow(b, fmt.Sprintf("%d sockets streaming: event delay", sockets), delays)
	p50 := func(d []time.Duration) string {
		slices.Sort(d)
		return ms(d[len(d)/2])
	}
	row.note = fmt.Sprintf("%.0f events/s, %d runs (%d deltas %s apart each; p50 send->run.started %s, run.started->run.completed %s), 0 lost/repeated",
		eps, runs, deltas, every, p50(pickups), p50(answers))
	b.Logf("%s", row.note)
	return row
}

// timed calls do until d has passed (after a one-second warm-up, then
// warmedUp when set) and returns each call's duration.
func timed(d time.Duration, warmedUp func(), do func() error) []time.Duration {
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		_ = do()
	}
	if warmedUp != nil {
		warmedUp()
	}
	var out []time.Duration
	for end := time.Now().Add(d); time.Now().Before(end); {
		t0 := time.Now()
		if do() != nil {
			return out
		}
		out = append(out, time.Since(t0))
	}
	return out
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("nothing measured")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	b.ReportMetric(float64(len(lat)), "samples")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d samples: p50 %s, p95 %s, p99 %s, max %s", len(lat), pct(0.5), pct(0.95), pct(0.99), lat[len(lat)-1])
}
