package sdk

import "time"

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
