package sdk

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Manifest describes a plugin of either kind: who it is, how users
// authenticate, what it can do and how fast it may be called.
type Manifest struct {
	// Name is the plugin's identifier (ValidName: lower case letters,
	// digits, '-' and '_', starting with a letter).
	Name        string
	DisplayName string
	Description string
	// Version of the plugin (semver recommended).
	Version string
	// Auth is how a user connects (integrations).
	Auth Auth
	// Config lists the per-connection settings a user or admin fills in.
	Config []ConfigField
	// Capabilities the plugin offers, such as CapTasksPull or CapChat.
	Capabilities []Capability
	// Models the plugin serves (llm).
	Models []Model
	// RateLimits the host enforces on calls to this plugin.
	RateLimits []RateLimit

	// Filled in by the SDK, not by plugin authors.
	ProtocolVersion int
	Methods         []string
	SDKVersion      string
}

// AuthType is how a user connects an integration.
type AuthType string

const (
	AuthNone   AuthType = "none"
	AuthAPIKey AuthType = "api_key"
	AuthOAuth2 AuthType = "oauth2"
	// AuthLink: the outside system hosts the connect page. The plugin
	// implements Linker: BeginLink makes the link the user opens, CheckLink
	// tells the host whether the account it names became usable.
	AuthLink AuthType = "link"
)

// Auth describes how users authenticate against the outside system.
type Auth struct {
	Type   AuthType
	OAuth2 *OAuth2
}

// OAuth2 holds the endpoints and scopes the host uses to run the OAuth2 flow.
// Client id and secret are host configuration, not part of the manifest.
type OAuth2 struct {
	AuthURL  string
	TokenURL string
	Scopes   []string
	PKCE     bool
	// AuthParams are extra query parameters for the consent URL, such as
	// access_type=offline.
	AuthParams map[string]string
}

// ConfigField is one setting of a connection.
type ConfigField struct {
	Key      string
	Label    string
	Help     string
	Type     string // string, int, bool or url
	Required bool
	// Secret fields are stored encrypted by the host and sent in
	// Connection.Secrets rather than Connection.Config.
	Secret  bool
	Default string
}

// Capability is something a plugin can do.
type Capability string

const (
	// Integrations.
	CapTasksPull Capability = "tasks.pull"
	CapTasksPush Capability = "tasks.push"
	CapEmailRead Capability = "email.read"
	CapTools     Capability = "tools"
	// LLMs (also used per model).
	CapChat       Capability = "chat"
	CapChatStream Capability = "chat.stream"
	CapChatTools  Capability = "chat.tools"
	CapVision     Capability = "vision"
	CapEmbed      Capability = "embed"
	CapTranscribe Capability = "transcribe"
)

// KnownCapabilities lists the capabilities this SDK version defines.
var KnownCapabilities = []Capability{CapTasksPull, CapTasksPush, CapEmailRead, CapTools,
	CapChat, CapChatStream, CapChatTools, CapVision, CapEmbed, CapTranscribe}

// Model is one model an llm plugin serves.
type Model struct {
	ID           string
	DisplayName  string
	Capabilities []Capability
	// ContextWindow in tokens, 0 when unknown.
	ContextWindow int
	// EmbeddingDimension of the vectors this model returns (embedding models).
	EmbeddingDimension int
}

// RateLimitScope says what a rate limit counts.
type RateLimitScope string

const (
	// ScopePlugin counts every call to the plugin.
	ScopePlugin RateLimitScope = "plugin"
	// ScopeConnection counts calls per Connection.ID.
	ScopeConnection RateLimitScope = "connection"
)

// RateLimit allows Requests calls per Per, with bursts of up to Burst calls
// (Burst defaults to 1).
type RateLimit struct {
	Scope    RateLimitScope
	Requests int
	Per      time.Duration
	Burst    int
}

// Has reports whether the manifest declares the capability.
func (m *Manifest) Has(c Capability) bool {
	for _, x := range m.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Implements reports whether the plugin implements the RPC method (for
// example "Sync"), as reported by the SDK the plugin was built with.
func (m *Manifest) Implements(method string) bool {
	for _, x := range m.Methods {
		if x == method {
			return true
		}
	}
	return false
}

// Validate checks the fields a plugin author fills in. It returns every
// problem found, joined.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("manifest.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !ValidName(m.Name) {
		bad("name", "%q must be %s", m.Name, NameRule)
	}
	if m.DisplayName == "" {
		bad("display_name", "is empty")
	}
	if m.Version == "" {
		bad("version", "is empty")
	}
	switch m.Auth.Type {
	case "", AuthNone, AuthAPIKey, AuthLink:
		if m.Auth.OAuth2 != nil {
			bad("auth.oauth2", "is set but auth.type is %q", m.Auth.Type)
		}
	case AuthOAuth2:
		o := m.Auth.OAuth2
		if o == nil {
			bad("auth.oauth2", "is required when auth.type is oauth2")
			break
		}
		for field, u := range map[string]string{"auth_url": o.AuthURL, "token_url": o.TokenURL} {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				bad("auth.oauth2."+field, "%q is not an absolute http(s) URL", u)
			}
		}
	default:
		bad("auth.type", "%q is not one of none, api_key, oauth2, link", m.Auth.Type)
	}
	seen := map[string]bool{}
	for i, f := range m.Config {
		if !ValidName(f.Key) {
			bad(fmt.Sprintf("config[%d].key", i), "%q must be %s", f.Key, NameRule)
		}
		if seen[f.Key] {
			bad(fmt.Sprintf("config[%d].key", i), "%q is declared twice", f.Key)
		}
		seen[f.Key] = true
		switch f.Type {
		case "", "string", "int", "bool", "url":
		default:
			bad(fmt.Sprintf("config[%d].type", i), "%q is not one of string, int, bool, url", f.Type)
		}
	}
	for i, c := range m.Capabilities {
		if !knownCapability(c) {
			bad(fmt.Sprintf("capabilities[%d]", i), "%q is not a known capability", c)
		}
	}
	for i, md := range m.Models {
		if md.ID == "" {
			bad(fmt.Sprintf("models[%d].id", i), "is empty")
		}
		for j, c := range md.Capabilities {
			if !knownCapability(c) {
				bad(fmt.Sprintf("models[%d].capabilities[%d]", i, j), "%q is not a known capability", c)
			}
		}
		if md.EmbeddingDimension < 0 {
			bad(fmt.Sprintf("models[%d].embedding_dimension", i), "is negative")
		}
	}
	for i, l := range m.RateLimits {
		if l.Scope != ScopePlugin && l.Scope != ScopeConnection {
			bad(fmt.Sprintf("rate_limits[%d].scope", i), "%q is not one of plugin, connection", l.Scope)
		}
		if l.Requests <= 0 || l.Per <= 0 || l.Burst < 0 {
			bad(fmt.Sprintf("rate_limits[%d]", i), "needs requests > 0, per > 0 and burst >= 0")
		}
	}
	return errors.Join(errs...)
}

func knownCapability(c Capability) bool {
	for _, k := range KnownCapabilities {
		if c == k {
			return true
		}
	}
	return false
}
