package integration_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/jobs"
)

// authServer is a local OAuth 2 authorization server's token endpoint
// (form-encoded requests, JSON answers, invalid_grant errors).
type authServer struct {
	mu        sync.Mutex
	challenge string // code_challenge of the authorize URL
	refreshes []string
	revoked   bool
	n         int
}

func (a *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.URL.Path != "/token" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	_ = r.ParseForm()
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if r.PostForm.Get("client_id") != "client-1" || r.PostForm.Get("client_secret") != "conntest-client-secret" {
		fail("invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if r.PostForm.Get("code") != "the-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge ||
			r.PostForm.Get("redirect_uri") != "https://consilium.example/api/external/callback/oauthp" {
			fail("invalid_grant")
			return
		}
	case "refresh_token":
		a.refreshes = append(a.refreshes, r.PostForm.Get("refresh_token"))
		if a.revoked || r.PostForm.Get("refresh_token") != fmt.Sprintf("refresh-token-%d", a.n) {
			fail("invalid_grant")
			return
		}
	default:
		fail("unsupported_grant_type")
		return
	}
	a.n++
	w.Header().Set("Content-Type", "application/json")
	// expires_in 5 s is inside x/oauth2's 10 s expiry margin: every use
	// refreshes.
	access, refresh := fmt.Sprintf("good-access-token-%d-%p", a.n, a), fmt.Sprintf("refresh-token-%d", a.n)
	testsecrets.Register("oauth_access_token", access)
	testsecrets.Register("oauth_refresh_token", refresh)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer",
		"refresh_token": refresh, "expires_in": 5})
}

func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "connplugin")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/connplugin").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

