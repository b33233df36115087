package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
