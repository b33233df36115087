package sdk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

func TestManifestValidate(t *testing.T) {
	valid := func() sdk.Manifest {
		return sdk.Manifest{Name: "clickup", DisplayName: "ClickUp", Version: "1.0.0",
			Auth:         sdk.Auth{Type: sdk.AuthOAuth2, OAuth2: &sdk.OAuth2{AuthURL: "https://app.clickup.com/api", TokenURL: "https://api.clickup.com/api/v2/oauth/token"}},
			Config:       []sdk.ConfigField{{Key: "workspace", Type: "string"}},
			Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush},
			RateLimits:   []sdk.RateLimit{{Scope: sdk.ScopeConnection, Requests: 100, Per: time.Minute}}}
	}
	tests := map[string]struct {
		edit func(m *sdk.Manifest)
		want string
	}{
		"valid":            {edit: func(m *sdk.Manifest) {}},
		"bad name":         {edit: func(m *sdk.Manifest) { m.Name = "Click Up" }, want: "manifest.name"},
		"no display name":  {edit: func(m *sdk.Manifest) { m.DisplayName = "" }, want: "manifest.display_name"},
		"oauth2 sans urls": {edit: func(m *sdk.Manifest) { m.Auth.OAuth2.TokenURL = "/token" }, want: "manifest.auth.oauth2.token_url"},
		"oauth2 missing":   {edit: func(m *sdk.Manifest) { m.Auth.OAuth2 = nil }, want: "manifest.auth.oauth2: is required"},
		"bad auth type":    {edit: func(m *sdk.Manifest) { m.Auth = sdk.Auth{Type: "basic"} }, want: "manifest.auth.type"},
		"link":             {edit: func(m *sdk.Manifest) { m.Auth = sdk.Auth{Type: sdk.AuthLink} }},
		"link with oauth2": {edit: func(m *sdk.Manifest) { m.Auth.Type = sdk.AuthLink }, want: "manifest.auth.oauth2: is set"},
		"duplicate key":    {edit: func(m *sdk.Manifest) { m.Config = append(m.Config, m.Config[0]) }, want: "config[1].key"},
		"unknown cap":      {edit: func(m *sdk.Manifest) { m.Capabilities = append(m.Capabilities, "tasks.teleport") }, want: "capabilities[2]"},
		"bad rate limit":   {edit: func(m *sdk.Manifest) { m.RateLimits[0].Per = 0 }, want: "rate_limits[0]"},
		"bad scope":        {edit: func(m *sdk.Manifest) { m.RateLimits[0].Scope = "user" }, want: "rate_limits[0].scope"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			m := valid()
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
