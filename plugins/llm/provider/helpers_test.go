package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/consilium-hq/consilium/plugins/llm/internal/replay"
	"github.com/consilium-hq/consilium/sdk"
)

// testdata holds the recordings; see its README.md for their provenance.
const testdata = "../testdata"

func load(t *testing.T, name string) []replay.Exchange {
	t.Helper()
	ex, err := replay.Load(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// sharedFile reads a recording that the repository may not hold (vercel/ai
// and pydantic-ai test data) from the shared fixtures: llm/ under
// $CONSILIUM_FIXTURES when set, else shared/fixtures/llm beside the
// repository root or one of its ancestors (CI always has it; its README
// gives each file's source and licence). The test skips when the folder is
// absent. Plugins may not import core/, so this is core/sharedfixtures in
// a few lines.
func sharedFile(t *testing.T, name string) []byte {
	t.Helper()
	root, err := filepath.Abs("../../..") // plugins/llm/provider -> the repository root
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(root), "shared", "fixtures", "llm")
	dirs := []string{}
	if env := os.Getenv("CONSILIUM_FIXTURES"); env != "" {
		if !filepath.IsAbs(env) {
			env = filepath.Join(root, env)
		}
		want = filepath.Join(env, "llm")
		dirs = append(dirs, want)
	} else {
		for up := filepath.Dir(root); ; up = filepath.Dir(up) {
			dirs = append(dirs, filepath.Join(up, "shared", "fixtures", "llm"))
			if filepath.Dir(up) == up {
				break
			}
		}
	}
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Skipf("third-party fixtures folder %s is absent (it sits beside the clone; $CONSILIUM_FIXTURES overrides it)", want)
	return nil
}

// apiPath is where each provider's API lives under its host.
var apiPath = map[string]string{OpenAI: "/v1", Anthropic: "/v1", XAI: "/v1", OpenRouter: "/api/v1", Ollama: "/v1"}

type testBundle struct {
	srv  *replay.Server
	p    *Plugin
	conn sdk.Connection
}

// setup starts a replay server for the exchanges and a plugin whose
// connection points the provider at it. config adds key, value pairs.
func setup(t *testing.T, provider string, ex []replay.Exchange, o replay.Options, config ...string) *testBundle {
	t.Helper()
	srv := replay.NewServer(t, ex, o)
	conn := sdk.Connection{
		Config:  map[string]string{KeyProvider: provider, KeyBaseURL: srv.URL + apiPath[provider]},
		Secrets: map[string]string{SecretAPIKey: "test-api-key"},
	}
	for i := 0; i+1 < len(config); i += 2 {
		conn.Config[config[i]] = config[i+1]
	}
	return &testBundle{srv: srv, p: New("test"), conn: conn}
}

// chat runs a chat and collects what was streamed.
func (b *testBundle) chat(t *testing.T, req sdk.ChatRequest) (*sdk.ChatResponse, []sdk.ChatEvent, error) {
	t.Helper()
	return b.chatCtx(context.Background(), req)
}

func (b *testBundle) chatCtx(ctx context.Context, req sdk.ChatRequest) (*sdk.ChatResponse, []sdk.ChatEvent, error) {
	req.Connection = b.conn
	var events []sdk.ChatEvent
	resp, err := b.p.Chat(ctx, &req, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
		events = append(events, *ev)
		return nil
	}))
	return resp, events, err
}

func user(text string) sdk.Message { return sdk.Message{Role: sdk.RoleUser, Content: text} }

func ptr[T any](v T) *T { return &v }

// streamedText joins the text events.
func streamedText(events []sdk.ChatEvent) (text string, calls []sdk.ToolCall) {
	for _, ev := range events {
		text += ev.Text
		if ev.ToolCall != nil {
			calls = append(calls, *ev.ToolCall)
		}
	}
	return text, calls
}

// requireCode fails unless err is an *sdk.Error with the code.
func requireCode(t *testing.T, err error, code sdk.Code) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *sdk.Error, want code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code %s (%v), want %s", e.Code, err, code)
	}
	return e
}
