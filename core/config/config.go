// Package config loads Consilium's configuration: an optional YAML file whose
// every key can be overridden by an environment variable. Load validates the
// result and names the offending key in every error.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

// checkMasterKey checks integrations.master_key: base64 of 32 bytes (the
// same rule as integration.ParseMasterKey, which config cannot import).
func checkMasterKey(s string) error {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
			if len(b) != 32 {
				return fmt.Errorf("must be base64 of 32 bytes, got %d bytes", len(b))
			}
			return nil
		}
	}
	return errors.New("must be base64 of 32 random bytes (openssl rand -base64 32)")
}

// Config is the whole configuration. Every field is documented in
// consilium.example.yaml at the repository root.
type Config struct {
	Log       Log       `yaml:"log"`
	HTTP      HTTP      `yaml:"http"`
	Database  Database  `yaml:"database"`
	Auth      Auth      `yaml:"auth"`
	RateLimit RateLimit `yaml:"rate_limit"`
	Jobs      Jobs      `yaml:"jobs"`
	// Plugins are the model-provider and integration plugins the host runs.
	Plugins plugin.Config `yaml:"plugins"`
	// AI is retrieval, transcription and the agents.
	AI AI `yaml:"ai"`
	// Metrics exports Prometheus metrics.
	Metrics Metrics `yaml:"metrics"`
	// Tracing exports OpenTelemetry traces.
	Tracing Tracing `yaml:"tracing"`
	// Integrations are the users' connections to outside systems.
	Integrations Integrations `yaml:"integrations"`
}

// Tracing exports OpenTelemetry traces by OTLP/HTTP; off without an
// endpoint.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/HTTP base URL, such as
	// http://127.0.0.1:4318 (spans go to /v1/traces). Empty: no traces.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName names this deployment's spans.
	ServiceName string `yaml:"service_name"`
	// SampleRatio is the share of new traces recorded (0-1); a request
	// that comes with a sampled trace context is always recorded.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Integrations configures connections to outside systems (core/integration).
type Integrations struct {
	// MasterKey (base64 of 32 random bytes) seals the data keys that seal
	// connection secrets. Required when an integration plugin is enabled.
	MasterKey string `yaml:"master_key"`
	// ReturnURL, when set, is where the OAuth callback sends the browser
	// (303) once a connection is made, with ?provider=&status= (the connection state).
	ReturnURL string `yaml:"return_url"`
	// SyncInterval is how often each connection syncs.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// CompletedGrace is how long a task completed outside stays in its
	// note before it is cleaned out (its reference stays).
	CompletedGrace time.Duration `yaml:"completed_grace"`
	// Mail configures the scan of synced mail.
	Mail Mail `yaml:"mail"`
}

// Mail configures the scan that turns mail asking for work into tasks.
type Mail struct {
	// ConfidenceThreshold: a request the extractor is at least this sure
	// of becomes a task; a less sure one waits as a suggestion.
	ConfidenceThreshold float64 `yaml:"confidence_threshold"`
}

// Metrics says where Prometheus scrapes /metrics. With neither key set the
// process collects none.
type Metrics struct {
	// Addr serves /metrics on a listener of its own (such as
	// 127.0.0.1:9464), off the public one; serve and worker both do.
	Addr string `yaml:"addr"`
	// Token also serves /metrics on the API listener, to requests that
	// send Authorization: Bearer <token> (at least 32 characters).
	Token string `yaml:"token"`
}

// Enabled reports whether metrics are collected.
func (m Metrics) Enabled() bool { return m.Addr != "" || m.Token != "" }

