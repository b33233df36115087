// Package testsecrets lets the test suite prove that no secret it issues
// reaches a log. When CONSILIUM_SECRETS_LOG names a folder (scripts/test.sh
// sets it), tests register every secret they issue or are issued
// (passwords, access and refresh tokens, socket and River UI tickets,
// integration tokens, master keys) with Register, and the loggers of the
// servers and processes they start write there (Logger, at debug level);
// after go test, scripts/secretscan fails when any registered secret is
// in any log. Without the variable Register does nothing and Logger
// discards, as the tests did before.
//
// The secrets file holds each value base64-encoded, so that the folder's
// own files never contain one as written.
package testsecrets

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Env is the variable naming the folder.
const Env = "CONSILIUM_SECRETS_LOG"

// MinLength is the shortest value registered: shorter ones would match
// log text by chance.
const MinLength = 8

var (
	mu      sync.Mutex
	secrets *os.File
	logs    = map[string]*slog.Logger{}
	files   = map[string]*os.File{}
)

// Dir is the folder, "" when the check is off.
func Dir() string { return os.Getenv(Env) }

// Register records a secret of the given kind (a word such as password or
// access_token, named in the failure). Values shorter than MinLength are
// skipped.
func Register(kind, value string) {
	dir := Dir()
	if dir == "" || len(value) < MinLength {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if secrets == nil {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("secrets-%d.tsv", os.Getpid())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			panic("testsecrets: " + err.Error())
		}
		secrets = f
	}
	kind = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return '_'
		}
		return r
	}, kind)
	if _, err := fmt.Fprintf(secrets, "%s\t%s\n", kind, base64.StdEncoding.EncodeToString([]byte(value))); err != nil {
		panic("testsecrets: " + err.Error())
	}
}

// Logger is a logger for a test server or process called name: JSON at
// debug level into <name>-<pid>.log in the folder, or a discarding logger
// when the check is off. Loggers of one name share a file.
func Logger(name string) *slog.Logger {
	dir := Dir()
	if dir == "" {
		return slog.New(slog.DiscardHandler)
	}
	mu.Lock()
	defer mu.Unlock()
	if l := logs[name]; l != nil {
		return l
	}
	l := slog.New(slog.NewJSONHandler(writer(dir, name), &slog.HandlerOptions{Level: slog.LevelDebug}))
	logs[name] = l
	return l
}

// Writer is a log file called name in the folder (io.Discard when the
// check is off), for logs that are not slog's (a plugin's stderr, hclog).
func Writer(name string) io.Writer {
	dir := Dir()
	if dir == "" {
		return io.Discard
	}
	mu.Lock()
	defer mu.Unlock()
	return writer(dir, name)
}

func writer(dir, name string) io.Writer {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == ' ' {
			return '_'
		}
		return r
	}, name)
	if f := files[name]; f != nil {
		return f
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, os.Getpid())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		panic("testsecrets: " + err.Error())
	}
	files[name] = f
	return f
}

// RegisterEnv registers the values of the environment variables named
// (a plugin item's secret_env), those that are set.
func RegisterEnv(kind string, names map[string]string) {
	for key, env := range names {
		Register(kind+"_"+key, os.Getenv(env))
	}
}
