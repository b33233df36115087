package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadyzURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":8080":          "http://127.0.0.1:8080/readyz",
		"[::]:8080":      "http://[::1]:8080/readyz",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/readyz",
		"127.0.0.1:8080": "http://127.0.0.1:8080/readyz",
	} {
		got, err := readyzURL(addr)
		require.NoError(t, err, addr)
		require.Equal(t, want, got, addr)
	}
	_, err := readyzURL("8080")
	require.ErrorContains(t, err, "http.addr")
}

// The healthcheck asks the address the config listens on, and fails on
// anything but 2xx.
func TestHealthcheck(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Setenv("CONSILIUM_CONFIG", "")
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none") // not the dev cluster; never dialled
	t.Setenv("CONSILIUM_HTTP_ADDR", "0.0.0.0:"+port)

	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(append([]string{"healthcheck"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	_, err = run()
	require.ErrorContains(t, err, "503")

	status = http.StatusOK
	out, err := run()
	require.NoError(t, err)
	require.Contains(t, out, "http://127.0.0.1:"+port+"/readyz: 200 OK")

	_, err = run("--url", srv.URL+"/elsewhere")
	require.ErrorContains(t, err, "404")
}
