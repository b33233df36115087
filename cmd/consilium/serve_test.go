package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the consilium of the processes that the
	// multi-process tests start (see startProcess).
	if args := os.Getenv(subprocessEnv); args != "" {
		os.Exit(runSubprocess(args))
	}
	dbtest.Main(m)
}

// syncBuffer is written by the server goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func setServeEnv(t *testing.T, url string) {
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CONSILIUM_AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef")
	t.Setenv("CONSILIUM_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("CONSILIUM_LOG_LEVEL", "warn")
	t.Setenv("CONSILIUM_CONFIG", "")
}

func TestServeRefusesAnUnmigratedDatabase(t *testing.T) {
	setServeEnv(t, dbtest.EmptyDatabase(t))
	t.Setenv("CONSILIUM_DATABASE_AUTO_MIGRATE", "false")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve"})
	cmd.SetOut(io.Discard)
	err := cmd.Execute()
	require.Error(t, err)
	require.Contains(t, err.Error(), "consilium migrate up")
}

func TestInvalidConfigStopsStart(t *testing.T) {
	setServeEnv(t, "postgres://127.0.0.1:1/x")
	t.Setenv("CONSILIUM_HTTP_MAX_BODY_BYTES", "lots")
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve"})
	err := cmd.Execute()
	require.ErrorContains(t, err, "http.max_body_bytes")
}

// TestServeMigratesServesAndShutsDownGracefully runs the real serve command
// with auto-migration and workers on an empty database, makes requests,
// then cancels it as SIGTERM would.
func TestServeMigratesServesAndShutsDownGracefully(t *testing.T) {
	setServeEnv(t, dbtest.EmptyDatabase(t))
	t.Setenv("CONSILIUM_DATABASE_AUTO_MIGRATE", "true")
	t.Setenv("CONSILIUM_HTTP_MAX_HEADER_BYTES", "4096")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"serve", "--with-worker"})
	cmd.SetOut(out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`Consilium API  (http://\S+)/api`)
	var base string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 30*time.Second, 20*time.Millisecond, "serve never printed its URL")
	require.Contains(t, out.String(), "/api/docs")

	res, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, err = http.Post(base+"/api/auth/register", "application/json",
		bytes.NewBufferString(`{"email":"serve@example.com","password":"long enough pw"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)

	// consilium openapi prints the document serve answers.
	res, err = http.Get(base + "/api/openapi.json")
	require.NoError(t, err)
	served, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	printed, err := runCLI(t, "openapi")
	require.NoError(t, err)
	require.JSONEq(t, string(served), printed)

	// The http section reaches the server: headers over the limit answer 431, as problem+json.
	req, err := http.NewRequest("GET", base+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of the signal")
	}
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "the listener is closed after shutdown")
}
