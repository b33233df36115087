package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/jobs"
	"github.com/consilium-hq/consilium/plugins/gmail/gmailtest"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestThroughTheHost runs the plugin under the real host (plugin
// supervisor, the integration service, River sync jobs, Postgres) against
// the local Gmail: the OAuth round trip (consent with the read-only scope,
// offline access, forced consent and PKCE; callback), a bootstrap whose
// messages become references (system gmail, the message's Gmail link) with
// the cursor stored, an incremental sync of new mail, a 429 snoozing the
// job, and a revoked grant turning the connection to needs_reauth.
func TestThroughTheHost(t *testing.T) {
	ctx := context.Background()
	bin := plugintest.Build(t, ".")
	s := gmailtest.Start(t, gmailtest.Options{OnToken: testsecrets.Register})
	s.AddClient("cid.apps.googleusercontent.com", "gsecret-0123456789")
	testsecrets.Register("oauth_client_secret", "gsecret-0123456789")
	seeded := s.Seed(60)
	t.Setenv("GMAIL_TEST_CLIENT_SECRET", "gsecret-0123456789")

	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(t)
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.HTTP.PublicURL = "https://consilium.example"
	cfg.Integrations.MasterKey = testMasterKey
	cfg.Plugins.Items = []plugin.PluginConfig{
		{Name: "gmail", Kind: "integration", Path: bin, Enabled: true, Config: map[string]string{"base_url": s.BaseURL(),
			"client_id": "cid.apps.googleusercontent.com", "auth_url": s.AuthURL(), "token_url": s.TokenURL(), "page_size": "25"},
			SecretEnv: map[string]string{"client_secret": "GMAIL_TEST_CLIENT_SECRET"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	testsecrets.Register("integration_master_key", cfg.Integrations.MasterKey)
	testsecrets.Register("jwt_secret", cfg.Auth.JWTSecret)
	logger := testsecrets.Logger("gmail-host")
	host := plugin.New(cfg.Plugins, logger)
	host.Start(ctx)
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := host.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
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
	var alice uuid.UUID
	if err := a.DB.Pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ($1) RETURNING id`, uuid.NewString()+"@example.com").Scan(&alice); err != nil {
		t.Fatal(err)
	}
	// waitJob waits for the job to reach one of the wanted states, and
	// fails at once when it ends in another.
	waitJob := func(id int64, want ...string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			var st string
			if err := a.DB.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&st); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(want, st) {
				return
			}
			if st == "completed" || st == "cancelled" || st == "discarded" || time.Now().After(deadline) {
				t.Fatalf("job %d is %s, want %v", id, st, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	syncNow := func(want ...string) {
		t.Helper()
		ids, err := svc.SyncNow(ctx, alice, "gmail", false)
		if err != nil {
			t.Fatal(err)
		}
		waitJob(ids[0], want...)
	}
	refs := func() map[string]string {
		rows, err := a.DB.Pool.Query(ctx, `SELECT external_id, url FROM external_refs WHERE user_id = $1 AND system = 'gmail'`, alice)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var id, u string
			if err := rows.Scan(&id, &u); err != nil {
				t.Fatal(err)
			}
			out[id] = u
		}
		return out
	}

	provs := svc.Providers()
	if len(provs) != 1 || provs[0].AuthType != "oauth2" || !provs[0].PKCE || strings.Join(provs[0].Scopes, " ") != "https://www.googleapis.com/auth/gmail.readonly" ||
		strings.Join(provs[0].Capabilities, ",") != "email.read" {
		t.Fatalf("providers %+v", provs)
	}

	t.Run("oauth round trip", func(t *testing.T) {
		_, start, err := svc.Connect(ctx, alice, "gmail", "")
		if err != nil {
			t.Fatal(err)
		}
		au, err := url.Parse(start.AuthorizeURL)
		if err != nil || !strings.HasPrefix(start.AuthorizeURL, s.AuthURL()+"?") {
			t.Fatalf("authorize URL %s", start.AuthorizeURL)
		}
		q := au.Query()
		if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("scope") != "https://www.googleapis.com/auth/gmail.readonly" ||
			q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != "https://consilium.example/api/external/callback/gmail" {
			t.Fatalf("consent query %v", q)
		}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(start.AuthorizeURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || back.Path != "/api/external/callback/gmail" || back.Query().Get("state") != start.State {
			t.Fatalf("consent redirected to %s (%v)", back, err)
		}
		st, err := svc.Callback(ctx, "gmail", back.Query().Get("code"), start.State)
		if err != nil || st.State != integration.StateConnected {
			t.Fatalf("callback: %+v %v", st, err)
		}
	})

	t.Run("bootstrap stores the references and the cursor, then new mail comes", func(t *testing.T) {
		syncNow("completed")
		got := refs()
		if len(got) != 60 {
			t.Fatalf("%d references after the bootstrap, want 60", len(got))
		}
		for _, id := range seeded {
			if got[id] != "https://mail.google.com/mail/u/0/#all/"+id {
				t.Fatalf("reference of %s: %q", id, got[id])
			}
		}
		var cursor string
		if err := a.DB.Pool.QueryRow(ctx, `SELECT sync_cursor FROM connections WHERE user_id = $1 AND provider = 'gmail'`, alice).Scan(&cursor); err != nil ||
			!strings.HasPrefix(cursor, "gm1.") {
			t.Fatalf("cursor %q (%v)", cursor, err)
		}
		log := calls(s)
		if len(log) == 0 || kind(log[0]) != "profile" || !strings.HasPrefix(log[0].Authorization, "Bearer ya29.") {
			t.Errorf("the bootstrap did not start with the profile under the OAuth token: %+v", log)
		}
		reply := s.Add(gmailtest.Mail{From: "boss@example.org", To: gmailtest.Email, Subject: "Re: Message 3", Text: "Can you send the report by Friday?",
			ThreadID: seeded[3], InReplyTo: "<" + seeded[3] + "@mail.example.com>", References: "<" + seeded[3] + "@mail.example.com>"})
		s.ResetLog()
		syncNow("completed")
		got = refs()
		if len(got) != 61 || got[reply] == "" {
			t.Errorf("%d references after new mail (reply stored: %v)", len(got), got[reply] != "")
		}
		if log := calls(s); len(log) == 0 || kind(log[0]) != "history" {
			t.Errorf("the second sync did not read the history: %+v", log)
		}
	})

	t.Run("a 429 snoozes the job", func(t *testing.T) {
		s.Fail(1, 429, "rateLimitExceeded", 30*time.Second)
		syncNow("scheduled")
		st, err := svc.Status(ctx, alice, "gmail")
		if err != nil || st.State != integration.StateConnected || !strings.Contains(st.LastError, "429") {
			t.Errorf("status after a 429: %+v %v", st, err)
		}
	})

	t.Run("a revoked grant needs re-auth", func(t *testing.T) {
		s.RevokeAccessTokens()
		// This job meets the revoked grant and is cancelled, unless another
		// sync of the connection (the one the 429 snoozed, or a scheduled
		// one) met it first: then this one finds the connection needing
		// re-auth and completes with nothing to do. Either way the
		// connection needs re-auth.
		syncNow("cancelled", "completed")
		st, err := svc.Status(ctx, alice, "gmail")
		if err != nil || st.State != integration.StateNeedsReauth || !strings.Contains(st.LastError, "401") || st.NextSyncAt != nil {
			t.Errorf("status after revocation: %+v %v", st, err)
		}
	})
}
