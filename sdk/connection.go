package sdk

import (
	"net/url"
	"strings"
	"time"
)

// Connection is what a call runs with, sent by the host on every call: the
// plugin's settings and secrets from the host's config, overlaid with those of
// the user's connection (account) the call is for, and its OAuth2 access
// token. Plugins keep none of it between calls unless they must.
type Connection struct {
	// ID is the host's id of the connection; empty for plugin-level calls.
	// The host applies per-connection rate limits by it.
	ID      string
	Config  map[string]string
	Secrets map[string]string
	// Token is set when the plugin's auth type is oauth2.
	Token *Token
}

// Token is an OAuth2 access token. The host refreshes it; refresh tokens
// never reach a plugin.
type Token struct {
	AccessToken string
	TokenType   string
	Expiry      time.Time
}

// Setting returns Config[key], or def when it is missing or empty.
func (c *Connection) Setting(key, def string) string {
	if v := c.Config[key]; v != "" {
		return v
	}
	return def
}

// SettingURL returns Config[key] (or def) as an absolute http(s) URL without
// a trailing slash, or an invalid_config error naming the key. Outside
// endpoints are settings whose default is the real one, so that admins
// and tests can point a plugin at another server.
func (c *Connection) SettingURL(key, def string) (string, error) {
	v := c.Setting(key, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", InvalidConfig("config.%s: %q is not an absolute http(s) URL", key, v)
	}
	return strings.TrimSuffix(v, "/"), nil
}

// SettingList returns Config[key] (or def) split at commas, each item
// trimmed, empty items dropped.
func (c *Connection) SettingList(key, def string) []string {
	return SplitList(c.Setting(key, def))
}

// SplitList splits a comma-separated setting: items trimmed, empty ones
// dropped; nil for none.
func SplitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// Secret returns Secrets[key], or an invalid_config error naming the key.
func (c *Connection) Secret(key string) (string, error) {
	if v := c.Secrets[key]; v != "" {
		return v, nil
	}
	return "", InvalidConfig("secret %q is not set", key)
}

// DescribeRequest asks a plugin for its manifest.
type DescribeRequest struct {
	Connection Connection
}
