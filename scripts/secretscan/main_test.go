package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func secretLine(kind, v string) string {
	return kind + "\t" + base64.StdEncoding.EncodeToString([]byte(v)) + "\n"
}

// The scanner's self-test: a planted secret is caught (as written and as
// JSON escapes it) and named by kind and file, never printed; a clean
// folder passes; a folder with no secrets or no log lines fails.
func TestScan(t *testing.T) {
	const pw, tok = "password-3f9a1c", "eyJhbGciOi.secret<token>&x"
	t.Run("a planted secret is caught", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "secrets-1.tsv", secretLine("password", pw)+secretLine("access_token", tok))
		write(t, dir, "api-1.log", `{"msg":"login","email":"a@example.com"}`+"\n"+`{"msg":"oops","body":"`+pw+`"}`+"\n")
		write(t, dir, "plugin-2.log", `{"msg":"call","auth":"Bearer eyJhbGciOi.secret\u003ctoken\u003e\u0026x"}`+"\n")
		r, err := scan(dir)
		if err != nil {
			t.Fatal(err)
		}
		if r.ok() || len(r.findings) != 2 {
			t.Fatalf("want 2 findings, got %+v", r)
		}
		if f := r.findings[0]; f.kind != "password" || f.file != "api-1.log" || f.n != 1 {
			t.Fatalf("finding %+v", f)
		}
		if f := r.findings[1]; f.kind != "access_token" || f.file != "plugin-2.log" {
			t.Fatalf("finding %+v (the JSON-escaped form)", f)
		}
		rep := r.report()
		if strings.Contains(rep, pw) || strings.Contains(rep, "secret<token>") || !strings.Contains(rep, "kind password is in api-1.log") {
			t.Fatalf("report: %s", rep)
		}
	})
	t.Run("a clean folder passes", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "secrets-1.tsv", secretLine("password", pw)+secretLine("short", "abc"))
		write(t, dir, "api-1.log", `{"msg":"login","user":"abc"}`+"\n")
		r, err := scan(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ok() || r.secrets != 1 || r.lines != 1 {
			t.Fatalf("want ok with 1 secret and 1 line, got %+v", r)
		}
	})
	t.Run("nothing collected fails", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "api-1.log", "a line\n")
		if r, _ := scan(dir); r.ok() {
			t.Fatalf("no secrets passed: %+v", r)
		}
		dir = t.TempDir()
		write(t, dir, "secrets-1.tsv", secretLine("password", pw))
		write(t, dir, "api-1.log", "")
		if r, _ := scan(dir); r.ok() || !strings.Contains(r.report(), "no log line") {
			t.Fatalf("no log lines passed: %+v", r)
		}
	})
}
