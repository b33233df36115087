package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/chat/tools"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/jobs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBundle is the service graph as the composition root builds it, the
// tools over it, and a clock fixed at now.
type testBundle struct {
	t     *testing.T
	app   *app.App
	tools map[string]chat.Tool
	queue string
	now   time.Time
}

type setupOptions struct {
	// models are the model providers; search tests run the local plugin.
	models model.Source
	// work starts River, so that embedding jobs run.
	work bool
}

// now is the tests' clock: Wednesday 2026-03-04, 10:00 UTC.
var now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T, o setupOptions) *testBundle {
	t.Helper()
	cfg := config.Default()
	cfg.Auth.Password = config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	cfg.Jobs.MaxWorkers = 4
	queue := "tools_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	jo := jobs.ClientOptions{Config: cfg.Jobs, Work: o.work, TestOnly: true, Queues: []string{queue}, OnlyQueues: true}
	if o.work {
		jo.FetchCooldown, jo.FetchPollInterval = 5*time.Millisecond, 50*time.Millisecond
	}
	a, err := app.New(context.Background(), app.Options{Config: &cfg, Pool: dbtest.Pool(t), Logger: slog.New(slog.DiscardHandler),
		Models: o.models, DefaultProvider: aitest.LocalName, AIQueue: queue, Jobs: jobs.Client(jo)})
	require.NoError(t, err)
	if o.work {
		require.NoError(t, a.River.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.River.Stop(ctx)
		})
	}
	b := &testBundle{t: t, app: a, queue: queue, now: now, tools: map[string]chat.Tool{}}
	for _, tool := range tools.New(tools.Services{DB: a.DB, Notes: a.Notes, Tasks: a.Tasks, Plan: a.Plan, AI: a.AI,
		Users: a.Users, Now: func() time.Time { return b.now }}) {
		b.tools[tool.Name] = tool
	}
	return b
}

func (b *testBundle) newUser() uuid.UUID {
	b.t.Helper()
	id := uuid.New()
	_, err := b.app.DB.Pool.Exec(context.Background(), `INSERT INTO users (id, email) VALUES ($1, $2)`, id, id.String()+"@example.com")
	require.NoError(b.t, err)
	return id
}

// call is a call of user's in a run, with its idempotency key.
func call(user uuid.UUID, key string) *chat.ToolCall {
	return &chat.ToolCall{UserID: user, ConversationID: uuid.New(), RunID: uuid.New(), Agent: "assistant",
		CallID: "call_" + key, IdempotencyKey: key}
}

// run calls a tool with a new idempotency key.
func (b *testBundle) run(user uuid.UUID, name, args string) (*chat.ToolResult, error) {
	return b.runCall(call(user, uuid.NewString()), name, args)
}

func (b *testBundle) runCall(c *chat.ToolCall, name, args string) (*chat.ToolResult, error) {
	b.t.Helper()
	tool, ok := b.tools[name]
	require.True(b.t, ok, "no tool %s", name)
	return tool.Run(context.Background(), c, json.RawMessage(args))
}

// ok runs a tool that must succeed and decodes its content into out.
func (b *testBundle) ok(user uuid.UUID, name, args string, out any) *chat.ToolResult {
	b.t.Helper()
	r, err := b.run(user, name, args)
	require.NoError(b.t, err, "%s %s", name, args)
	require.NotEmpty(b.t, r.Summary)
	require.NotContains(b.t, r.Summary, "\n", "the summary is one line")
	require.True(b.t, json.Valid([]byte(r.Content)), r.Content)
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero()
		require.NoError(b.t, json.Unmarshal([]byte(r.Content), out))
	}
	return r
}

// requireFields checks that err is an invalid-input error naming exactly
// these fields.
func requireFields(t *testing.T, err error, fields ...string) *apperr.Error {
	t.Helper()
	var e *apperr.Error
	require.True(t, errors.As(err, &e), "want an *apperr.Error, got %v", err)
	require.Equal(t, apperr.Invalid, e.Code, "%v", err)
	var got []string
	for _, f := range e.Fields {
		require.Empty(t, f.In, "tools name bare fields")
		require.NotEmpty(t, f.Message)
		got = append(got, f.Location)
	}
	require.Equal(t, fields, got, "%v", err)
	return e
}

func requireNotFound(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err), "%v", err)
}

// counts is what a user has: tasks, goals, reflections, notes and note
// versions; a refused call changes none of them.
type counts struct{ Tasks, Goals, Reflections, Notes, Versions int }

func (b *testBundle) counts(user uuid.UUID) counts {
	b.t.Helper()
	var c counts
	require.NoError(b.t, b.app.DB.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM tasks WHERE user_id = $1), (SELECT count(*) FROM goals WHERE user_id = $1),
		(SELECT count(*) FROM reflections WHERE user_id = $1), (SELECT count(*) FROM notes WHERE user_id = $1),
		(SELECT count(*) FROM note_versions WHERE user_id = $1)`, user).
		Scan(&c.Tasks, &c.Goals, &c.Reflections, &c.Notes, &c.Versions))
	return c
}

func (b *testBundle) createNote(user uuid.UUID, title, content string) *note.Note {
	b.t.Helper()
	n, err := b.app.Notes.Create(context.Background(), user, &note.CreateParams{Title: title, Content: json.RawMessage(content)})
	require.NoError(b.t, err)
	return n
}

func jsonInto(content string, out any) error {
	reflect.ValueOf(out).Elem().SetZero()
	return json.Unmarshal([]byte(content), out)
}
