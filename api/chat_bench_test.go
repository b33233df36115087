package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// BenchmarkChatSendToFirstDelta: through a real socket, the time from
// writing message.send to reading the run's first message.delta, one
// client sending one message after the other's run completed. The path:
// the send transaction (message, run, River job, event), River picking the
// job up, the worker's run.started, the orchestrator's context and delta (a model
// answers at once), NOTIFY, the hub's read and the socket write. Beside
// it, the floor: a bare WebSocket echo that inserts one row per message.
func BenchmarkChatSendToFirstDelta(b *testing.B) {
	b.Run("floor-echo-insert", func(b *testing.B) {
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
		b.ResetTimer()
		for range b.N {
			lat := timed(benchDuration(), nil, func() error {
				if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"message.send","content":"hello"}`)); err != nil {
					return err
				}
				_, _, err := conn.Read(ctx)
				return err
			})
			reportLatencies(b, lat)
		}
	})

	b.Run("send-to-first-delta", func(b *testing.B) {
		// The orchestrator with a provider that answers at once: the
		// turn's context (tasks, goals, passages, history) is built as
		// for any model.
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
		b.ResetTimer()
		for range b.N {
			var firstDelta []time.Duration
			timed(benchDuration(), func() { firstDelta = nil }, func() error {
				frame, _ := json.Marshal(map[string]any{"type": "message.send", "content": "hello", "client_msg_id": uuid.NewString()})
				t0 := time.Now()
				if err := conn.Write(ctx, websocket.MessageText, frame); err != nil {
					return err
				}
				seen := false
				for {
					m, err := read()
					if err != nil {
						return err
					}
					switch m["type"] {
					case chat.EventMessageDelta:
						if !seen {
							firstDelta = append(firstDelta, time.Since(t0))
							seen = true
						}
					case chat.EventRunCompleted:
						return nil
					}
				}
			})
			reportLatencies(b, firstDelta)
		}
	})
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
