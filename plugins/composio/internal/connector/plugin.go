// Package connector is the Composio integration: the manifest, the
// connected-account link flow (sdk.Linker: BeginLink makes a link on
// Composio's hosted connect page, CheckLink reads the account's status) and
// the tools of the enabled toolkits at their pinned versions
// (sdk.ToolProvider), on Composio's API v3.
package connector

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// DefaultBaseURL is Composio's API root (config.base_url overrides it).
const DefaultBaseURL = "https://backend.composio.dev"

// Config keys (plugins.items[].config) and the secret.
const (
	KeyBaseURL          = "base_url"
	KeyToolkits         = "toolkits"
	KeyAuthConfigs      = "auth_configs"
	KeyPageSize         = "page_size"
	KeyMaxResponseBytes = "max_response_bytes"
	// SecretAPIKey is the project API key (secret_env.api_key), sent as
	// x-api-key.
	SecretAPIKey = "api_key"
)

// Defaults of the settings.
const (
	DefaultPageSize         = 200
	DefaultMaxResponseBytes = 32 << 20
)

// Plugin is the Composio integration.
type Plugin struct {
	Version string
	// HTTP is the client for Composio (default: 60 s timeout; calls also
	// end with the host's deadline).
	HTTP *http.Client

	mu sync.Mutex
	// accounts remembers the toolkit of each connected account seen
	// (base URL + account id → toolkit slug).
	accounts map[string]string
}

// New returns the plugin.
func New(version string) *Plugin {
	return &Plugin{Version: version, HTTP: &http.Client{Timeout: 60 * time.Second}, accounts: map[string]string{}}
}

var (
	_ sdk.Integration  = (*Plugin)(nil)
	_ sdk.ToolProvider = (*Plugin)(nil)
	_ sdk.Linker       = (*Plugin)(nil)
)

// toolkit is an enabled toolkit pinned to a version.
type toolkit struct {
	Slug       string
	Version    string
	AuthConfig string
}

// settings are the connection's config, checked.
type settings struct {
	baseURL  string
	toolkits []toolkit
	pageSize int
	maxBody  int64
}

