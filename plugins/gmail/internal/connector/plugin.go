// Package connector is the Gmail integration: the manifest (OAuth 2 with
// the read-only scope), Sync (a bootstrap of the last days that records the
// mailbox history id first, then history.list page by page, the new
// history id kept only after the last page) and the decoding of messages
// (base64url bodies, multipart, charsets, HTML to text), on the Gmail API
// v1 through google.golang.org/api/gmail/v1.
package connector

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/gmail/v1"
	"google.golang.org/api/option"

	"github.com/consilium-hq/consilium/sdk"
)

// Real endpoints, each overridable by the plugin item's config.
const (
	DefaultBaseURL  = "https://gmail.googleapis.com"
	DefaultAuthURL  = "https://accounts.google.com/o/oauth2/auth"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// Scope is the only scope asked for: read mail, never change it.
	Scope = gmail.GmailReadonlyScope
)

// Config keys (plugins.items[].config).
const (
	KeyBaseURL       = "base_url"
	KeyAuthURL       = "auth_url"
	KeyTokenURL      = "token_url"
	KeyClientID      = "client_id"
	KeyBootstrapDays = "bootstrap_days"
	KeyQuery         = "query"
	KeySkipLabels    = "skip_labels"
	KeyPageSize      = "page_size"
)

// Defaults of the settings.
const (
	DefaultBootstrapDays = 14
	// DefaultQuery narrows the bootstrap's message list (Gmail search
	// syntax) beside newer_than.
	DefaultQuery = "-in:chats"
	// DefaultSkipLabels: messages carrying one of these are not synced.
	DefaultSkipLabels = "DRAFT,SPAM,TRASH,CHAT"
	// DefaultPageSize is how many messages one Sync page reads.
	DefaultPageSize = 50
	// MaxPageSize is Gmail's largest messages.list page.
	MaxPageSize = 500
	// concurrentGets bounds the messages.get calls in flight per page.
	concurrentGets = 4
)

// Plugin is the Gmail integration.
type Plugin struct {
	Version string
	// HTTP is the client underneath (default: 60 s timeout; calls also end
	// with the host's deadline).
	HTTP *http.Client
}

// New returns the plugin.
func New(version string) *Plugin {
	return &Plugin{Version: version, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// settings are the connection's config, checked.
type settings struct {
	baseURL    string
	authURL    string
	tokenURL   string
	clientID   string
	days       int
	query      string
	skipLabels []string
	pageSize   int
}

func parseSettings(c *sdk.Connection) (*settings, error) {
	s := &settings{clientID: c.Setting(KeyClientID, ""), query: strings.TrimSpace(c.Setting(KeyQuery, DefaultQuery))}
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
	raw := c.Setting(KeyBootstrapDays, strconv.Itoa(DefaultBootstrapDays))
	if s.days, err = strconv.Atoi(raw); err != nil || s.days < 1 || s.days > 3650 {
		return nil, sdk.InvalidConfig("config.%s: %q is not a number of days from 1 to 3650", KeyBootstrapDays, raw)
	}
	raw = c.Setting(KeyPageSize, strconv.Itoa(DefaultPageSize))
	if s.pageSize, err = strconv.Atoi(raw); err != nil || s.pageSize < 1 || s.pageSize > MaxPageSize {
		return nil, sdk.InvalidConfig("config.%s: %q is not a number of messages from 1 to %d", KeyPageSize, raw, MaxPageSize)
	}
	// "none" turns the label filter off (an empty value means the default).
	if v := c.Setting(KeySkipLabels, DefaultSkipLabels); v != "none" {
		for _, l := range sdk.SplitList(v) {
			s.skipLabels = append(s.skipLabels, strings.ToUpper(l))
		}
	}
	return s, nil
}

// Describe answers the manifest: OAuth 2 against Google with the
// read-only Gmail scope, offline access and forced consent (so Google
// issues a refresh token on every connect), PKCE.
func (p *Plugin) Describe(_ context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	s, err := parseSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	return &sdk.Manifest{
		Name:         "gmail",
		DisplayName:  "Gmail",
		Description:  "Reads your Gmail mailbox (read-only): the last days at first, then every new message, decoded to plain text with sender, subject, date, thread and message ids.",
		Version:      p.Version,
		Capabilities: []sdk.Capability{sdk.CapEmailRead},
		Auth: sdk.Auth{Type: sdk.AuthOAuth2, OAuth2: &sdk.OAuth2{AuthURL: s.authURL, TokenURL: s.tokenURL,
			Scopes: []string{Scope}, PKCE: true,
			AuthParams: map[string]string{"access_type": "offline", "prompt": "consent"}}},
		Config: []sdk.ConfigField{
			{Key: KeyBaseURL, Label: "API root", Type: "url", Default: DefaultBaseURL},
			{Key: KeyAuthURL, Label: "OAuth consent URL", Type: "url", Default: DefaultAuthURL},
			{Key: KeyTokenURL, Label: "OAuth token URL", Type: "url", Default: DefaultTokenURL},
			{Key: KeyClientID, Label: "OAuth client id", Required: true, Help: "The Google OAuth client (type Web application); its secret comes through secret_env client_secret."},
			{Key: "client_secret", Label: "OAuth client secret", Secret: true},
			{Key: KeyBootstrapDays, Label: "Days read at first", Type: "int", Default: strconv.Itoa(DefaultBootstrapDays),
				Help: "The first sync (and one after Gmail forgot the history) reads the mail of this many days."},
			{Key: KeyQuery, Label: "Search filter", Default: DefaultQuery, Help: "Gmail search terms added to the first sync's newer_than."},
			{Key: KeySkipLabels, Label: "Labels left out", Default: DefaultSkipLabels, Help: "Comma-separated label ids; none: keep every message."},
			{Key: KeyPageSize, Label: "Messages per page", Type: "int", Default: strconv.Itoa(DefaultPageSize)},
		},
	}, nil
}

// service opens the Gmail client for one call: the connection's access
// token (the host refreshed it) as a bearer token, config.base_url as the
// endpoint.
func (p *Plugin) service(ctx context.Context, conn *sdk.Connection, s *settings) (*gmail.Service, error) {
	if conn.Token == nil || conn.Token.AccessToken == "" {
		return nil, sdk.NeedsReauth("no Gmail access token: connect the mailbox through OAuth")
	}
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	typ := conn.Token.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: conn.Token.AccessToken, TokenType: typ})
	client := &http.Client{Timeout: hc.Timeout, Transport: &oauth2.Transport{Source: ts, Base: hc.Transport}}
	svc, err := gmail.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(s.baseURL+"/"))
	if err != nil {
		return nil, sdk.InvalidConfig("config.%s: %v", KeyBaseURL, err)
	}
	return svc, nil
}
