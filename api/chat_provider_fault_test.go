package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/model/modeltest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/sdk"
)

// TestChatProviderFaults runs turns of one conversation through the real
// llm plugin against a local server speaking OpenAI's streaming format
// that answers slowly (a delta a second, longer than plugins.stream_timeout
// allows), never (no answer at all), or cuts its stream mid-answer. Each
// faulty run ends on its own (no hang): an `error` event naming the cause,
// `run.completed` failed, what was streamed kept once as a message marked
// incomplete with its stop_reason (none when nothing was streamed); the
// next turn is answered normally. Every run made one model call (no retry
// behind the user's back) and the conversation holds each message once.
// The seconds each fault took to end its run, and from then to the next
// answer, are logged.
func TestChatProviderFaults(t *testing.T) {
	t.Parallel()
	const streamTimeout = 8 * time.Second
	srv := modeltest.OpenAIServer(t)
	secret := "TEST_FAULTY_OPENAI_KEY"
	testsecrets.Register("provider_api_key", "sk-test-faulty")
	host := aitest.Host(t, plugin.Config{StreamTimeout: streamTimeout, Items: []plugin.PluginConfig{
		{Name: aitest.LocalName, Kind: sdk.KindLLM, Path: aitest.LocalPlugin(t), Enabled: true},
		{Name: "openai", Kind: sdk.KindLLM, Path: aitest.LLMPlugin(t), Enabled: true,
			Config:    map[string]string{"provider": "openai", "base_url": srv.URL},
			SecretEnv: map[string]string{"api_key": secret}},
	}}, plugin.WithLookupEnv(func(k string) (string, bool) {
		if k == secret {
			return "sk-test-faulty", true
		}
		return "", false
	}))
	b := setupChat(t, apitest.Options{Workers: true, Models: host, Configure: func(c *config.Config) {
		c.Plugins.Items = append(c.Plugins.Items, plugin0("openai"))
		c.AI.Agents = []config.Agent{{Name: "assistant", Provider: "openai"}}
		c.AI.Chat.ModelTitles = false
	}})
	conv := b.conversation(t)
	ws := b.dial(t, b.e, conv)
	zero := int64(0)
	ws.subscribe(&zero)
	// A run ends within the stream timeout plus the work around it; the
	// bound only fails a hung test.
	untilCompleted := func() []chatEvent {
		t.Helper()
		var out []chatEvent
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			_, data, err := ws.conn.Read(ctx)
			cancel()
			require.NoError(t, err, "no event within 3 minutes: the run hangs")
			var e chatEvent
			require.NoError(t, json.Unmarshal(data, &e), "%s", data)
			if e.typ() == "ack" {
				continue
			}
			out = append(out, e)
			if e.typ() == chat.EventRunCompleted {
				return out
			}
		}
	}

	var slow []string
	for i := range 40 {
		slow = append(slow, "slowly"+string(rune('a'+i%26))+" ")
	}
	never := make(chan struct{}) // never closed
	t.Cleanup(func() { close(never) })
	faults := []struct {
		name string
		turn modeltest.Turn
		// partial is the text kept as the incomplete answer: "" none, else
		// a prefix of it.
		partial string
	}{
		{"slow", modeltest.Turn{Text: slow, Pause: time.Second}, strings.Join(slow, "")},
		{"never", modeltest.Turn{Wait: never}, ""},
		{"cut", modeltest.Turn{Text: []string{"The boiler is ", "due for"}, Err: sdk.Temporary("cut")}, "The boiler is due for"},
	}
	sent := 0
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			srv.Script(f.turn, modeltest.Turn{Text: []string{"All ", "good now."}})
			start := time.Now()
			runID := b.send(t, conv, "Tell me about the "+f.name+" case.")["run_id"].(string)
			sent++
			evs := untilCompleted()
			ended := time.Now()
			t.Logf("%s: the run ended %.1f s after the message (plugins.stream_timeout %s)", f.name, ended.Sub(start).Seconds(), streamTimeout)
			last := evs[len(evs)-1]
			require.Equal(t, runID, last["run_id"])
			require.Equal(t, "failed", last["status"], "%v", evs)
			var errEv chatEvent
			var answers []map[string]any
			var deltas strings.Builder
			for _, e := range evs {
				switch e.typ() {
				case chat.EventError:
					require.Nil(t, errEv, "one error event")
					errEv = e
				case chat.EventMessageDelta:
					deltas.WriteString(e["text"].(string))
				case chat.EventMessageCompleted:
					if m := e["message"].(map[string]any); m["role"] == "assistant" {
						answers = append(answers, m)
					}
				}
			}
			require.NotNil(t, errEv, "an error event: %v", evs)
			require.Equal(t, "model_temporary", errEv["code"])
			require.NotEmpty(t, errEv["message"])
			if f.partial == "" {
				require.Empty(t, answers, "nothing streamed, nothing kept")
				require.Empty(t, deltas.String())
			} else {
				require.Len(t, answers, 1, "the partial answer kept once")
				content := answers[0]["content"].(string)
				require.NotEmpty(t, content)
				require.True(t, strings.HasPrefix(f.partial, content), "%q is what was streamed of %q", content, f.partial)
				require.Equal(t, deltas.String(), content)
				meta := answers[0]["metadata"].(map[string]any)
				require.Equal(t, true, meta["incomplete"])
				require.Equal(t, "model_temporary", meta["stop_reason"])
				require.NotEmpty(t, meta["error"])
			}

			// The next turn is answered.
			next := b.send(t, conv, "And now?")["run_id"].(string)
			sent++
			evs = untilCompleted()
			t.Logf("recovery: %.1f s from the %s run's end to the next answer", time.Since(ended).Seconds(), f.name)
			last = evs[len(evs)-1]
			require.Equal(t, next, last["run_id"])
			require.Equal(t, "completed", last["status"], "%v", evs)
			answer := evs[len(evs)-2]
			require.Equal(t, chat.EventMessageCompleted, answer.typ())
			m := answer["message"].(map[string]any)
			require.Equal(t, "All good now.", m["content"])
			require.Nil(t, m["metadata"].(map[string]any)["incomplete"])
		})
	}

	// One model call per run, each message once.
	require.Zero(t, srv.Left())
	require.Len(t, srv.Requests(), sent, "a model call per run, none retried")
	res := b.do(http.MethodGet, "/api/conversations/"+conv+"/messages?order=asc&limit=100", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	ids := map[string]bool{}
	roles := map[string]int{}
	for _, it := range res.Map(t)["items"].([]any) {
		m := it.(map[string]any)
		require.False(t, ids[m["id"].(string)], "message %s twice", m["id"])
		ids[m["id"].(string)] = true
		roles[m["role"].(string)]++
	}
	require.Equal(t, sent, roles["user"])
	require.Equal(t, sent-1, roles["assistant"], "an answer per run but the one that never answered")
	var runs int
	require.NoError(t, b.e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM chat_runs WHERE conversation_id = $1 AND status IN ('completed', 'failed')`, conv).Scan(&runs))
	require.Equal(t, sent, runs, "every run ended")
}
