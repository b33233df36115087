package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

var validEnv = []string{
	"DATABASE_URL=postgres://localhost/consilium",
	"CONSILIUM_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef",
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "consilium.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadDefaultsAndEnv(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", append(validEnv,
		"CONSILIUM_HTTP_ADDR=0.0.0.0:9000",
		"CONSILIUM_HTTP_CORS_ORIGINS=https://a.example.com, https://b.example.com",
		"CONSILIUM_AUTH_ACCESS_TOKEN_TTL=5m",
		"CONSILIUM_DATABASE_AUTO_MIGRATE=true",
		"CONSILIUM_RATE_LIMIT_PER_USER_BURST=7",
		"CONSILIUM_HTTP_IDLE_TIMEOUT=5s",
		"CONSILIUM_HTTP_MAX_HEADER_BYTES=8192",
	))
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0:9000", cfg.HTTP.Addr)
	require.Equal(t, []string{"https://a.example.com", "https://b.example.com"}, cfg.HTTP.CORSOrigins)
	require.Equal(t, 5*time.Minute, cfg.Auth.AccessTokenTTL)
	require.True(t, cfg.Database.AutoMigrate)
	require.Equal(t, 7, cfg.RateLimit.PerUser.Burst)
	require.Equal(t, 5*time.Second, cfg.HTTP.IdleTimeout)
	require.Equal(t, 8192, cfg.HTTP.MaxHeaderBytes)
	require.Equal(t, int64(1<<20), cfg.HTTP.MaxBodyBytes, "defaults stay")
	require.Equal(t, 30*time.Second, cfg.HTTP.BodyReadTimeout, "defaults stay")
}

func TestFileThenEnvOverride(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "http:\n  addr: 127.0.0.1:7000\nlog:\n  format: json\n")
	cfg, err := config.Load(path, validEnv)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7000", cfg.HTTP.Addr)
	require.Equal(t, "json", cfg.Log.Format)

	cfg, err = config.Load(path, append(validEnv, "CONSILIUM_HTTP_ADDR=127.0.0.1:7001"))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7001", cfg.HTTP.Addr, "environment wins over the file")
}

func TestInvalidConfigNamesTheKey(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		file string
		env  []string
		key  string
	}{
		"missing database url":   {env: []string{"CONSILIUM_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef"}, key: "database.url"},
		"short secret":           {env: []string{"DATABASE_URL=postgres://x/y", "CONSILIUM_AUTH_JWT_SECRET=short"}, key: "auth.jwt_secret"},
		"bad duration from env":  {env: append(validEnv, "CONSILIUM_AUTH_ACCESS_TOKEN_TTL=soon"), key: "auth.access_token_ttl"},
		"bad bool from env":      {env: append(validEnv, "CONSILIUM_DATABASE_AUTO_MIGRATE=maybe"), key: "database.auto_migrate"},
		"bad log format":         {file: "log:\n  format: xml\n", env: validEnv, key: "log.format"},
		"unknown key in file":    {file: "http:\n  adress: x\n", env: validEnv, key: "adress"},
		"negative body limit":    {file: "http:\n  max_body_bytes: -1\n", env: validEnv, key: "http.max_body_bytes"},
		"bad cors origin":        {file: "http:\n  cors_origins: [app.example.com]\n", env: validEnv, key: "http.cors_origins[0]"},
		"bad auth mode":          {env: append(validEnv, "CONSILIUM_AUTH_MODE=ldap"), key: "auth.mode"},
		"supabase without key":   {env: append(validEnv, "CONSILIUM_AUTH_MODE=supabase"), key: "auth.supabase"},
		"rate limit zero":        {file: "rate_limit:\n  per_user:\n    rate: 0\n", env: validEnv, key: "rate_limit.per_user"},
		"bad trusted proxy":      {env: append(validEnv, "CONSILIUM_HTTP_TRUSTED_PROXIES=10.0.0.0/8, proxy.local"), key: "http.trusted_proxies[1]"},
		"no idle timeout":        {env: append(validEnv, "CONSILIUM_HTTP_IDLE_TIMEOUT=0s"), key: "http.idle_timeout"},
		"tiny header limit":      {file: "http:\n  max_header_bytes: 100\n", env: validEnv, key: "http.max_header_bytes"},
		"long reuse interval":    {env: append(validEnv, "CONSILIUM_AUTH_REFRESH_REUSE_INTERVAL=1h"), key: "auth.refresh_reuse_interval"},
		"wrong type in the file": {file: "database:\n  max_conns: many\n", env: validEnv, key: "many"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := config.Load(path, tc.env)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.key)
		})
	}
}

