package plugin

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigFromYAML(t *testing.T) {
	t.Parallel()
	src := `
call_timeout: 10s
max_concurrency: 4
items:
  - name: gmail
    kind: integration
    path: /opt/consilium/plugins/gmail
    sha256: 3b1f0000000000000000000000000000000000000000000000000000000000aa
    enabled: true
    config:
      page_size: 50
      labels: INBOX
    secret_env:
      client_secret: GMAIL_CLIENT_SECRET
`
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c = c.WithDefaults()
	if c.CallTimeout != 10*time.Second || c.MaxConcurrency != 4 || c.StreamTimeout != Defaults().StreamTimeout || c.GoMaxProcs != 1 {
		t.Fatalf("host settings: %+v", c)
	}
	p := c.Items[0]
	if p.Name != "gmail" || p.Kind != "integration" || !p.Enabled || p.Config["page_size"] != "50" || p.SecretEnv["client_secret"] != "GMAIL_CLIENT_SECRET" {
		t.Fatalf("item: %+v", p)
	}
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "plugin")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExe := filepath.Join(dir, "data")
	if err := os.WriteFile(notExe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := PluginConfig{Name: "ok", Kind: "llm", Path: exe, Enabled: true}
	tests := map[string]struct {
		edit func(c *Config)
		want string
	}{
		"valid":             {edit: func(c *Config) {}},
		"missing file":      {edit: func(c *Config) { c.Items[0].Path = filepath.Join(dir, "nope") }, want: "plugins.items[0].path: file not found"},
		"disabled, missing": {edit: func(c *Config) { c.Items[0].Path = "/nope"; c.Items[0].Enabled = false }},
		"not executable":    {edit: func(c *Config) { c.Items[0].Path = notExe }, want: "plugins.items[0].path: is not executable"},
		"directory":         {edit: func(c *Config) { c.Items[0].Path = dir }, want: "plugins.items[0].path: is a directory"},
		"no path":           {edit: func(c *Config) { c.Items[0].Path = "" }, want: "plugins.items[0].path: is required"},
		"bad kind":          {edit: func(c *Config) { c.Items[0].Kind = "storage" }, want: "plugins.items[0].kind"},
		"bad name":          {edit: func(c *Config) { c.Items[0].Name = "My Plugin" }, want: "plugins.items[0].name"},
		"duplicate": {edit: func(c *Config) { c.Items = append(c.Items, c.Items[0]) },
			want: `plugins.items[1].name: "ok" is already used by items[0]`},
		"bad sha":        {edit: func(c *Config) { c.Items[0].SHA256 = "xyz" }, want: "plugins.items[0].sha256"},
		"bad env name":   {edit: func(c *Config) { c.Items[0].SecretEnv = map[string]string{"key": "NOT-A-VAR"} }, want: "plugins.items[0].secret_env.key"},
		"bad backoff":    {edit: func(c *Config) { c.RestartBackoffMax = time.Millisecond }, want: "plugins.restart_backoff_max"},
		"no concurrency": {edit: func(c *Config) { c.MaxConcurrency = -1 }, want: "plugins.max_concurrency"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := Config{Items: []PluginConfig{ok}}.WithDefaults()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
		})
	}
}
