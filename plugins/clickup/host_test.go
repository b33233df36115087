package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/jobs"
	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestThroughTheHost runs the plugin under the real host (plugin
// supervisor with the manifest's rate limit, the integration service, River
// sync jobs, Postgres) against the local ClickUp: a personal token checked
// on connect, a sync of every task, a 429 snoozing the job, a revoked token
// turning the connection to needs_reauth, and the OAuth round trip (consent
// with PKCE, callback, sync with the access token).
func TestThroughTheHost(t *testing.T) {
	ctx := context.Background()
	bin := plugintest.Build(t, ".")
	s := clickuptest.Start(t, clickuptest.Options{RateLimit: 100, OnToken: testsecrets.Register})
	testsecrets.Register("integration_token", token)
	s.AddToken(token)
	s.AddToken("pk_bob")
	s.AddClient("cid", "csecret")
	seeded := s.Seed(clickuptest.SeedOptions{Tasks: 300, Lists: 3})
	t.Setenv("CLICKUP_TEST_CLIENT_SECRET", "csecret")

	cfg := hostConfig(t, clickupItem("clickup", bin, s, nil),
		clickupItem("clickup-oauth", bin, s, map[string]string{"client_id": "cid", "auth_url": s.AuthURL(), "token_url": s.TokenURL()}))
	cfg.Plugins.Items[1].SecretEnv = map[string]string{"client_secret": "CLICKUP_TEST_CLIENT_SECRET"}
	host := startPlugins(t, &cfg)
	logger := testsecrets.Logger("clickup-host")
	a, err := app.New(ctx, app.Options{Config: &cfg, Pool: dbtest.Pool(t), Logger: logger, Integrations: host,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: true, TestOnly: true,
			FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.River.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.River.Stop(sctx)
	})
	svc := a.Integrations
	newUser := func() uuid.UUID {
		var id uuid.UUID
		if err := a.DB.Pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ($1) RETURNING id`, uuid.NewString()+"@example.com").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	waitJob := func(id int64, want string) {
		t.Helper()
		waitJob(t, a.DB.Pool, id, want)
	}
	syncNow := func(user uuid.UUID, provider, want string) {
		t.Helper()
		ids, err := svc.SyncNow(ctx, user, provider, false)
		if err != nil {
			t.Fatal(err)
		}
		waitJob(ids[0], want)
	}
	refs := func(user uuid.UUID, provider string) int {
		var n int
		if err := a.DB.Pool.QueryRow(ctx, `SELECT count(DISTINCT external_id) FROM external_refs WHERE user_id = $1 AND system = $2`, user, provider).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	provs := svc.Providers()
	if len(provs) != 2 || provs[0].AuthType != "api_key" || provs[1].AuthType != "oauth2" || !provs[1].PKCE ||
		strings.Join(provs[0].Capabilities, ",") != "tasks.pull,tasks.push" {
		t.Fatalf("providers %+v", provs)
	}

	alice := newUser()
	t.Run("a token is checked on connect", func(t *testing.T) {
		_, _, err := svc.Connect(ctx, alice, "clickup", "pk_wrong")
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Fields[0].Location != "token" {
			t.Fatalf("a wrong token: %v", err)
		}
		st, _, err := svc.Connect(ctx, alice, "clickup", token)
		if err != nil || st.State != integration.StateConnected {
			t.Fatalf("connect: %+v %v", st, err)
		}
	})

	t.Run("sync, then an incremental one", func(t *testing.T) {
		syncNow(alice, "clickup", "completed")
		if n := refs(alice, "clickup"); n != 300 {
			t.Fatalf("%d references after the first sync, want 300", n)
		}
		var cursor string
		if err := a.DB.Pool.QueryRow(ctx, `SELECT sync_cursor FROM connections WHERE user_id = $1 AND provider = 'clickup'`, alice).Scan(&cursor); err != nil || !strings.HasPrefix(cursor, "cu1.") {
			t.Fatalf("cursor %q (%v)", cursor, err)
		}
		if _, err := s.UpdateTask(seeded.TaskIDs[5], func(tk *clickuptest.Task) { tk.Name = "renamed in ClickUp" }); err != nil {
			t.Fatal(err)
		}
		s.ResetLog()
		syncNow(alice, "clickup", "completed")
		incremental := 0
		for _, r := range s.Log() {
			if strings.HasSuffix(r.Path, "/task") && r.Query.Get("date_updated_gt") != "" {
				incremental++
			}
		}
		if n := refs(alice, "clickup"); n != 300 || incremental == 0 {
			t.Errorf("%d references after the incremental sync (%d incremental queries)", n, incremental)
		}
	})

	t.Run("a 429 snoozes the job", func(t *testing.T) {
		bob := newUser()
		if _, _, err := svc.Connect(ctx, bob, "clickup", "pk_bob"); err != nil {
			t.Fatal(err)
		}
		s.Storm(1, 30*time.Second)
		syncNow(bob, "clickup", "scheduled")
		st, err := svc.Status(ctx, bob, "clickup")
		if err != nil || st.State != integration.StateConnected || !strings.Contains(st.LastError, "429") {
			t.Errorf("status after a 429: %+v %v", st, err)
		}
	})

	t.Run("a revoked token needs re-auth", func(t *testing.T) {
		s.RevokeToken(token)
		syncNow(alice, "clickup", "cancelled")
		st, err := svc.Status(ctx, alice, "clickup")
		if err != nil || st.State != integration.StateNeedsReauth || !strings.Contains(st.LastError, "OAUTH_025") || st.NextSyncAt != nil {
			t.Errorf("status after revocation: %+v %v", st, err)
		}
	})

	t.Run("oauth round trip", func(t *testing.T) {
		carol := newUser()
		_, start, err := svc.Connect(ctx, carol, "clickup-oauth", "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(start.AuthorizeURL, s.AuthURL()+"?") || !strings.Contains(start.AuthorizeURL, "code_challenge_method=S256") {
			t.Fatalf("authorize URL %s", start.AuthorizeURL)
		}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(start.AuthorizeURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || back.Path != "/api/external/callback/clickup-oauth" || back.Query().Get("state") != start.State {
			t.Fatalf("consent redirected to %s (%v)", back, err)
		}
		st, err := svc.Callback(ctx, "clickup-oauth", back.Query().Get("code"), start.State)
		if err != nil || st.State != integration.StateConnected {
			t.Fatalf("callback: %+v %v", st, err)
		}
		s.ResetLog()
		syncNow(carol, "clickup-oauth", "completed")
		if n := refs(carol, "clickup-oauth"); n != 300 {
			t.Errorf("%d references after the OAuth sync", n)
		}
		log := s.Log()
		if len(log) == 0 || !strings.HasPrefix(log[0].Authorization, "Bearer cu_oauth_") {
			t.Errorf("the sync did not use the OAuth token: %+v", log)
		}
	})
}

// hostConfig is a valid config whose host runs items: the package
// database, the tests' master key (integrations.master_key), plugins restarted
// at once after a crash.
func hostConfig(t testing.TB, items ...plugin.PluginConfig) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(t)
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.HTTP.PublicURL = "https://consilium.example"
	// One master key for the package: its tests share the database and
	// its data keys.
	cfg.Integrations.MasterKey = integrationtest.MasterKey
	testsecrets.Register("integration_master_key", cfg.Integrations.MasterKey)
	cfg.Plugins.RestartBackoffMin = 20 * time.Millisecond
	cfg.Plugins.Items = items
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clickupItem is the plugin bin enabled as name against the local ClickUp
// s, with extra config.
func clickupItem(name, bin string, s *clickuptest.Server, extra map[string]string) plugin.PluginConfig {
	c := map[string]string{"base_url": s.BaseURL()}
	for k, v := range extra {
		c[k] = v
	}
	return plugin.PluginConfig{Name: name, Kind: "integration", Path: bin, Enabled: true, Config: c}
}

// startPlugins runs the config's plugins under a real host until the test
// ends.
func startPlugins(t testing.TB, cfg *config.Config) *plugin.Host {
	t.Helper()
	host := plugin.New(cfg.Plugins, testsecrets.Logger("clickup-host"))
	host.Start(context.Background())
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := host.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return host
}

// waitJob waits for River job id to reach state want. A job waiting for
// its retry is made due at once (tests do not wait River's backoff out).
func waitJob(t testing.TB, pool *pgxpool.Pool, id int64, want string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Minute) // a hang guard: the 10,000-task bench is slow under load
	for {
		var st string
		if err := pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&st); err != nil {
			t.Fatal(err)
		}
		if st == want {
			return
		}
		if st == "retryable" {
			if _, err := pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() WHERE id = $1 AND state = 'retryable'`, id); err != nil {
				t.Fatal(err)
			}
		}
		if st == "completed" || st == "cancelled" || st == "discarded" || time.Now().After(deadline) {
			var errs string
			_ = pool.QueryRow(ctx, `SELECT coalesce(errors::text, '') FROM river_job WHERE id = $1`, id).Scan(&errs)
			t.Fatalf("job %d is %s, want %s (errors %s)", id, st, want, errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