// TestNamesFollowOneRule: agent, provider and plugin names are all checked
// by sdk.ValidName, and a bad one is explained by sdk.NameRule.
func TestNamesFollowOneRule(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `ai:
  chat_provider: Open AI
  agents:
    - {name: planner}
    - {name: My Agent}
    - {name: writer, provider: "-openai"}
plugins:
  items:
    - {name: Bad Name, kind: llm, path: /bin/true}
    - {name: `+strings.Repeat("x", 64)+`, kind: llm, path: /bin/true}
`)
	_, err := config.Load(path, validEnv)
	require.Error(t, err)
	got := err.Error()
	for _, want := range []string{
		`ai.chat_provider: must be the name of an llm plugin under plugins.items (or local), got "Open AI"`,
		`ai.agents[1].name: must be ` + sdk.NameRule + `, got "My Agent"`,
		`ai.agents[2].provider: must be the name of an llm plugin, got "-openai"`,
		`plugins.items[0].name: must be ` + sdk.NameRule + `, got "Bad Name"`,
		`plugins.items[1].name: must be ` + sdk.NameRule,
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "agents[0]", "a valid name is accepted")
}

func TestLoadDatabaseOnly(t *testing.T) {
	t.Parallel()
	cfg, err := config.LoadDatabaseOnly("", []string{"DATABASE_URL=postgres://x/y"})
	require.NoError(t, err, "migrations need no auth secret")
	require.Equal(t, "postgres://x/y", cfg.Database.URL)
	_, err = config.LoadDatabaseOnly("", nil)
	require.ErrorContains(t, err, "database.url")
}

func TestExampleFileDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../consilium.example.yaml")
	require.NoError(t, err)
	for _, key := range config.Keys() {
		last := key[lastDot(key)+1:]
		require.Contains(t, string(raw), last+":", "consilium.example.yaml must document %s", key)
	}
	// The example itself must load (with the secrets it leaves to the environment).
	_, err = config.Load("../../consilium.example.yaml", validEnv)
	require.NoError(t, err)
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// TestAgentToolsAndDelegates: tools must be known names, delegates other
// configured agents, and the chat budgets within their bounds; each
// problem names its key.
func TestAgentToolsAndDelegates(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `ai:
  agents:
    - {name: boss, tools: [search, delete_task, planning_summary], delegates: [helper, boss, ghost, helper]}
    - {name: helper, tools: [create_goal, set_task_status, fly]}
  chat:
    max_model_calls: 0
    max_duration: 1s
`)
	_, err := config.Load(path, validEnv)
	require.Error(t, err)
	got := err.Error()
	for _, want := range []string{
		`ai.agents[0].delegates[1]: an agent cannot delegate to itself`,
		`ai.agents[0].delegates[2]: "ghost" is not an agent of ai.agents`,
		`ai.agents[0].delegates[3]: "helper" is listed twice`,
		`ai.agents[1].tools[2]: unknown tool "fly"`,
		`ai.chat.max_model_calls: must be between 1 and 100, got 0`,
		`ai.chat.max_duration: must be at least 5s`,
	} {
		require.Contains(t, got, want)
	}
	require.NotContains(t, got, "delegates[0]")
	require.NotContains(t, got, "tools[0]")
	require.NotContains(t, got, "tools[1]")
	cfg, err := config.Load("", append(validEnv, "CONSILIUM_AI_CHAT_MAX_REPEATED_CALLS=5"))
	require.NoError(t, err)
	require.Equal(t, 5, cfg.AI.Chat.MaxRepeatedCalls)
	require.Equal(t, 12, cfg.AI.Chat.MaxModelCalls)
}