var (
	slugRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
	authCfgRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

func parseSettings(c *sdk.Connection) (*settings, error) {
	s := &settings{}
	var err error
	if s.baseURL, err = c.SettingURL(KeyBaseURL, DefaultBaseURL); err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, pin := range c.SettingList(KeyToolkits, "") {
		slug, version, ok := strings.Cut(pin, "@")
		slug = strings.ToLower(strings.TrimSpace(slug))
		version = strings.TrimSpace(version)
		if !slugRE.MatchString(slug) {
			return nil, sdk.InvalidConfig("config.%s: %q is not a toolkit slug such as gmail", KeyToolkits, slug)
		}
		if !ok || !versionRE.MatchString(version) {
			return nil, sdk.InvalidConfig("config.%s: %q names no version: pin one, such as %s@20250901_00", KeyToolkits, pin, slug)
		}
		if _, dup := seen[slug]; dup {
			return nil, sdk.InvalidConfig("config.%s: toolkit %s is listed twice", KeyToolkits, slug)
		}
		seen[slug] = len(s.toolkits)
		s.toolkits = append(s.toolkits, toolkit{Slug: slug, Version: version})
	}
	for _, pair := range c.SettingList(KeyAuthConfigs, "") {
		slug, id, ok := strings.Cut(pair, "=")
		slug, id = strings.ToLower(strings.TrimSpace(slug)), strings.TrimSpace(id)
		i, known := seen[slug]
		switch {
		case !ok || !authCfgRE.MatchString(id):
			return nil, sdk.InvalidConfig("config.%s: %q is not toolkit=auth_config_id, such as gmail=ac_1234", KeyAuthConfigs, pair)
		case !known:
			return nil, sdk.InvalidConfig("config.%s: toolkit %s is not in config.%s", KeyAuthConfigs, slug, KeyToolkits)
		}
		s.toolkits[i].AuthConfig = id
	}
	n, err := strconv.Atoi(c.Setting(KeyPageSize, strconv.Itoa(DefaultPageSize)))
	if err != nil || n < 1 || n > 1000 {
		return nil, sdk.InvalidConfig("config.%s: %q is not a number from 1 to 1000", KeyPageSize, c.Setting(KeyPageSize, ""))
	}
	s.pageSize = n
	mb, err := strconv.ParseInt(c.Setting(KeyMaxResponseBytes, strconv.Itoa(DefaultMaxResponseBytes)), 10, 64)
	if err != nil || mb < 1024 {
		return nil, sdk.InvalidConfig("config.%s: %q is not a number of bytes of at least 1024", KeyMaxResponseBytes, c.Setting(KeyMaxResponseBytes, ""))
	}
	s.maxBody = mb
	return s, nil
}

// slugs lists the enabled toolkits' slugs, sorted.
func (s *settings) slugs() string {
	var out []string
	for _, t := range s.toolkits {
		out = append(out, t.Slug)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// toolkitOfTool finds the enabled toolkit a tool slug belongs to: Composio
// names tools TOOLKIT_ACTION (GMAIL_SEND_EMAIL); the longest match wins.
func (s *settings) toolkitOfTool(tool string) *toolkit {
	var best *toolkit
	for i := range s.toolkits {
		t := &s.toolkits[i]
		prefix := strings.ToUpper(strings.ReplaceAll(t.Slug, "-", "_")) + "_"
		if strings.HasPrefix(tool, prefix) && (best == nil || len(t.Slug) > len(best.Slug)) {
			best = t
		}
	}
	return best
}

// Describe answers the manifest. Users connect through Composio's hosted
// page (auth type link); the API key is the admin's, never the user's.
func (p *Plugin) Describe(_ context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	if _, err := parseSettings(&req.Connection); err != nil {
		return nil, err
	}
	return &sdk.Manifest{
		Name:         "composio",
		DisplayName:  "Composio",
		Description:  "Apps reached through Composio (Gmail, Slack, GitHub, ...) as tools for the chat agents: connect an app's account on Composio's page; agents then run that app's tools for you, with your approval.",
		Version:      p.Version,
		Auth:         sdk.Auth{Type: sdk.AuthLink},
		Capabilities: []sdk.Capability{sdk.CapTools},
		Config: []sdk.ConfigField{
			{Key: KeyBaseURL, Label: "API root", Type: "url", Default: DefaultBaseURL},
			{Key: SecretAPIKey, Label: "Project API key", Help: "From Composio's dashboard (Settings › API keys), through secret_env.api_key.", Secret: true, Required: true},
			{Key: KeyToolkits, Label: "Toolkits", Help: "Comma-separated toolkit slugs pinned to a version, such as gmail@20250901_00,slack@20250930_00.", Required: true},
			{Key: KeyAuthConfigs, Label: "Auth configs", Help: "Comma-separated toolkit=auth_config_id pairs (Composio's dashboard › Auth configs), such as gmail=ac_1234.", Required: true},
			{Key: KeyPageSize, Label: "Tools per listed page", Type: "int", Default: strconv.Itoa(DefaultPageSize)},
			{Key: KeyMaxResponseBytes, Label: "Largest answer read", Type: "int", Default: strconv.Itoa(DefaultMaxResponseBytes)},
		},
	}, nil
}

// setup reads the settings and opens a client for a call.
func (p *Plugin) setup(conn *sdk.Connection) (*settings, *client, error) {
	s, err := parseSettings(conn)
	if err != nil {
		return nil, nil, err
	}
	key := conn.Secrets[SecretAPIKey]
	if key == "" {
		return nil, nil, sdk.InvalidConfig("secret %s is not set: name the variable holding Composio's API key in secret_env.%s", SecretAPIKey, SecretAPIKey)
	}
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return s, &client{base: s.baseURL, key: key, http: hc, maxBody: s.maxBody, now: time.Now}, nil
}

func (p *Plugin) rememberAccount(base, id, toolkit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.accounts == nil {
		p.accounts = map[string]string{}
	}
	if len(p.accounts) > 10000 {
		clear(p.accounts)
	}
	p.accounts[base+" "+id] = toolkit
}

func (p *Plugin) accountToolkit(base, id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.accounts[base+" "+id]
	return t, ok
}
