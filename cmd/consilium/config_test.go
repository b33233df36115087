package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`
database:
  url: "postgres://consilium:hunter2-db@db.example.com/consilium"
auth:
  jwt_secret: short-and-secret
  supabase:
    jwt_secret: supa-secret-value
http:
  addr: nonsense
plugins:
  items:
    - name: openai
      kind: llm
      path: /nope/openai
      enabled: true
      config: {api_key: sk-live-abc123, base_url: "https://api.openai.com/v1"}
      secret_env: {api_key: OPENAI_API_KEY}
`), 0o600))
	t.Setenv("CONSILIUM_CONFIG", "")
	t.Setenv("CONSILIUM_JOBS_MAX_WORKERS", "many")
	out, err := runCLI(t, "config", "check", "--config", bad)
	require.Error(t, err, "problems exit non-zero")
	require.Contains(t, err.Error(), "4 problem(s)")
	for _, p := range []string{
		`jobs.max_workers (from CONSILIUM_JOBS_MAX_WORKERS): not a whole number: "many"`,
		`auth.jwt_secret: must be at least 32 characters`,
		`http.addr: must be host:port, got "nonsense"`,
		`plugins.items[0].path: file not found: /nope/openai`,
	} {
		require.Contains(t, out, p)
	}
	for _, secret := range []string{"hunter2-db", "short-and-secret", "supa-secret-value", "sk-live-abc123"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "url: postgres://consilium:********@db.example.com/consilium")
	require.Contains(t, out, "api_key: OPENAI_API_KEY", "secret_env names variables, not secrets")
	require.Contains(t, out, "base_url: https://api.openai.com/v1")
	require.Contains(t, out, "memory_kib: 19456", "auth.password holds parameters, not a password")
	require.Contains(t, out, "read_header_timeout: 10s", "durations read as in the file")

	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(`
database:
  url: "host=localhost password='it\\'s secret' dbname=consilium"
auth:
  jwt_secret: 0123456789abcdef0123456789abcdef
`), 0o600))
	t.Setenv("CONSILIUM_JOBS_MAX_WORKERS", "")
	require.NoError(t, os.Unsetenv("CONSILIUM_JOBS_MAX_WORKERS"))
	out, err = runCLI(t, "config", "check", "--config", good)
	require.NoError(t, err, out)
	require.Contains(t, out, "# config check: no problems")
	require.Contains(t, out, "password=******** dbname=consilium")
	require.NotContains(t, out, "0123456789abcdef")
}
