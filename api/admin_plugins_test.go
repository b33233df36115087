package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/user"
	"github.com/consilium-hq/consilium/sdk"
)

type fakePluginStates []plugin.PluginState

func (f fakePluginStates) States() []plugin.PluginState { return f }

func TestAdminPluginsIsForSuperusers(t *testing.T) {
	installErrorsOnce.Do(func() { installHumaErrors(slog.New(slog.DiscardHandler)) })
	_, api := humatest.New(t)
	authed := huma.NewGroup(api)
	// Stand-in for the auth middleware: the caller is a superuser when the
	// test says so.
	authed.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		u := &user.User{IsSuperuser: ctx.Header("X-Superuser") == "yes"}
		next(huma.WithValue(ctx, principalKey{}, &auth.Principal{User: u}))
	})
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	registerAdminPlugins(authed, fakePluginStates{
		{Name: "hello", Kind: sdk.KindIntegration, Path: "/bin/hello", Enabled: true, State: plugin.StateRunning, PID: 42,
			Version: "0.1.0", ProtocolVersion: 1, Capabilities: []sdk.Capability{sdk.CapTasksPull}, Methods: []string{"Describe", "Sync"},
			StartedAt: started, Manifest: &sdk.Manifest{Auth: sdk.Auth{Type: sdk.AuthOAuth2}}},
		{Name: "gpt", Kind: sdk.KindLLM, Path: "/bin/gpt", Enabled: true, State: plugin.StateFailed, Restarts: 2,
			LastError: "checksum mismatch", NextAttemptAt: started.Add(time.Minute)},
	})

	res := api.GetCtx(context.Background(), "/admin/plugins")
	if res.Code != http.StatusForbidden {
		t.Fatalf("non-superuser: %d %s", res.Code, res.Body)
	}
	res = api.GetCtx(context.Background(), "/admin/plugins", "X-Superuser: yes")
	if res.Code != http.StatusOK {
		t.Fatalf("superuser: %d %s", res.Code, res.Body)
	}
	var body struct{ Plugins []AdminPlugin }
	if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Plugins) != 2 {
		t.Fatalf("plugins: %+v", body.Plugins)
	}
	h, g := body.Plugins[0], body.Plugins[1]
	if h.State != "running" || h.PID != 42 || h.AuthType != "oauth2" || h.StartedAt == nil || !h.StartedAt.Equal(started) ||
		len(h.Capabilities) != 1 || h.Capabilities[0] != "tasks.pull" {
		t.Fatalf("running plugin: %+v", h)
	}
	if g.State != "failed" || g.LastError != "checksum mismatch" || g.Restarts != 2 || g.NextAttemptAt == nil || g.StartedAt != nil {
		t.Fatalf("failed plugin: %+v", g)
	}
}
