package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/core/plugin"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestPluginsCheckAndInit(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..", "sdk", "examples", "hello")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}

	out, err := runCLI(t, "plugins", "check", bin)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"kind        integration, protocol v1", "name          hello (Hello) 0.1.0",
		"capabilities  tasks.pull, tasks.push, tools", "rate limit    20 per 1s per connection", "ok    sync_pages_and_cursors", "conformant:"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "plugins", "check", "--json", "--sha256", strings.Repeat("0", 64), bin)
	if err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("check with a wrong checksum: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "plugins", "check", "/nonexistent/plugin"); err == nil {
		t.Fatal("check of a missing binary succeeded")
	}

	out, err = runCLI(t, "plugins", "check", "--json", bin)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Passed   bool `json:"passed"`
		Manifest struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || !report.Passed || report.Manifest.Name != "hello" {
		t.Fatalf("json report: %v\n%s", err, out)
	}

	dir := filepath.Join(t.TempDir(), "acme")
	out, err = runCLI(t, "plugins", "init", "acme", "--dir", dir, "--kind", "llm")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil || !strings.Contains(string(main), "sdk.Serve(sdk.ServeConfig{LLM: &acme{}})") {
		t.Fatalf("scaffolded main.go: %v\n%s", err, main)
	}
	if !strings.Contains(out, "go mod edit -replace") {
		t.Fatalf("init did not explain the replace directive:\n%s", out)
	}
}

// TestPluginsListFailsWhenAPluginFailed configures an integration plugin
// that exits before its handshake and a disabled one: the listing is printed
// (table and JSON) and the command answers an error naming only the failed
// plugin, so main exits non-zero.
func TestPluginsListFailsWhenAPluginFailed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'no handshake here' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "consilium.yaml")
	yaml := `database:
  url: postgres://nobody@127.0.0.1:1/none
auth:
  jwt_secret: 0123456789abcdef0123456789abcdef
log:
  level: error
integrations:
  master_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
plugins:
  start_timeout: 20s
  items:
    - {name: broken, kind: integration, path: ` + broken + `, enabled: true}
    - {name: idle, kind: integration, path: ` + broken + `, enabled: false}
`
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, "plugins", "list", "--config", config)
	if err == nil {
		t.Fatalf("plugins list with a failed plugin succeeded:\n%s", out)
	}
	if err.Error() != "plugin broken has failed" {
		t.Errorf("error = %q, want it to name the failed plugin alone", err)
	}
	for _, want := range []string{"NAME", "broken", "failed", "idle", "disabled", "broken: "} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "plugins", "list", "--json", "--config", config)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("plugins list --json: err = %v", err)
	}
	var states []struct {
		Name      string `json:"name"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
	}
	if jerr := json.Unmarshal([]byte(out), &states); jerr != nil {
		t.Fatalf("json listing: %v\n%s", jerr, out)
	}
	if len(states) != 2 || states[0].Name != "broken" || states[0].State != "failed" || states[0].LastError == "" || states[1].State != "disabled" {
		t.Fatalf("json listing: %+v", states)
	}
}

// TestFailedPlugins: only plugins in state failed make the listing fail.
func TestFailedPlugins(t *testing.T) {
	t.Parallel()
	states := func(ss ...plugin.State) []plugin.PluginState {
		out := make([]plugin.PluginState, len(ss))
		for i, s := range ss {
			out[i] = plugin.PluginState{Name: fmt.Sprintf("p%d", i), State: s}
		}
		return out
	}
	tests := map[string]struct {
		states []plugin.PluginState
		want   string
	}{
		"none configured": {nil, ""},
		"all fine":        {states(plugin.StateRunning, plugin.StateDisabled, plugin.StateStopped), ""},
		"one failed":      {states(plugin.StateRunning, plugin.StateFailed), "plugin p1 has failed"},
		"two failed":      {states(plugin.StateFailed, plugin.StateRunning, plugin.StateFailed), "plugins p0, p2 have failed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := failedPlugins(tt.states)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("failedPlugins = %q, want %q", got, tt.want)
			}
		})
	}
}
