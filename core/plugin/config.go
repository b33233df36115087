package plugin

import (
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// Config is the `plugins` section of Consilium's config.
type Config struct {
	// CallTimeout bounds a call unless the caller's deadline is sooner.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// StreamTimeout bounds a streamed Chat.
	StreamTimeout time.Duration `yaml:"stream_timeout"`
	// StartTimeout bounds starting a plugin: process, handshake, Describe.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// MaxConcurrency bounds the calls in flight per plugin; more wait.
	MaxConcurrency int `yaml:"max_concurrency"`
	// RestartBackoffMin and RestartBackoffMax bound the exponential wait
	// before restarting a plugin that crashed or failed to start.
	RestartBackoffMin time.Duration `yaml:"restart_backoff_min"`
	RestartBackoffMax time.Duration `yaml:"restart_backoff_max"`
	// RateLimitMaxWait is how long a call may wait for a declared rate
	// limit; beyond it the call fails with rate_limited and a retry-after.
	RateLimitMaxWait time.Duration `yaml:"rate_limit_max_wait"`
	// GoMaxProcs is set as GOMAXPROCS in each plugin's environment (default
	// 1; -1 leaves it unset). Plugins are I/O-bound, and on a small machine 1
	// makes small calls markedly faster.
	GoMaxProcs int            `yaml:"gomaxprocs"`
	Items      []PluginConfig `yaml:"items"`
}

// PluginConfig declares one plugin.
type PluginConfig struct {
	// Name is how the rest of Consilium refers to the plugin.
	Name string `yaml:"name"`
	// Kind is llm or integration.
	Kind sdk.Kind `yaml:"kind"`
	// Path of the plugin binary.
	Path string `yaml:"path"`
	// SHA256 of the binary, hex; when set the host refuses any other binary.
	SHA256 string `yaml:"sha256"`
	// Enabled plugins are started; others are listed as disabled.
	Enabled bool `yaml:"enabled"`
	// Config is sent to the plugin with every call (Connection.Config),
	// under the caller's connection settings.
	Config map[string]string `yaml:"config"`
	// SecretEnv maps a secret's name to the host environment variable that
	// holds it; the value is sent with every call (Connection.Secrets).
	SecretEnv map[string]string `yaml:"secret_env"`
	// CallTimeout and MaxConcurrency override the host-wide values.
	CallTimeout    time.Duration `yaml:"call_timeout"`
	MaxConcurrency int           `yaml:"max_concurrency"`
	// ReadOnlyTools names tools of an integration plugin (as its ListTools
	// names them) that an admin vouches change nothing outside: chat
	// agents call them without asking the user. Every other tool the
	// plugin offers waits for the user's approval on each call.
	ReadOnlyTools []string `yaml:"read_only_tools"`
}

// Defaults returns the host settings used when nothing is set, with no
// plugins.
func Defaults() Config {
	return Config{
		CallTimeout:       30 * time.Second,
		StreamTimeout:     5 * time.Minute,
		StartTimeout:      30 * time.Second,
		MaxConcurrency:    16,
		RestartBackoffMin: 500 * time.Millisecond,
		RestartBackoffMax: time.Minute,
		RateLimitMaxWait:  2 * time.Second,
		GoMaxProcs:        1,
	}
}

// WithDefaults returns c with every zero host setting replaced by its
// default.
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.CallTimeout == 0 {
		c.CallTimeout = d.CallTimeout
	}
	if c.StreamTimeout == 0 {
		c.StreamTimeout = d.StreamTimeout
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = d.StartTimeout
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = d.MaxConcurrency
	}
	if c.RestartBackoffMin == 0 {
		c.RestartBackoffMin = d.RestartBackoffMin
	}
	if c.RestartBackoffMax == 0 {
		c.RestartBackoffMax = max(d.RestartBackoffMax, c.RestartBackoffMin)
	}
	if c.RateLimitMaxWait == 0 {
		c.RateLimitMaxWait = d.RateLimitMaxWait
	}
	if c.GoMaxProcs == 0 {
		c.GoMaxProcs = d.GoMaxProcs
	}
	return c
}

// ValidationError lists every problem of a Config, each starting with its
// key, such as "plugins.items[2].path: file not found".
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

var (
	envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks c (after WithDefaults) and returns a *ValidationError
// naming every bad key, or nil. It looks at the file system for the paths of
// enabled plugins but not at the environment.
func (c Config) Validate() error {
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, "plugins."+key+": "+fmt.Sprintf(format, args...))
	}
	positive := map[string]time.Duration{
		"call_timeout": c.CallTimeout, "stream_timeout": c.StreamTimeout, "start_timeout": c.StartTimeout,
		"restart_backoff_min": c.RestartBackoffMin, "restart_backoff_max": c.RestartBackoffMax,
	}
	for _, key := range []string{"call_timeout", "stream_timeout", "start_timeout", "restart_backoff_min", "restart_backoff_max"} {
		if positive[key] <= 0 {
			bad(key, "must be positive, got %s", positive[key])
		}
	}
	if c.RestartBackoffMax < c.RestartBackoffMin {
		bad("restart_backoff_max", "must not be less than restart_backoff_min")
	}
	if c.RateLimitMaxWait < 0 {
		bad("rate_limit_max_wait", "must not be negative")
	}
	if c.MaxConcurrency < 1 {
		bad("max_concurrency", "must be at least 1, got %d", c.MaxConcurrency)
	}
	seen := map[string]int{}
	for i, p := range c.Items {
		key := fmt.Sprintf("items[%d]", i)
		if !sdk.ValidName(p.Name) {
			bad(key+".name", "must be %s, got %q", sdk.NameRule, p.Name)
		} else if j, dup := seen[p.Name]; dup {
			bad(key+".name", "%q is already used by items[%d]", p.Name, j)
		} else {
			seen[p.Name] = i
		}
		switch p.Kind {
		case sdk.KindLLM, sdk.KindIntegration:
		default:
			bad(key+".kind", "must be llm or integration, got %q", p.Kind)
		}
		switch {
		case p.Path == "":
			bad(key+".path", "is required")
		case p.Enabled:
			fi, err := os.Stat(p.Path)
			switch {
			case err != nil:
				bad(key+".path", "file not found: %s", p.Path)
			case fi.IsDir():
				bad(key+".path", "is a directory: %s", p.Path)
			case fi.Mode()&0o111 == 0:
				bad(key+".path", "is not executable: %s", p.Path)
			}
		}
		if p.SHA256 != "" {
			if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
				bad(key+".sha256", "must be 64 hexadecimal characters")
			}
		}
		for secret, env := range p.SecretEnv {
			if secret == "" {
				bad(key+".secret_env", "has an empty secret name")
			}
			if !envVarRE.MatchString(env) {
				bad(key+".secret_env."+secret, "%q is not an environment variable name", env)
			}
		}
		if p.CallTimeout < 0 {
			bad(key+".call_timeout", "must not be negative")
		}
		if p.MaxConcurrency < 0 {
			bad(key+".max_concurrency", "must not be negative")
		}
		if len(p.ReadOnlyTools) > 0 && p.Kind != sdk.KindIntegration {
			bad(key+".read_only_tools", "is only for integration plugins (kind integration)")
		}
		for j, name := range p.ReadOnlyTools {
			if strings.TrimSpace(name) == "" || len(name) > 256 {
				bad(fmt.Sprintf("%s.read_only_tools[%d]", key, j), "must be a tool name of 1 to 256 characters, got %q", name)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: problems}
}
