package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/plugins/composio/composiotest"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestThroughTheHost runs the plugin under the real host (plugin
// supervisor, the integration service, the HTTP API, Postgres) against the
// local Composio: the link connect round trip (connect, Composio's connect
// page, the callback), wrong, reused and mismatched states, a pending and a
// failed account saving nothing, a tool run for the linked account, and an
// account that expires turning the connection to needs_reauth on the first
// call that meets it.
func TestThroughTheHost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := composiotest.Start(t, composiotest.Options{Tools: sharedfixtures.Read(t, "composio", "gmail-tools-list.json")})
	bin := plugintest.Build(t, ".")
	testsecrets.Register("composio_api_key", composiotest.APIKey)
	const keyEnv = "COMPOSIO_TEST_API_KEY"
	lookup := func(k string) (string, bool) {
		if k == keyEnv {
			return composiotest.APIKey, true
		}
		return os.LookupEnv(k)
	}
	item := plugin.PluginConfig{Name: "composio", Kind: "integration", Path: bin, Enabled: true,
		Config:    map[string]string{"base_url": s.BaseURL(), "toolkits": "gmail@" + pinned, "auth_configs": "gmail=ac_gmail", "page_size": "8"},
		SecretEnv: map[string]string{"api_key": keyEnv}}
	host := plugin.New(plugin.Config{Items: []plugin.PluginConfig{item}}.WithDefaults(), slog.New(slog.DiscardHandler), plugin.WithLookupEnv(lookup))
	host.Start(ctx)
	t.Cleanup(host.Stop)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := host.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	e := apitest.New(t, apitest.Options{Integrations: host, Configure: func(c *config.Config) {
		c.Plugins.Items = []plugin.PluginConfig{item}
		c.Integrations.MasterKey = integrationtest.MasterKey
		c.HTTP.PublicURL = "https://consilium.example"
	}})
	svc := e.App.Integrations
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// callback calls our callback as the browser would, from the path and
	// query of a URL on http.public_url.
	callback := func(u *url.URL) *apitest.Response {
		t.Helper()
		if u.Scheme != "https" || u.Host != "consilium.example" || u.Path != "/api/external/callback/composio" {
			t.Fatalf("callback URL %s", u)
		}
		return e.Do(http.MethodGet, u.Path+"?"+u.RawQuery, nil)
	}
	// connect starts a connect and visits Composio's connect page, which
	// answers where it sends the browser back.
	connect := func(u *apitest.User, visit bool) (state string, back *url.URL) {
		t.Helper()
		res := e.Do(http.MethodPost, "/api/external/connect/composio", map[string]any{"toolkit": "gmail"}, u.Bearer())
		if res.Status != http.StatusOK {
			t.Fatalf("connect: %s", res)
		}
		var c struct {
			AuthorizeURL string    `json:"authorize_url"`
			State        string    `json:"state"`
			ExpiresAt    time.Time `json:"expires_at"`
		}
		res.JSON(t, &c)
		if !strings.HasPrefix(c.AuthorizeURL, s.URL+"/link/") || c.State == "" || c.ExpiresAt.After(time.Now().Add(11*time.Minute)) {
			t.Fatalf("connect answered %s", res)
		}
		if !visit {
			return c.State, nil
		}
		r, err := noFollow.Get(c.AuthorizeURL)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		back, err = url.Parse(r.Header.Get("Location"))
		if err != nil || r.StatusCode != http.StatusFound || back.Query().Get("state") != c.State {
			t.Fatalf("connect page: %d to %s (%v)", r.StatusCode, back, err)
		}
		return c.State, back
	}
	status := func(u *apitest.User) map[string]any {
		t.Helper()
		res := e.Do(http.MethodGet, "/api/external/status/composio", nil, u.Bearer())
		if res.Status != http.StatusOK {
			t.Fatalf("status: %s", res)
		}
		return res.Map(t)
	}
	linkedAccount := func(userID string) (string, string) {
		t.Helper()
		var connID, state string
		if err := e.App.DB.Pool.QueryRow(ctx, `SELECT id::text, state FROM connections WHERE user_id = $1 AND provider = 'composio'`, userID).Scan(&connID, &state); err != nil {
			t.Fatal(err)
		}
		return connID, state
	}

	alice := e.NewUser()
	aliceID := uuid.MustParse(alice.ID)

	t.Run("provider", func(t *testing.T) {
		res := e.Do(http.MethodGet, "/api/external/providers", nil, alice.Bearer())
		var ps []map[string]any
		res.JSON(t, &ps)
		if res.Status != http.StatusOK || len(ps) != 1 || ps[0]["name"] != "composio" || ps[0]["auth_type"] != "link" || ps[0]["available"] != true {
			t.Fatalf("providers %s", res)
		}
	})

	t.Run("bad connect input names the field", func(t *testing.T) {
		for body, field := range map[string]string{`{"toolkit": "notion"}`: "body.toolkit", `{"token": "x"}`: "body.token"} {
			res := e.Do(http.MethodPost, "/api/external/connect/composio", body, alice.Bearer(), "Content-Type: application/json")
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.String(), `"`+field+`"`) {
				t.Errorf("%s: %s", body, res)
			}
		}
	})

	var account string
	t.Run("link round trip", func(t *testing.T) {
		state, back := connect(alice, true)
		account = back.Query().Get("connected_account_id")
		if st := status(alice); st["state"] != "disconnected" {
			t.Fatalf("before the callback: %v", st)
		}
		// The link was made for the connection's id as Composio's user.
		connID, _ := linkedAccount(alice.ID)
		if a, ok := s.Account(account); !ok || a.UserID != connID || a.Toolkit != "gmail" ||
			a.CallbackURL != "https://consilium.example/api/external/callback/composio?state="+url.QueryEscape(state) {
			t.Fatalf("account on Composio %+v (connection %s)", a, connID)
		}

		wrong := *back
		q := wrong.Query()
		q.Set("state", "wrong-state")
		wrong.RawQuery = q.Encode()
		if res := callback(&wrong); res.Status != http.StatusBadRequest {
			t.Fatalf("wrong state: %s", res)
		}

		res := callback(back)
		if res.Status != http.StatusOK || res.Map(t)["state"] != "connected" {
			t.Fatalf("callback: %s", res)
		}
		if res := callback(back); res.Status != http.StatusBadRequest {
			t.Fatalf("reused state: %s", res)
		}
		st := status(alice)
		if st["state"] != "connected" || st["connected"] != true || st["next_sync_at"] != nil {
			t.Fatalf("after the callback: %v", st)
		}
		// The account id is sealed like every credential.
		var sealed []byte
		if err := e.App.DB.Pool.QueryRow(ctx, `SELECT credentials FROM connections WHERE user_id = $1 AND provider = 'composio'`, alice.ID).Scan(&sealed); err != nil ||
			len(sealed) == 0 || strings.Contains(string(sealed), account) {
			t.Fatalf("stored credentials %q (%v)", sealed, err)
		}
	})

	t.Run("a callback naming another account saves nothing", func(t *testing.T) {
		bob := e.NewUser()
		state, back := connect(bob, true)
		mismatch := &url.URL{Scheme: "https", Host: "consilium.example", Path: "/api/external/callback/composio",
			RawQuery: url.Values{"state": {state}, "connected_account_id": {account}, "status": {"success"}}.Encode()}
		if res := callback(mismatch); res.Status != http.StatusBadRequest {
			t.Fatalf("another account: %s", res)
		}
		if res := callback(back); res.Status != http.StatusBadRequest {
			t.Fatalf("the state was used by the refused callback: %s", res)
		}
		if st := status(bob); st["state"] != "disconnected" {
			t.Fatalf("bob: %v", st)
		}
	})

	t.Run("a pending or failed account saves nothing", func(t *testing.T) {
		carol := e.NewUser()
		state, _ := connect(carol, false)
		pending := &url.URL{Scheme: "https", Host: "consilium.example", Path: "/api/external/callback/composio",
			RawQuery: url.Values{"state": {state}}.Encode()}
		if res := callback(pending); res.Status != http.StatusBadRequest || !strings.Contains(res.String(), "not finished") {
			t.Fatalf("pending: %s", res)
		}
		s.FailLinks(true)
		_, back := connect(carol, true)
		s.FailLinks(false)
		if res := callback(back); res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.String(), "failed") {
			t.Fatalf("failed: %s", res)
		}
		if st := status(carol); st["state"] != "disconnected" {
			t.Fatalf("carol: %v", st)
		}
	})

	t.Run("tools run for the linked account", func(t *testing.T) {
		tools, err := svc.Tools(ctx, aliceID)
		if err != nil || len(tools) != len(s.ToolSlugs("gmail")) {
			t.Fatalf("%d tools (%v)", len(tools), err)
		}
		for _, tool := range tools {
			if tool.Provider != "composio" || tool.ReadOnly {
				t.Fatalf("tool %+v: want composio's, not read-only", tool)
			}
		}
		out, err := svc.ExecuteTool(ctx, aliceID, "composio", "GMAIL_FETCH_EMAILS", json.RawMessage(`{"max_results": 2}`))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil || got["connected_account_id"] != account || got["version"] != pinned {
			t.Fatalf("output %s (%v)", out, err)
		}
		stranger := uuid.New()
		if _, err := svc.ExecuteTool(ctx, stranger, "composio", "GMAIL_FETCH_EMAILS", nil); err == nil {
			t.Fatal("a user without a connection ran a tool")
		}
	})

	t.Run("an expired account needs re-auth on the first call that meets it", func(t *testing.T) {
		s.Expire(account)
		_, err := svc.ExecuteTool(ctx, aliceID, "composio", "GMAIL_LIST_LABELS", json.RawMessage(`{}`))
		if sdk.CodeOf(err) != sdk.CodeNeedsReauth {
			t.Fatalf("expired account: %v", err)
		}
		st := status(alice)
		if st["state"] != "needs_reauth" || st["needs_reauth"] != true || !strings.Contains(st["last_error"].(string), "not active") {
			t.Fatalf("status after the expired account: %v", st)
		}
		if _, err := svc.ExecuteTool(ctx, aliceID, "composio", "GMAIL_LIST_LABELS", json.RawMessage(`{}`)); err == nil {
			t.Fatal("a connection needing re-auth ran a tool")
		}
		// Connecting again makes it usable.
		_, back := connect(alice, true)
		if res := callback(back); res.Status != http.StatusOK || res.Map(t)["state"] != "connected" {
			t.Fatalf("reconnect: %s", res)
		}
		if _, err := svc.ExecuteTool(ctx, aliceID, "composio", "GMAIL_LIST_LABELS", json.RawMessage(`{}`)); err != nil {
			t.Fatalf("after reconnecting: %v", err)
		}
	})
}
