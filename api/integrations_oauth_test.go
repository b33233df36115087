package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/plugin"
)

// TestOAuthCallbackRedirects: with integrations.return_url set, a
// successful OAuth callback (no bearer token) answers 303 to it with
// ?provider=&status=connected, and the connection is made; a wrong state
// still answers 400 there.
func TestOAuthCallbackRedirects(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "connplugin")
	out, err := exec.Command("go", "build", "-o", bin, "../core/integration/testdata/connplugin").CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The provider's token endpoint: any code is exchanged.
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.URL.Path != "/token" || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code_verifier") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "good-1", "token_type": "Bearer", "refresh_token": "r1", "expires_in": 3600})
	}))
	t.Cleanup(tokens.Close)
	item := plugin.PluginConfig{Name: "oauthp", Kind: "integration", Path: bin, Enabled: true, Config: map[string]string{"auth": "oauth2",
		"auth_url": tokens.URL + "/authorize", "token_url": tokens.URL + "/token", "client_id": "client-1"}}
	host := plugin.New(plugin.Config{Items: []plugin.PluginConfig{item}}.WithDefaults(), slog.New(slog.DiscardHandler))
	host.Start(context.Background())
	t.Cleanup(host.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, host.WaitReady(ctx))

	e := apitest.New(t, apitest.Options{Integrations: host, Configure: func(c *config.Config) {
		c.Plugins.Items = []plugin.PluginConfig{item}
		c.Integrations.MasterKey = integrationtest.MasterKey
		c.Integrations.ReturnURL = "https://app.example/settings?tab=connections"
	}})
	alice := e.NewUser()
	res := e.Do(http.MethodPost, "/api/external/connect/oauthp", map[string]any{}, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	state := res.Map(t)["state"].(string)

	noFollow := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(q url.Values) *http.Response {
		r, err := noFollow.Get(e.Server.URL + "/api/external/callback/oauthp?" + q.Encode())
		require.NoError(t, err)
		r.Body.Close()
		return r
	}
	bad := get(url.Values{"code": {"the-code"}, "state": {"wrong"}})
	require.Equal(t, http.StatusBadRequest, bad.StatusCode)

	ok := get(url.Values{"code": {"the-code"}, "state": {state}})
	require.Equal(t, http.StatusSeeOther, ok.StatusCode)
	loc, err := url.Parse(ok.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "app.example", loc.Host)
	require.Equal(t, "/settings", loc.Path)
	require.Equal(t, url.Values{"tab": {"connections"}, "provider": {"oauthp"}, "status": {"connected"}}, loc.Query())

	res = e.Do(http.MethodGet, "/api/external/status/oauthp", nil, alice.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "connected", res.Map(t)["state"])
	// The state was single use.
	require.Equal(t, http.StatusBadRequest, get(url.Values{"code": {"the-code"}, "state": {state}}).StatusCode)
}
