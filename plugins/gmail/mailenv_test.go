package main

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/jobs"
	"github.com/consilium-hq/consilium/plugins/gmail/gmailtest"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// mailEnv is the mail path end to end: the real gmail plugin under the
// real host, the app's services, River working jobs, Postgres, the local
// Gmail; Alice and Bob are users in Berlin.
type mailEnv struct {
	a          *app.App
	s          *gmailtest.Server
	alice, bob uuid.UUID
}

type mailEnvOptions struct {
	// ModelURL, when set, is a local server speaking OpenAI's chat
	// completions API: the llm plugin runs against it as provider
	// "openai", the chat provider, and the scan asks it. Empty: no model,
	// the rules decide.
	ModelURL string
	// PageSize is the plugin's page_size (default the plugin's).
	PageSize string
}

func newMailEnv(tb testing.TB, o mailEnvOptions) *mailEnv {
	tb.Helper()
	ctx := context.Background()
	bin := plugintest.Build(tb, ".")
	s := gmailtest.Start(tb, gmailtest.Options{OnToken: testsecrets.Register})
	s.AddClient("cid.apps.googleusercontent.com", "gsecret")

	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(tb)
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.HTTP.PublicURL = "https://consilium.example"
	cfg.Integrations.MasterKey = testMasterKey
	gcfg := map[string]string{"base_url": s.BaseURL(), "client_id": "cid.apps.googleusercontent.com", "auth_url": s.AuthURL(),
		"token_url": s.TokenURL()}
	if o.PageSize != "" {
		gcfg["page_size"] = o.PageSize
	}
	cfg.Plugins.Items = []plugin.PluginConfig{{Name: "gmail", Kind: "integration", Path: bin, Enabled: true, Config: gcfg,
		SecretEnv: map[string]string{"client_secret": "MAIL_ENV_GMAIL_SECRET"}}}
	tb.Setenv("MAIL_ENV_GMAIL_SECRET", "gsecret")
	if o.ModelURL != "" {
		cfg.Plugins.Items = append(cfg.Plugins.Items, plugin.PluginConfig{Name: "openai", Kind: sdk.KindLLM, Path: aitest.LLMPlugin(tb),
			Enabled: true, Config: map[string]string{"provider": "openai", "base_url": o.ModelURL, "chat_model": "gpt-4o-mini"},
			SecretEnv: map[string]string{"api_key": "MAIL_ENV_OPENAI_KEY"}})
		cfg.AI.ChatProvider = "openai"
		cfg.AI.ChatModel = "gpt-4o-mini"
		tb.Setenv("MAIL_ENV_OPENAI_KEY", "sk-mail-env-test")
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	testsecrets.Register("integration_master_key", cfg.Integrations.MasterKey)
	logger := testsecrets.Logger("gmail-mail")
	host := plugin.New(cfg.Plugins, logger)
	host.Start(ctx)
	tb.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := host.WaitReady(wctx); err != nil {
		tb.Fatal(err)
	}
	opts := app.Options{Config: &cfg, Pool: dbtest.Pool(tb), Logger: logger, Integrations: host,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: true, TestOnly: true,
			FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})}
	if o.ModelURL != "" {
		opts.Models = host
	}
	a, err := app.New(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.River.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.River.Stop(sctx)
	})
	e := &mailEnv{a: a, s: s}
	for _, u := range []*uuid.UUID{&e.alice, &e.bob} {
		if err := a.DB.Pool.QueryRow(ctx, `INSERT INTO users (email, preferences) VALUES ($1, '{"timezone": "Europe/Berlin"}') RETURNING id`,
			uuid.NewString()+"@example.com").Scan(u); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// connect makes Alice's Gmail connection through the OAuth round trip
// against the local Google.
func (e *mailEnv) connect(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	_, start, err := e.a.Integrations.Connect(ctx, e.alice, "gmail", "")
	if err != nil {
		tb.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(start.AuthorizeURL)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		tb.Fatal(err)
	}
	if st, err := e.a.Integrations.Callback(ctx, "gmail", back.Query().Get("code"), start.State); err != nil ||
		st.State != integration.StateConnected {
		tb.Fatalf("callback: %+v %v", st, err)
	}
}

// syncAndScan syncs Alice's mailbox and waits until the sync job and then
// every mail_scan job of her connection are finished.
func (e *mailEnv) syncAndScan(tb testing.TB, full bool) {
	tb.Helper()
	ctx := context.Background()
	ids, err := e.a.Integrations.SyncNow(ctx, e.alice, "gmail", full)
	if err != nil {
		tb.Fatal(err)
	}
	conn := mustConn(tb, e.a, e.alice)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var syncState string
		var busy int
		if err := e.a.DB.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, ids[0]).Scan(&syncState); err != nil {
			tb.Fatal(err)
		}
		if err := e.a.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'integration.mail_scan'
			AND args->>'connection_id' = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`, conn.String()).Scan(&busy); err != nil {
			tb.Fatal(err)
		}
		if syncState == "completed" && busy == 0 {
			return
		}
		if syncState == "discarded" || syncState == "cancelled" || time.Now().After(deadline) {
			tb.Fatalf("sync %s, %d scan jobs not finished", syncState, busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is a count(*) query's answer.
func (e *mailEnv) count(tb testing.TB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := e.a.DB.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
