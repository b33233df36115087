package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// TestFullPoolAnswers503: while long transactions hold every connection of
// the API's pool, requests (a read, a write, a login) answer 503
// `unavailable` with Retry-After once database.acquire_timeout has passed,
// never a 500 and never a wait without end, and the write changes nothing;
// the moment the transactions end, the same requests succeed. The seconds
// each refusal took and the seconds from the release to the first 2xx are
// logged.
func TestFullPoolAnswers503(t *testing.T) {
	t.Parallel()
	const maxConns, acquire = 4, 2 * time.Second
	pool, err := db.Open(context.Background(), dbtest.URL(t), db.PoolOptions{MaxConns: maxConns, AcquireTimeout: acquire, Vector: true})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e := apitest.New(t, apitest.Options{Pool: pool})
	// A hang would show as the client's timeout, far above the acquire one.
	e.Client.Timeout = 2 * time.Minute
	user := e.NewUser()
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, user.Bearer()).Status)

	// Long transactions take every connection (those started while the
	// pool is full wait their turn and hold theirs too).
	holdCtx, cancelHold := context.WithCancel(context.Background())
	var held sync.WaitGroup
	done := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { cancelHold(); close(done) }) }
	for range maxConns {
		held.Add(1)
		go func() {
			defer held.Done()
			tx, err := pool.BeginTx(holdCtx, pgx.TxOptions{})
			if err != nil {
				return // released before it got one
			}
			defer func() { _ = tx.Rollback(context.Background()) }()
			<-done
		}()
	}
	t.Cleanup(func() { release(); held.Wait() })
	deadline := time.Now().Add(2 * time.Minute)
	for pool.Stat().AcquiredConns() < maxConns {
		require.False(t, time.Now().After(deadline), "the transactions did not take the pool within 2 minutes: %d of %d",
			pool.Stat().AcquiredConns(), maxConns)
		time.Sleep(10 * time.Millisecond)
	}

	notes := func() int {
		var n int
		require.NoError(t, dbtest.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM notes WHERE user_id = $1 AND title = 'written while full'`,
			user.ID).Scan(&n))
		return n
	}
	for name, do := range map[string]func() *apitest.Response{
		"authenticated read": func() *apitest.Response { return e.Do("GET", "/api/users/me", nil, user.Bearer()) },
		"write": func() *apitest.Response {
			return e.Do("POST", "/api/notes", map[string]any{"title": "written while full"}, user.Bearer())
		},
		"login": func() *apitest.Response {
			return e.Do("POST", "/api/auth/login", map[string]any{"email": user.Email, "password": user.Password})
		},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			res := do()
			t.Logf("%s refused after %.2f s (acquire timeout %s)", name, time.Since(start).Seconds(), acquire)
			p := requireProblem(t, res, http.StatusServiceUnavailable)
			require.Equal(t, "unavailable", p["code"])
			require.Contains(t, p["detail"], "busy")
			require.Equal(t, "1", res.Header.Get("Retry-After"))
		})
	}
	require.Zero(t, notes(), "the refused write wrote nothing")
	require.Equal(t, int32(maxConns), pool.Stat().AcquiredConns(), "the transactions still hold the pool")

	// Released: the API answers at once.
	release()
	released := time.Now()
	res := e.Do("GET", "/api/users/me", nil, user.Bearer())
	t.Logf("recovery: %.3f s from the release to the first 2xx", time.Since(released).Seconds())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = e.Do("POST", "/api/notes", map[string]any{"title": "written while full"}, user.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	require.Equal(t, 1, notes())
	held.Wait()
}
