package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// tcpProxy forwards connections to target until Cut, which closes its
// listener and every connection through it: to the API's pool it looks as
// if Postgres went away, without touching the shared server.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, addr, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	p := &tcpProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.Cut)
	return p
}

func (p *tcpProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

func (p *tcpProxy) Cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(dbtest.URL(t))
	require.NoError(t, err)
	postgres := u.Host
	proxy := startProxy(t, "127.0.0.1:0", postgres)
	addr := proxy.ln.Addr().String()
	u.Host = addr
	pool, err := db.Open(context.Background(), u.String(), db.PoolOptions{MaxConns: 4, Vector: true})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := apitest.New(t, apitest.Options{Pool: pool})
	user := e.NewUser()
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, user.Bearer()).Status)

	proxy.Cut() // the pool's open connections break, new ones are refused
	for name, do := range map[string]func() *apitest.Response{
		"authenticated read": func() *apitest.Response { return e.Do("GET", "/api/users/me", nil, user.Bearer()) },
		"write": func() *apitest.Response {
			return e.Do("POST", "/api/notes", map[string]any{"title": "x"}, user.Bearer())
		},
		"login": func() *apitest.Response {
			return e.Do("POST", "/api/auth/login", map[string]any{"email": user.Email, "password": user.Password})
		},
	} {
		t.Run(name, func(t *testing.T) {
			res := do()
			p := requireProblem(t, res, http.StatusServiceUnavailable)
			require.Equal(t, "unavailable", p["code"])
			require.Equal(t, "5", res.Header.Get("Retry-After"))
		})
	}

	// Postgres back (on the same address): the same pool serves again.
	startProxy(t, addr, postgres)
	res := e.Do("GET", "/api/users/me", nil, user.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
}

func TestUnavailableIsOnlyConnectionErrors(t *testing.T) {
	t.Parallel()
	require.Nil(t, db.Unavailable(errors.New("syntax error")))
	require.Nil(t, db.Unavailable(context.Canceled))
	require.Nil(t, db.Unavailable(&pgconn.PgError{Code: "23505"}), "a unique violation is the request's fault")
	require.Nil(t, db.Unavailable(&net.OpError{Op: "dial", Err: errors.New("connection refused")}),
		"a socket error pgconn did not raise is another client's")
	require.NotNil(t, db.Unavailable(fmt.Errorf("save: %w", &pgconn.PgError{Code: "57P01"})), "admin shutdown")
	require.NotNil(t, db.Unavailable(fmt.Errorf("check session: %w", io.ErrUnexpectedEOF)))
	require.NotNil(t, db.Unavailable(fmt.Errorf("query: %w", pgconn.ErrConnClosed)))
}