type Log struct {
	Format string `yaml:"format"` // text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

type HTTP struct {
	Addr string `yaml:"addr"`
	// PublicURL is where users reach the API (scheme, host, optional path
	// prefix, no trailing slash); OAuth redirect URIs are
	// {public_url}/api/external/callback/{provider}.
	PublicURL         string        `yaml:"public_url"`
	CORSOrigins       []string      `yaml:"cors_origins"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// BodyReadTimeout bounds how long a request body may take to arrive
	// (uploads set their own); a late body answers 408.
	BodyReadTimeout time.Duration `yaml:"body_read_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the request line and headers; more answers 431.
	MaxHeaderBytes  int           `yaml:"max_header_bytes"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TrustProxyHeaders makes the client IP come from X-Forwarded-For /
	// X-Real-IP. Enable it only behind a proxy that sets them.
	TrustProxyHeaders bool `yaml:"trust_proxy_headers"`
	// TrustedProxies are the addresses (IPs or CIDRs) of the proxies whose
	// headers are believed; empty: any peer's.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

type Database struct {
	URL      string `yaml:"url"`
	MaxConns int32  `yaml:"max_conns"`
	// AcquireTimeout bounds the wait for a free pool connection when all
	// max_conns are in use: a request then answers 503 (Retry-After 1)
	// instead of queueing without end, and a job's attempt fails and is
	// retried.
	AcquireTimeout time.Duration `yaml:"acquire_timeout"`
	AutoMigrate    bool          `yaml:"auto_migrate"`
}

type Auth struct {
	Mode            string        `yaml:"mode"` // builtin | supabase
	JWTSecret       string        `yaml:"jwt_secret"`
	Issuer          string        `yaml:"issuer"`
	Audience        string        `yaml:"audience"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// RefreshReuseInterval is how long after a refresh token is rotated a
	// replay of it (two tabs, a retried request) gets the same successor
	// instead of revoking the session.
	RefreshReuseInterval time.Duration `yaml:"refresh_reuse_interval"`
	Password             Password      `yaml:"password"`
	Supabase             Supabase      `yaml:"supabase"`
}

// Password holds the argon2id parameters used for new password hashes.
type Password struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

type Supabase struct {
	JWTSecret string `yaml:"jwt_secret"`
	JWKSURL   string `yaml:"jwks_url"`
	Audience  string `yaml:"audience"`
	Issuer    string `yaml:"issuer"`
}

type RateLimit struct {
	Enabled bool `yaml:"enabled"`
	// AuthPerIP limits register/login/refresh per client IP.
	AuthPerIP Limit `yaml:"auth_per_ip"`
	// AuthPerAccountIP limits failed logins per email address from one
	// client address.
	AuthPerAccountIP Limit `yaml:"auth_per_account_ip"`
	// AuthPerAccount limits failed logins per email address from all client
	// addresses: once spent, addresses that have failed for the account are
	// refused, addresses that have not are not.
	AuthPerAccount Limit `yaml:"auth_per_account"`
	// PerUser limits every authenticated request per user.
	PerUser Limit `yaml:"per_user"`
}

// Limit is a token bucket: Rate requests per Per on average, bursts up to Burst.
type Limit struct {
	Rate  int           `yaml:"rate"`
	Per   time.Duration `yaml:"per"`
	Burst int           `yaml:"burst"`
}

type Jobs struct {
	MaxWorkers           int           `yaml:"max_workers"`
	SessionPruneInterval time.Duration `yaml:"session_prune_interval"`
	// ChatWorkers are the concurrent chat turns per worker process, on a
	// queue of their own (chat), so that AI and maintenance jobs never
	// hold a turn back.
	ChatWorkers int `yaml:"chat_workers"`
	// ChatFetchCooldown and ChatFetchPollInterval make the chat queue
	// fetch sooner than River's defaults (100ms, 1s): a turn starts within
	// tens of milliseconds of its message.
	ChatFetchCooldown     time.Duration `yaml:"chat_fetch_cooldown"`
	ChatFetchPollInterval time.Duration `yaml:"chat_fetch_poll_interval"`
	// ChatTurnTimeout bounds one attempt of a chat turn; it is also how
	// long a turn whose worker died (kill -9, lost machine) counts as
	// running before it may be rescued (see RescueStuckAfter).
	ChatTurnTimeout time.Duration `yaml:"chat_turn_timeout"`
	// RescueStuckAfter: a job running longer than this and than its own
	// timeout is taken to have lost its worker and is retried (River's
	// rescuer, run by the leader every 30s). It also caps the default job
	// timeout (1m).
	RescueStuckAfter time.Duration `yaml:"rescue_stuck_after"`
	// SyncTimeout bounds one attempt of an integration sync (it pages until
	// the outside system has nothing more); it is also how long a sync
	// whose worker died counts as running before it may be rescued, and
	// meanwhile that connection does not sync.
	SyncTimeout time.Duration `yaml:"sync_timeout"`
	// EmbedTimeout bounds one attempt of an embedding job (a note, a
	// document); it is also how long an embedding whose worker died
	// counts as running before it may be rescued.
	EmbedTimeout time.Duration `yaml:"embed_timeout"`
}

// AI configures which plugins embed, chat and transcribe, the limits of
// uploads, the vector search and the agents.
type AI struct {
	// EmbeddingProvider is the llm plugin that embeds notes, documents and
	// questions. Empty: the plugin named "local" when it is configured,
	// else the first enabled llm plugin.
	EmbeddingProvider string `yaml:"embedding_provider"`
	// EmbeddingModel is sent with every Embed call; empty: the plugin's
	// default. Changing provider or model needs `consilium ai reindex`.
	EmbeddingModel string `yaml:"embedding_model"`
	// ChatProvider and ChatModel write RAG answers and are the default of
	// agents that name none (same default rule as EmbeddingProvider).
	ChatProvider string `yaml:"chat_provider"`
	ChatModel    string `yaml:"chat_model"`
	// TranscriptionProvider and TranscriptionModel read images.
	TranscriptionProvider string `yaml:"transcription_provider"`
	TranscriptionModel    string `yaml:"transcription_model"`
	// MaxUploadBytes bounds an uploaded document; MaxImageBytes an image
	// sent for transcription.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	MaxImageBytes  int64 `yaml:"max_image_bytes"`
	// EfSearch is HNSW's candidate list size (hnsw.ef_search) for vector
	// queries: higher finds more of the true nearest passages, slower.
	EfSearch int `yaml:"ef_search"`
	// TenantIndexThreshold is the number of chunks from which a user gets an
	// HNSW index of their own (0 turns this off).
	TenantIndexThreshold int `yaml:"tenant_index_threshold"`
	// IndexBuildMemory is maintenance_work_mem while building an HNSW index.
	IndexBuildMemory string `yaml:"index_build_memory"`
	// WordNetDir is the folder of the WordNet database (Debian's
	// wordnet-base): full-text search matches other forms and relatives of
	// a question's words through it, and the local plugin's embeddings too.
	// Missing: words match only as written.
	WordNetDir string `yaml:"wordnet_dir"`
	// Agents are offered for chat. Empty: the shipped team (see
	// core/chat.DefaultAgents): a manager "assistant" that delegates to a
	// planner, a task assistant, a researcher and an inbox agent, all on
	// the chat provider.
	Agents []Agent `yaml:"agents"`
	// Chat bounds each chat turn and shapes its context.
	Chat Chat `yaml:"chat"`
}

// Chat bounds the agent turns of chat (core/chat's orchestrator). A turn
// that reaches a bound ends with the answer written so far (marked
// incomplete) and a budget_exceeded error.
type Chat struct {
	// MaxModelCalls bounds the model calls of one turn, delegates'
	// included.
	MaxModelCalls int `yaml:"max_model_calls"`
	// MaxTokens bounds the tokens (input and output, as the provider
	// counts them) of one turn.
	MaxTokens int `yaml:"max_tokens"`
	// MaxDuration bounds the time one turn (one attempt) runs.
	MaxDuration time.Duration `yaml:"max_duration"`
	// MaxRepeatedCalls bounds how often one turn may call the same tool
	// with the same arguments.
	MaxRepeatedCalls int `yaml:"max_repeated_calls"`
	// HistoryMessages is how many of the conversation's latest messages a
	// turn shows the model; older ones are left out (and counted).
	HistoryMessages int `yaml:"history_messages"`
	// ModelTitles has the model name a conversation after its first
	// exchange (one short extra call); off, or offline, a conversation
	// keeps the first words of its first message.
	ModelTitles bool `yaml:"model_titles"`
}

// Agent is one configured chat agent.
type Agent struct {
	Name         string   `yaml:"name"`
	Description  string   `yaml:"description"`
	Provider     string   `yaml:"provider"`
	Model        string   `yaml:"model"`
	Tools        []string `yaml:"tools"`
	SystemPrompt string   `yaml:"system_prompt"`
	// Delegates are the agents this one may hand work to, each through a
	// tool delegate_to_<name> (a brief and the expected output). Empty: it
	// answers alone.
	Delegates []string `yaml:"delegates"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Log:     Log{Format: "text", Level: "info"},
		Tracing: Tracing{ServiceName: "consilium", SampleRatio: 1},
		HTTP: HTTP{
			Addr:              "127.0.0.1:8080",
			PublicURL:         "http://127.0.0.1:8080",
			MaxBodyBytes:      1 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			BodyReadTimeout:   30 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ShutdownTimeout:   20 * time.Second,
		},
		Database: Database{MaxConns: 8, AcquireTimeout: 5 * time.Second},
		Auth: Auth{
			Mode:                 "builtin",
			Issuer:               "consilium",
			Audience:             "consilium",
			AccessTokenTTL:       15 * time.Minute,
			RefreshTokenTTL:      30 * 24 * time.Hour,
			RefreshReuseInterval: 10 * time.Second,
			Password:             Password{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1},
			Supabase:             Supabase{Audience: "authenticated"},
		},
		RateLimit: RateLimit{
			Enabled:          true,
			AuthPerIP:        Limit{Rate: 30, Per: time.Minute, Burst: 30},
			AuthPerAccountIP: Limit{Rate: 5, Per: time.Minute, Burst: 5},
			AuthPerAccount:   Limit{Rate: 10, Per: time.Minute, Burst: 10},
			PerUser:          Limit{Rate: 50, Per: time.Second, Burst: 200},
		},
		Jobs: Jobs{MaxWorkers: 10, SessionPruneInterval: time.Hour, ChatWorkers: 20,
			ChatFetchCooldown: 10 * time.Millisecond, ChatFetchPollInterval: 100 * time.Millisecond,
			ChatTurnTimeout: 150 * time.Second, RescueStuckAfter: 90 * time.Second, SyncTimeout: 10 * time.Minute,
			EmbedTimeout: 10 * time.Minute},
		Plugins: plugin.Defaults(),
		Integrations: Integrations{SyncInterval: 15 * time.Minute, CompletedGrace: 7 * 24 * time.Hour,
			Mail: Mail{ConfidenceThreshold: 0.7}},
		AI: AI{
			MaxUploadBytes:       20 << 20,
			MaxImageBytes:        10 << 20,
			EfSearch:             400,
			WordNetDir:           "/usr/share/wordnet",
			TenantIndexThreshold: 50_000,
			IndexBuildMemory:     "1GB",
			Chat: Chat{MaxModelCalls: 12, MaxTokens: 100_000, MaxDuration: 2 * time.Minute, MaxRepeatedCalls: 3,
				HistoryMessages: 20, ModelTitles: true},
		},
	}
}

// Load reads the YAML file at path (skipped when path is empty), applies
// environment overrides from env (os.Environ form when nil is passed the
// process environment is used) and validates the result.
func Load(path string, env []string) (*Config, error) {
	cfg, err := read(path, env)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadDatabaseOnly is Load for commands that only touch the database
// (migrations): it validates the log and database keys alone.
func LoadDatabaseOnly(path string, env []string) (*Config, error) {
	cfg, err := read(path, env)
	if err != nil {
		return nil, err
	}
	full := cfg.Validate()
	if full == nil {
		return cfg, nil
	}
	var keep []string
	for _, e := range strings.Split(strings.TrimPrefix(full.Error(), "invalid config: "), "; ") {
		if strings.HasPrefix(e, "database.") || strings.HasPrefix(e, "log.") {
			keep = append(keep, e)
		}
	}
	if len(keep) > 0 {
		return nil, fmt.Errorf("invalid config: %s", strings.Join(keep, "; "))
	}
	return cfg, nil
}

func read(path string, env []string) (*Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		// An empty file decodes to io.EOF: it simply sets nothing.
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config: %s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
	if env == nil {
		env = os.Environ()
	}
	if err := applyEnv(&cfg, env); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate checks every key and reports all problems at once.
func (c *Config) Validate() error {
	errs := c.Problems()
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
}

// Problems lists what is wrong with the config, one line per problem
// ("key: what is wrong"), sorted; empty when it is valid.
func (c *Config) Problems() []string {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.HTTP.Addr == "" || !strings.Contains(c.HTTP.Addr, ":") {
		bad("http.addr", "must be host:port, got %q", c.HTTP.Addr)
	}
	if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.HasSuffix(c.HTTP.PublicURL, "/") || u.RawQuery != "" || u.Fragment != "" {
		bad("http.public_url", "must be an http(s) URL without a trailing slash, query or fragment, such as https://consilium.example.com, got %q", c.HTTP.PublicURL)
	}
	integrationEnabled := ""
	for _, p := range c.Plugins.Items {
		if p.Enabled && p.Kind == sdk.KindIntegration {
			integrationEnabled = p.Name
			break
		}
	}
	if c.Integrations.MasterKey == "" {
		if integrationEnabled != "" {
			bad("integrations.master_key", "is required when an integration plugin (%s) is enabled: base64 of 32 random bytes, such as the output of openssl rand -base64 32 (set CONSILIUM_INTEGRATIONS_MASTER_KEY)", integrationEnabled)
		}
	} else if err := checkMasterKey(c.Integrations.MasterKey); err != nil {
		bad("integrations.master_key", "%v", err)
	}
	if c.Integrations.ReturnURL != "" {
		if u, err := url.Parse(c.Integrations.ReturnURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("integrations.return_url", "must be an absolute http(s) URL, got %q", c.Integrations.ReturnURL)
		}
	}
	if c.Integrations.CompletedGrace <= 0 {
		bad("integrations.completed_grace", "must be positive (such as 168h), got %s", c.Integrations.CompletedGrace)
	}
	if t := c.Integrations.Mail.ConfidenceThreshold; !(t > 0 && t <= 1) {
		bad("integrations.mail.confidence_threshold", "must be in (0, 1], got %v", t)
	}
	if c.Integrations.SyncInterval < time.Minute {
		bad("integrations.sync_interval", "must be at least 1m, got %s", c.Integrations.SyncInterval)
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	for i, o := range c.HTTP.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad(fmt.Sprintf("http.cors_origins[%d]", i), "must be an origin such as https://app.example.com or *, got %q", o)
		}
	}
	for key, d := range map[string]time.Duration{
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout,
		"http.body_read_timeout":   c.HTTP.BodyReadTimeout,
		"http.idle_timeout":        c.HTTP.IdleTimeout,
	} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	if c.HTTP.MaxHeaderBytes < 4<<10 {
		bad("http.max_header_bytes", "must be at least 4096, got %d", c.HTTP.MaxHeaderBytes)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad(fmt.Sprintf("http.trusted_proxies[%d]", i), "must be an IP address or CIDR such as 10.0.0.0/8, got %q", p)
			}
		}
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout", "must be positive")
	}
	if c.Database.URL == "" {
		bad("database.url", "is required (set DATABASE_URL or database.url)")
	} else if !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") && !strings.Contains(c.Database.URL, "=") {
		bad("database.url", "must be a postgres:// URL or a key=value connection string")
	}
	if c.Database.MaxConns < 2 {
		bad("database.max_conns", "must be at least 2, got %d", c.Database.MaxConns)
	}
	if c.Database.AcquireTimeout < 10*time.Millisecond {
		bad("database.acquire_timeout", "must be at least 10ms, got %s", c.Database.AcquireTimeout)
	}
	switch c.Auth.Mode {
	case "builtin":
		if len(c.Auth.JWTSecret) < 32 {
			bad("auth.jwt_secret", "must be at least 32 characters (set CONSILIUM_AUTH_JWT_SECRET)")
		}
	case "supabase":
		if c.Auth.Supabase.JWTSecret == "" && c.Auth.Supabase.JWKSURL == "" {
			bad("auth.supabase", "needs jwt_secret or jwks_url in supabase mode")
		}
		if c.Auth.Supabase.JWKSURL != "" && !strings.HasPrefix(c.Auth.Supabase.JWKSURL, "http") {
			bad("auth.supabase.jwks_url", "must be an http(s) URL")
		}
	default:
		bad("auth.mode", "must be builtin or supabase, got %q", c.Auth.Mode)
	}
	if c.Auth.AccessTokenTTL <= 0 {
		bad("auth.access_token_ttl", "must be positive")
	}
	if c.Auth.RefreshTokenTTL <= c.Auth.AccessTokenTTL {
		bad("auth.refresh_token_ttl", "must be longer than auth.access_token_ttl")
	}
	if c.Auth.RefreshReuseInterval < 0 || c.Auth.RefreshReuseInterval > time.Minute {
		bad("auth.refresh_reuse_interval", "must be between 0s and 1m, got %s", c.Auth.RefreshReuseInterval)
	}
	if c.Auth.Password.MemoryKiB < 1024 {
		bad("auth.password.memory_kib", "must be at least 1024")
	}
	if c.Auth.Password.Iterations < 1 {
		bad("auth.password.iterations", "must be at least 1")
	}
	if c.Auth.Password.Parallelism < 1 {
		bad("auth.password.parallelism", "must be at least 1")
	}
	if c.RateLimit.Enabled {
		for key, l := range map[string]Limit{
			"rate_limit.auth_per_ip":         c.RateLimit.AuthPerIP,
			"rate_limit.auth_per_account":    c.RateLimit.AuthPerAccount,
			"rate_limit.auth_per_account_ip": c.RateLimit.AuthPerAccountIP,
			"rate_limit.per_user":            c.RateLimit.PerUser,
		} {
			if l.Rate <= 0 || l.Per <= 0 || l.Burst <= 0 {
				bad(key, "rate, per and burst must all be positive")
			}
		}
	}
	if c.Jobs.MaxWorkers < 1 || c.Jobs.MaxWorkers > 10000 {
		bad("jobs.max_workers", "must be between 1 and 10000, got %d", c.Jobs.MaxWorkers)
	}
	if c.Jobs.SessionPruneInterval < time.Minute {
		bad("jobs.session_prune_interval", "must be at least 1m")
	}
	if c.Metrics.Addr != "" && !strings.Contains(c.Metrics.Addr, ":") {
		bad("metrics.addr", "must be host:port such as 127.0.0.1:9464, got %q", c.Metrics.Addr)
	}
	if c.Metrics.Token != "" && len(c.Metrics.Token) < 32 {
		bad("metrics.token", "must be at least 32 characters (set CONSILIUM_METRICS_TOKEN)")
	}
	if e := c.Tracing.OTLPEndpoint; e != "" && !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
		bad("tracing.otlp_endpoint", "must be an http(s) URL such as http://127.0.0.1:4318, got %q", e)
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		bad("tracing.sample_ratio", "must be between 0 and 1, got %g", c.Tracing.SampleRatio)
	}
	if c.Tracing.ServiceName == "" {
		bad("tracing.service_name", "must not be empty")
	}
	if c.Jobs.ChatWorkers < 1 || c.Jobs.ChatWorkers > 10000 {
		bad("jobs.chat_workers", "must be between 1 and 10000, got %d", c.Jobs.ChatWorkers)
	}
	if c.Jobs.ChatFetchCooldown < time.Millisecond {
		bad("jobs.chat_fetch_cooldown", "must be at least 1ms")
	}
	if c.Jobs.ChatFetchPollInterval < c.Jobs.ChatFetchCooldown {
		bad("jobs.chat_fetch_poll_interval", "must be at least jobs.chat_fetch_cooldown (%s)", c.Jobs.ChatFetchCooldown)
	}
	if c.AI.Chat.MaxDuration >= c.Jobs.ChatTurnTimeout {
		bad("ai.chat.max_duration", "must be shorter than jobs.chat_turn_timeout (%s), which cuts a turn's job off, got %s",
			c.Jobs.ChatTurnTimeout, c.AI.Chat.MaxDuration)
	}
	if c.Jobs.ChatTurnTimeout < time.Second {
		bad("jobs.chat_turn_timeout", "must be at least 1s")
	}
	if c.Jobs.SyncTimeout < time.Second {
		bad("jobs.sync_timeout", "must be at least 1s")
	}
	if c.Jobs.EmbedTimeout < time.Second {
		bad("jobs.embed_timeout", "must be at least 1s")
	}
	if c.Jobs.RescueStuckAfter < time.Second {
		bad("jobs.rescue_stuck_after", "must be at least 1s")
	}
	errs = append(errs, c.AI.problems()...)
	for i, ag := range c.AI.Agents {
		for j, tool := range ag.Tools {
			p, ok := ExternalProvider(tool)
			if ok && !slices.ContainsFunc(c.Plugins.Items, func(it plugin.PluginConfig) bool { return it.Name == p && it.Kind == sdk.KindIntegration }) {
				bad(fmt.Sprintf("ai.agents[%d].tools[%d]", i, j), "%q names no integration plugin of plugins.items", tool)
			}
		}
	}
	var pv *plugin.ValidationError
	if err := c.Plugins.WithDefaults().Validate(); errors.As(err, &pv) {
		errs = append(errs, pv.Problems...)
	} else if err != nil {
		errs = append(errs, err.Error())
	}
	sort.Strings(errs)
	return errs
}