type env struct {
	app  *app.App
	auth *authServer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	bin := buildPlugin(t)
	as := &authServer{}
	srv := httptest.NewServer(as)
	t.Cleanup(srv.Close)
	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(t)
	cfg.Auth.JWTSecret = "test-secret-test-secret-test-secret-0123"
	cfg.HTTP.PublicURL = "https://consilium.example"
	cfg.Integrations.MasterKey = testMaster
	testsecrets.Register("integration_master_key", testMaster)
	testsecrets.Register("api_key", "good-token")
	testsecrets.Register("oauth_client_secret", "conntest-client-secret")
	cfg.Plugins.Items = []plugin.PluginConfig{
		{Name: "tokenp", Kind: "integration", Path: bin, Enabled: true, Config: map[string]string{"auth": "api_key"}},
		{Name: "oauthp", Kind: "integration", Path: bin, Enabled: true, Config: map[string]string{"auth": "oauth2",
			"auth_url": srv.URL + "/authorize", "token_url": srv.URL + "/token", "client_id": "client-1"},
			SecretEnv: map[string]string{"client_secret": "CONNTEST_CLIENT_SECRET"}},
	}
	require.NoError(t, cfg.Validate())
	t.Setenv("CONNTEST_CLIENT_SECRET", "conntest-client-secret")
	logger := testsecrets.Logger("integration-host")
	host := plugin.New(cfg.Plugins, logger)
	host.Start(ctx)
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	require.NoError(t, host.WaitReady(wctx))
	a, err := app.New(ctx, app.Options{Config: &cfg, Pool: dbtest.Pool(t), Logger: logger, Integrations: host,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: true, TestOnly: true,
			FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})})
	require.NoError(t, err)
	require.NoError(t, a.River.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.River.Stop(sctx)
	})
	return &env{app: a, auth: as}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) jobState(t *testing.T, id int64) string {
	var s string
	require.NoError(t, e.app.DB.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = $1`, id).Scan(&s))
	return s
}

func (e *env) waitJob(t *testing.T, id int64, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("job %d %s", id, want), func() bool { return e.jobState(t, id) == want })
}

func TestTokenConnectSyncDisconnect(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	svc := e.app.Integrations
	alice, bob := newUser(t, e.app.DB), newUser(t, e.app.DB)

	provs := svc.Providers()
	require.Len(t, provs, 2)
	require.Equal(t, "api_key", provs[0].AuthType)
	require.Equal(t, "oauth2", provs[1].AuthType)
	require.True(t, provs[1].PKCE)
	require.Equal(t, []string{"tasks.pull"}, provs[0].Capabilities)

	// Refused by the provider: 422 naming token, nothing saved.
	_, _, err := svc.Connect(ctx, alice, "tokenp", "bad-token")
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, apperr.Invalid, ae.Code)
	require.Equal(t, "token", ae.Fields[0].Location)
	_, _, err = svc.Connect(ctx, alice, "tokenp", "")
	require.True(t, apperr.Is(err, apperr.Invalid))
	_, _, err = svc.Connect(ctx, alice, "nosuch", "good-token")
	require.True(t, apperr.Is(err, apperr.NotFound))
	var rows int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM connections WHERE user_id = $1`, alice).Scan(&rows))
	require.Zero(t, rows)

	st, _, err := svc.Connect(ctx, alice, "tokenp", "good-token")
	require.NoError(t, err)
	require.Equal(t, integration.StateConnected, st.State)
	var sealed []byte
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT credentials FROM connections WHERE user_id = $1`, alice).Scan(&sealed))
	require.NotContains(t, string(sealed), "good-token")

	// Bob sees nothing of Alice's.
	st, err = svc.Status(ctx, bob, "tokenp")
	require.NoError(t, err)
	require.Equal(t, integration.StateDisconnected, st.State)
	_, err = svc.SyncNow(ctx, bob, "tokenp", false)
	require.True(t, apperr.Is(err, apperr.NotFound))
	require.True(t, apperr.Is(svc.Disconnect(ctx, bob, "tokenp", false), apperr.NotFound))

	// The connection is due at once: the scheduler's sync (the periodic
	// integration.schedule job runs on start, and under load after the
	// connect) and the manual one run at the same time. Whichever stores
	// its pages last, the cursor never goes back.
	_, err = svc.ScheduleDue(ctx)
	require.NoError(t, err)
	ids, err := svc.SyncNow(ctx, alice, "tokenp", false)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	e.waitJob(t, ids[0], "completed")
	var cursor string
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT sync_cursor FROM connections WHERE user_id = $1`, alice).Scan(&cursor))
	require.Equal(t, "v1:done", cursor)
	st, err = svc.Status(ctx, alice, "tokenp")
	require.NoError(t, err)
	require.NotNil(t, st.LastSyncAt)
	require.NotNil(t, st.NextSyncAt)
	require.True(t, st.NextSyncAt.After(time.Now().Add(10*time.Minute)))

	list, err := svc.ListExternal(ctx, alice, 2, "")
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	require.NotEmpty(t, list.NextCursor)
	more, err := svc.ListExternal(ctx, alice, 2, list.NextCursor)
	require.NoError(t, err)
	require.Len(t, more.Items, 1)
	require.NoError(t, svc.FillTasks(ctx, alice, append(list.Items, more.Items...)))
	titles := []string{}
	for _, x := range append(list.Items, more.Items...) {
		require.Equal(t, "tokenp", x.System)
		require.Equal(t, "tokenp", x.Task.Source, "the provider's name is the source")
		titles = append(titles, x.Task.Title)
	}
	require.ElementsMatch(t, []string{"First outside task", "Second outside task", "Third outside task"}, titles)
	bobs, err := svc.ListExternal(ctx, bob, 50, "")
	require.NoError(t, err)
	require.Empty(t, bobs.Items)

	// A second sync is incremental and creates nothing twice.
	ids, err = svc.SyncAll(ctx, alice)
	require.NoError(t, err)
	e.waitJob(t, ids[0], "completed")
	var tasks int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE user_id = $1 AND source = 'tokenp'`, alice).Scan(&tasks))
	require.Equal(t, 3, tasks)

	// Disconnect removing the imported tasks.
	require.NoError(t, svc.Disconnect(ctx, alice, "tokenp", false))
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE user_id = $1 AND source = 'tokenp'`, alice).Scan(&tasks))
	require.Zero(t, tasks)
	st, err = svc.Status(ctx, alice, "tokenp")
	require.NoError(t, err)
	require.Equal(t, integration.StateDisconnected, st.State)
	_, err = svc.SyncNow(ctx, alice, "tokenp", false)
	require.True(t, apperr.Is(err, apperr.NotFound))
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM connections WHERE user_id = $1 AND credentials IS NOT NULL`, alice).Scan(&rows))
	require.Zero(t, rows)
}

func TestOAuthRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	svc := e.app.Integrations
	alice := newUser(t, e.app.DB)

	_, start, err := svc.Connect(ctx, alice, "oauthp", "")
	require.NoError(t, err)
	u, err := url.Parse(start.AuthorizeURL)
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, "/authorize", u.Path)
	require.Equal(t, "client-1", q.Get("client_id"))
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "https://consilium.example/api/external/callback/oauthp", q.Get("redirect_uri"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Equal(t, "offline", q.Get("access_type"))
	require.Equal(t, "tasks:read", q.Get("scope"))
	require.Equal(t, start.State, q.Get("state"))
	require.WithinDuration(t, time.Now().Add(10*time.Minute), start.ExpiresAt, time.Minute)
	e.auth.mu.Lock()
	e.auth.challenge = q.Get("code_challenge")
	e.auth.mu.Unlock()

	// A wrong state saves nothing (and does not spend the right one).
	_, err = svc.Callback(ctx, "oauthp", "the-code", "wrong-state")
	require.ErrorIs(t, err, integration.ErrBadState)
	// The right state for another provider neither.
	_, err = svc.Callback(ctx, "tokenp", "the-code", start.State)
	require.ErrorIs(t, err, integration.ErrBadState)
	var rows int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM connections WHERE user_id = $1`, alice).Scan(&rows))
	require.Zero(t, rows)

	st, err := svc.Callback(ctx, "oauthp", "the-code", start.State)
	require.NoError(t, err)
	require.Equal(t, integration.StateConnected, st.State)
	// Single use.
	_, err = svc.Callback(ctx, "oauthp", "the-code", start.State)
	require.ErrorIs(t, err, integration.ErrBadState)

	// An expired state is refused.
	_, start2, err := svc.Connect(ctx, alice, "oauthp", "")
	require.NoError(t, err)
	_, err = e.app.DB.Pool.Exec(ctx, `UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE user_id = $1`, alice)
	require.NoError(t, err)
	_, err = svc.Callback(ctx, "oauthp", "the-code", start2.State)
	require.ErrorIs(t, err, integration.ErrBadState)

	// Each sync refreshes (the token lives 5 s) with the refresh token the
	// previous refresh saved.
	for range 2 {
		ids, err := svc.SyncNow(ctx, alice, "oauthp", false)
		require.NoError(t, err)
		e.waitJob(t, ids[0], "completed")
	}
	// Two syncs at once: each refresh spends the refresh token the one
	// before saved (they take turns on the connection's row).
	a, err := svc.SyncNow(ctx, alice, "oauthp", false)
	require.NoError(t, err)
	b, err := svc.SyncNow(ctx, alice, "oauthp", true)
	require.NoError(t, err)
	e.waitJob(t, a[0], "completed")
	e.waitJob(t, b[0], "completed")
	e.auth.mu.Lock()
	// (The periodic schedule may have synced too.)
	require.GreaterOrEqual(t, len(e.auth.refreshes), 4)
	for i, rt := range e.auth.refreshes {
		require.Equal(t, fmt.Sprintf("refresh-token-%d", i+1), rt, "refresh %d used the token the previous one saved", i)
	}
	e.auth.revoked = true
	e.auth.mu.Unlock()
	var refs int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM external_refs WHERE user_id = $1 AND system = 'oauthp'`, alice).Scan(&refs))
	require.Equal(t, 3, refs)

	// A refused refresh: needs_reauth, off the schedule, job cancelled.
	ids, err := svc.SyncNow(ctx, alice, "oauthp", false)
	require.NoError(t, err)
	e.waitJob(t, ids[0], "cancelled")
	st, err = svc.Status(ctx, alice, "oauthp")
	require.NoError(t, err)
	require.Equal(t, integration.StateNeedsReauth, st.State)
	require.Nil(t, st.NextSyncAt)
	require.Contains(t, st.LastError, "invalid_grant")
	n, err := svc.ScheduleDue(ctx)
	require.NoError(t, err)
	var due int
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'integration.sync' AND state = 'available' AND args->>'connection_id' = (SELECT id::text FROM connections WHERE user_id = $1 AND provider = 'oauthp')`, alice).Scan(&due))
	require.Zero(t, due, "scheduled %d", n)
}

