// Package connector is the ClickUp integration: the manifest, Sync (the
// workspace-level task query, paged to the end, with a watermark that moves
// only after a run's last page) and PushTask (create, update only the fields
// whose meaning changed, delete), on ClickUp's API v2.
package connector

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// Real endpoints, each overridable by the plugin item's config.
const (
	DefaultBaseURL  = "https://api.clickup.com/api/v2"
	DefaultAuthURL  = "https://app.clickup.com/api"
	DefaultTokenURL = "https://api.clickup.com/api/v2/oauth/token"
)

// Config keys (plugins.items[].config).
const (
	KeyBaseURL          = "base_url"
	KeyAuthURL          = "auth_url"
	KeyTokenURL         = "token_url"
	KeyClientID         = "client_id"
	KeyPKCE             = "pkce"
	KeyTeams            = "teams"
	KeySyncOverlap      = "sync_overlap"
	KeyOnHoldWords      = "on_hold_words"
	KeyDefaultListID    = "default_list_id"
	KeyMaxResponseBytes = "max_response_bytes"
)

// Defaults of the settings.
const (
	DefaultSyncOverlap      = 2 * time.Minute
	DefaultOnHoldWords      = "hold,block,wait,pause,defer,postpone,stuck"
	DefaultMaxResponseBytes = 32 << 20
	// RequestsPerMinute is ClickUp's rate limit per token, declared to the
	// host per connection. Every Sync call makes exactly one request.
	RequestsPerMinute = 100
)

// Plugin is the ClickUp integration.
type Plugin struct {
	Version string
	// HTTP is the client for ClickUp (default: 60 s timeout; calls also end
	// with the host's deadline).
	HTTP *http.Client

	mu    sync.Mutex
	lists map[string]cachedList // base URL + list id → statuses
}

// New returns the plugin.
func New(version string) *Plugin {
	return &Plugin{Version: version, HTTP: &http.Client{Timeout: 60 * time.Second}, lists: map[string]cachedList{}}
}

// settings are the connection's config, checked.
type settings struct {
	baseURL     string
	authURL     string
	tokenURL    string
	clientID    string
	pkce        bool
	teams       []string
	overlap     time.Duration
	onHold      []string
	defaultList string
	maxBody     int64
}

func parseSettings(c *sdk.Connection) (*settings, error) {
	s := &settings{clientID: c.Setting(KeyClientID, ""), defaultList: c.Setting(KeyDefaultListID, ""),
		teams: c.SettingList(KeyTeams, "")}
	var err error
	if s.baseURL, err = c.SettingURL(KeyBaseURL, DefaultBaseURL); err != nil {
		return nil, err
	}
	if s.authURL, err = c.SettingURL(KeyAuthURL, DefaultAuthURL); err != nil {
		return nil, err
	}
	if s.tokenURL, err = c.SettingURL(KeyTokenURL, DefaultTokenURL); err != nil {
		return nil, err
	}
	if s.pkce, err = strconv.ParseBool(c.Setting(KeyPKCE, "true")); err != nil {
		return nil, sdk.InvalidConfig("config.%s: %q is not true or false", KeyPKCE, c.Setting(KeyPKCE, ""))
	}
	if s.overlap, err = time.ParseDuration(c.Setting(KeySyncOverlap, DefaultSyncOverlap.String())); err != nil || s.overlap < 0 {
		return nil, sdk.InvalidConfig("config.%s: %q is not a duration such as 2m", KeySyncOverlap, c.Setting(KeySyncOverlap, ""))
	}
	for _, w := range c.SettingList(KeyOnHoldWords, DefaultOnHoldWords) {
		s.onHold = append(s.onHold, strings.ToLower(w))
	}
	n, err := strconv.ParseInt(c.Setting(KeyMaxResponseBytes, strconv.Itoa(DefaultMaxResponseBytes)), 10, 64)
	if err != nil || n < 1024 {
		return nil, sdk.InvalidConfig("config.%s: %q is not a number of bytes of at least 1024", KeyMaxResponseBytes, c.Setting(KeyMaxResponseBytes, ""))
	}
	s.maxBody = n
	return s, nil
}

// Describe answers the manifest. The auth type follows the item's config:
// OAuth 2 when config.client_id is set (the client secret comes through
// secret_env client_secret), else a personal token the user pastes.
func (p *Plugin) Describe(_ context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	s, err := parseSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	m := &sdk.Manifest{
		Name:         "clickup",
		DisplayName:  "ClickUp",
		Description:  "Two-way sync of ClickUp tasks: every task of your workspaces (closed ones and subtasks included) comes in; status, title, description, due date and priority changed in Consilium go back.",
		Version:      p.Version,
		Capabilities: []sdk.Capability{sdk.CapTasksPull, sdk.CapTasksPush},
		RateLimits:   []sdk.RateLimit{{Scope: sdk.ScopeConnection, Requests: RequestsPerMinute, Per: time.Minute, Burst: 1}},
		Config: []sdk.ConfigField{
			{Key: KeyBaseURL, Label: "API root", Type: "url", Default: DefaultBaseURL},
			{Key: KeyAuthURL, Label: "OAuth consent URL", Type: "url", Default: DefaultAuthURL},
			{Key: KeyTokenURL, Label: "OAuth token URL", Type: "url", Default: DefaultTokenURL},
			{Key: KeyClientID, Label: "OAuth client id", Help: "Set to connect through OAuth (with secret_env client_secret); unset, users paste a personal token."},
			{Key: "client_secret", Label: "OAuth client secret", Secret: true},
			{Key: KeyPKCE, Label: "Send PKCE with OAuth", Type: "bool", Default: "true"},
			{Key: KeyTeams, Label: "Workspace ids", Help: "Comma-separated; empty: every workspace the token sees."},
			{Key: KeySyncOverlap, Label: "Incremental sync overlap", Help: "How far before the last change seen an incremental sync reads again.", Default: DefaultSyncOverlap.String()},
			{Key: KeyOnHoldWords, Label: "On-hold status words", Help: "A custom status whose name contains one of these means on hold.", Default: DefaultOnHoldWords},
			{Key: KeyDefaultListID, Label: "List for new tasks", Help: "Where a task created in Consilium goes when it names no list."},
			{Key: KeyMaxResponseBytes, Label: "Largest answer read", Type: "int", Default: strconv.Itoa(DefaultMaxResponseBytes)},
		},
	}
	if s.clientID != "" {
		m.Auth = sdk.Auth{Type: sdk.AuthOAuth2, OAuth2: &sdk.OAuth2{AuthURL: s.authURL, TokenURL: s.tokenURL, PKCE: s.pkce}}
	} else {
		m.Auth = sdk.Auth{Type: sdk.AuthAPIKey}
	}
	return m, nil
}

// setup reads the settings and opens a client for a call.
func (p *Plugin) setup(conn *sdk.Connection) (*settings, *client, error) {
	s, err := parseSettings(conn)
	if err != nil {
		return nil, nil, err
	}
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	c, err := newClient(conn, s, hc)
	if err != nil {
		return nil, nil, err
	}
	return s, c, nil
}