// Agents may be given outside apps' tools: external (all of them) or
// <provider>:*, the provider an integration plugin item (enabled or not);
// read_only_tools belong to integration items and name tools.
func TestAgentExternalTools(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `plugins:
  items:
    - {name: composio, kind: integration, path: /nonexistent/composio, read_only_tools: [GITHUB_LIST_ISSUES, ""]}
    - {name: openai, kind: llm, path: /nonexistent/openai, read_only_tools: [x]}
ai:
  agents:
    - {name: a, tools: [search, external, "composio:*", "openai:*", "ghost:*", "Bad Name:*"]}
`)
	_, err := config.Load(path, validEnv)
	require.Error(t, err)
	got := err.Error()
	for _, want := range []string{
		`ai.agents[0].tools[3]: "openai:*" names no integration plugin of plugins.items`,
		`ai.agents[0].tools[4]: "ghost:*" names no integration plugin of plugins.items`,
		`ai.agents[0].tools[5]: unknown tool "Bad Name:*"`,
		`plugins.items[0].read_only_tools[1]: must be a tool name`,
		`plugins.items[1].read_only_tools: is only for integration plugins`,
	} {
		require.Contains(t, got, want)
	}
	for _, ok := range []string{"agents[0].tools[0]", "agents[0].tools[1]", "agents[0].tools[2]", "read_only_tools[0]"} {
		require.NotContains(t, got, ok)
	}
}

// A chat turn's time budget ends before its job's timeout cuts it off.
func TestChatDurationBelowTurnTimeout(t *testing.T) {
	c := config.Default()
	c.Database.URL = "postgres://localhost/x"
	c.Auth.JWTSecret = strings.Repeat("s", 32)
	require.Empty(t, c.Problems())
	c.AI.Chat.MaxDuration = c.Jobs.ChatTurnTimeout
	require.Contains(t, strings.Join(c.Problems(), "\n"), "ai.chat.max_duration: must be shorter than jobs.chat_turn_timeout (2m30s)")
}

// TestIntegrationKeys: the master key is required only when an integration
// plugin is enabled, and must be base64 of 32 bytes; public_url, return_url
// and sync_interval are checked.
func TestIntegrationKeys(t *testing.T) {
	cfg, err := config.Load("", validEnv)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080", cfg.HTTP.PublicURL)
	require.Equal(t, 15*time.Minute, cfg.Integrations.SyncInterval)
	require.Equal(t, 7*24*time.Hour, cfg.Integrations.CompletedGrace)

	c := *cfg
	c.Plugins.Items = []plugin.PluginConfig{{Name: "clickup", Kind: "integration", Path: "/bin/sh", Enabled: true}}
	problems := strings.Join(c.Problems(), "\n")
	require.Contains(t, problems, "integrations.master_key: is required when an integration plugin (clickup) is enabled")
	require.Contains(t, problems, "CONSILIUM_INTEGRATIONS_MASTER_KEY")
	c.Plugins.Items[0].Enabled = false
	require.Empty(t, c.Problems())

	c.Integrations.MasterKey = "c2hvcnQ="
	c.HTTP.PublicURL = "ftp://x/"
	c.Integrations.ReturnURL = "/relative"
	c.Integrations.SyncInterval = time.Second
	c.Integrations.CompletedGrace = 0
	problems = strings.Join(c.Problems(), "\n")
	for _, key := range []string{"integrations.master_key: must be base64 of 32 bytes, got 5 bytes", "http.public_url:", "integrations.return_url:", "integrations.sync_interval:", "integrations.completed_grace:"} {
		require.Contains(t, problems, key)
	}

	cfg, err = config.Load("", append(validEnv, "CONSILIUM_INTEGRATIONS_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"CONSILIUM_HTTP_PUBLIC_URL=https://consilium.example.com", "CONSILIUM_INTEGRATIONS_SYNC_INTERVAL=5m",
		"CONSILIUM_INTEGRATIONS_COMPLETED_GRACE=48h"))
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, cfg.Integrations.SyncInterval)
	require.Equal(t, 48*time.Hour, cfg.Integrations.CompletedGrace)
	require.Equal(t, "https://consilium.example.com", cfg.HTTP.PublicURL)
}