// TestRevokedTokenAndSchedule: the scheduler inserts one sync job per
// connection and period however often it runs; a token the provider
// refuses during a sync turns the connection to needs_reauth, cancels the
// job and takes the connection off the schedule.
func TestRevokedTokenAndSchedule(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	svc := e.app.Integrations
	alice := newUser(t, e.app.DB)
	_, _, err := svc.Connect(ctx, alice, "tokenp", "good-token")
	require.NoError(t, err)
	var connID string
	require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT id::text FROM connections WHERE user_id = $1 AND provider = 'tokenp'`, alice).Scan(&connID))
	jobsOf := func() int {
		var n int
		require.NoError(t, e.app.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'integration.sync' AND args->>'connection_id' = $1 AND args->>'request' IS NULL`, connID).Scan(&n))
		return n
	}
	for range 3 {
		_, err := svc.ScheduleDue(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, 1, jobsOf(), "one scheduled sync per connection and period")
	waitFor(t, "the scheduled sync", func() bool {
		st, err := svc.Status(ctx, alice, "tokenp")
		require.NoError(t, err)
		return st.LastSyncAt != nil
	})
	// Not due again before sync_interval.
	_, err = svc.ScheduleDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, jobsOf())

	// The provider revokes the token: the stored one is now refused.
	keyID, sealed, err := svc.Keys().Seal(ctx, []byte(`{"token":"revoked"}`), integration.AD("connections", alice.String(), "tokenp", "credentials"))
	require.NoError(t, err)
	_, err = e.app.DB.Pool.Exec(ctx, `UPDATE connections SET credentials = $1, key_id = $2 WHERE id = $3`, sealed, keyID, connID)
	require.NoError(t, err)
	ids, err := svc.SyncNow(ctx, alice, "tokenp", false)
	require.NoError(t, err)
	e.waitJob(t, ids[0], "cancelled")
	st, err := svc.Status(ctx, alice, "tokenp")
	require.NoError(t, err)
	require.Equal(t, integration.StateNeedsReauth, st.State)
	require.Contains(t, st.LastError, "API key refused")
	require.Nil(t, st.NextSyncAt)
	_, err = e.app.DB.Pool.Exec(ctx, `UPDATE connections SET next_sync_at = now() - interval '1 hour' WHERE id = $1`, connID)
	require.NoError(t, err)
	_, err = svc.ScheduleDue(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, jobsOf(), "needs_reauth is off the schedule")
	_, err = svc.SyncNow(ctx, alice, "tokenp", false)
	require.True(t, apperr.Is(err, apperr.NotFound))

	// Connecting again brings it back.
	st, _, err = svc.Connect(ctx, alice, "tokenp", "good-token")
	require.NoError(t, err)
	require.Equal(t, integration.StateConnected, st.State)
	require.Empty(t, st.LastError)
}
