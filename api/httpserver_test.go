package api_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
)

// rawConn opens a plain TCP connection to the test server, with a deadline
// far past every timeout under test so a server that never closes fails
// the test instead of hanging it.
func rawConn(t *testing.T, e *apitest.Env) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.Server.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	return c
}

// requireClosedByServer reads until the server closes the connection: EOF,
// not the test's own deadline.
func requireClosedByServer(t *testing.T, r io.Reader) {
	t.Helper()
	_, err := io.ReadAll(r)
	require.NoError(t, err, "the server must close the connection (a timeout here means it kept it open)")
}

func TestServerClosesIdleAndSlowConnections(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		c.HTTP.IdleTimeout = 300 * time.Millisecond
		c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	}})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		c := rawConn(t, e)
		_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Empty(t, res.Header.Get("Connection"), "the connection is kept alive after the response")
		requireClosedByServer(t, br)
	})

	t.Run("headers sent slowly", func(t *testing.T) {
		c := rawConn(t, e)
		_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: 1\r\n")
		require.NoError(t, err) // ... and the final CRLF never comes
		requireClosedByServer(t, c)
	})
}

func TestOversizedHeadersAnswerProblem(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) { c.HTTP.MaxHeaderBytes = 4096 }})
	require.Equal(t, http.StatusOK, e.Do("GET", "/healthz", nil, "X-Fits: "+strings.Repeat("a", 2000)).Status)

	res := e.Do("GET", "/healthz", nil, "X-Big: "+strings.Repeat("a", 16<<10))
	p := requireProblem(t, res, http.StatusRequestHeaderFieldsTooLarge)
	require.Equal(t, "too_large", p["code"])
	require.Contains(t, p["detail"], "http.max_header_bytes")
}

func TestMalformedRequestAnswersProblem(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	c := rawConn(t, e)
	_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header Name: x\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	require.EqualValues(t, 400, p["status"])
	require.Equal(t, "bad_request", p["code"])
}

// sendPartialBody sends a request announcing a 100-byte body, sends 10 of
// them and returns the response the server gives while it waits.
func sendPartialBody(t *testing.T, e *apitest.Env, method, path string, headers ...string) *http.Response {
	t.Helper()
	c := rawConn(t, e)
	req := method + " " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	_, err := io.WriteString(c, req+"\r\n"+`{"email":"`)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server never answered a body that stopped arriving")
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestSlowBodyAnswers408(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) { c.HTTP.BodyReadTimeout = 300 * time.Millisecond }})
	u := e.NewUser()
	for name, tc := range map[string]struct {
		method, path string
		headers      []string
	}{
		"json body":     {"POST", "/api/auth/login", nil},
		"note document": {"PUT", "/api/notes/" + uuid.NewString(), []string{u.Bearer()}},
	} {
		t.Run(name, func(t *testing.T) {
			res := sendPartialBody(t, e, tc.method, tc.path, tc.headers...)
			require.Equal(t, http.StatusRequestTimeout, res.StatusCode)
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			var p map[string]any
			require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
			require.EqualValues(t, 408, p["status"])
			require.Equal(t, "request_timeout", p["code"])
		})
	}
}
