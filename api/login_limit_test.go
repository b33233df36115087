package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
)

// loginFrom signs in from a given loopback address: the client address the
// server sees is the connection's real source address (no proxy headers).
func loginFrom(t *testing.T, e *apitest.Env, ip, email, password string, headers ...string) int {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	client := &http.Client{Timeout: 30 * time.Second, Transport: e.Validated(&http.Transport{DialContext: dialer.DialContext})}
	defer client.CloseIdleConnections()
	body, err := json.Marshal(map[string]any{"email": email, "password": password})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", e.Server.URL+"/api/auth/login", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	if res.StatusCode == http.StatusTooManyRequests {
		require.NotEmpty(t, res.Header.Get("Retry-After"))
	}
	return res.StatusCode
}

func loginLimits(c *config.Config) {
	c.RateLimit.Enabled = true
	c.RateLimit.AuthPerIP = config.Limit{Rate: 1000, Per: time.Hour, Burst: 1000}
	c.RateLimit.AuthPerAccountIP = config.Limit{Rate: 3, Per: time.Hour, Burst: 3}
	c.RateLimit.AuthPerAccount = config.Limit{Rate: 5, Per: time.Hour, Burst: 5}
}

// TestOthersCannotLockTheOwnerOut: wrong passwords from other addresses,
// far more than the account's budget, never refuse the owner's correct
// password from an address that has not been failing; the failing
// addresses themselves are refused.
func TestOthersCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: loginLimits})
	u := e.NewUser()

	// 127.0.0.2 spends its own budget (3), then is refused.
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, "127.0.0.2", u.Email, "wrong password"))
	}
	require.Equal(t, http.StatusTooManyRequests, loginFrom(t, e, "127.0.0.2", u.Email, "wrong password"))
	require.Equal(t, http.StatusTooManyRequests, loginFrom(t, e, "127.0.0.2", u.Email, u.Password),
		"a failing address stays limited for this account, right password or not")

	// More addresses spend the account's budget (5); once it is spent, an
	// address that has failed gets no second try.
	require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, "127.0.0.3", u.Email, "wrong password"))
	require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, "127.0.0.3", u.Email, "wrong password"))
	require.Equal(t, http.StatusTooManyRequests, loginFrom(t, e, "127.0.0.3", u.Email, "wrong password"))
	for i := 4; i < 10; i++ {
		ip := fmt.Sprintf("127.0.0.%d", i)
		require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, ip, u.Email, "wrong password"), ip)
		require.Equal(t, http.StatusTooManyRequests, loginFrom(t, e, ip, u.Email, "wrong password"), ip)
	}

	// The owner, from a clean address, is let in.
	require.Equal(t, http.StatusOK, loginFrom(t, e, "127.0.0.1", u.Email, u.Password))
	require.Equal(t, http.StatusOK, loginFrom(t, e, "127.0.0.50", u.Email, u.Password))
	// The limits are per account: another account from a failing address works.
	other := e.NewUser()
	require.Equal(t, http.StatusOK, loginFrom(t, e, "127.0.0.2", other.Email, other.Password))
}

// TestForwardedForIsNotAFreshAddress: behind a proxy, the client address
// is the entry the proxy appended; entries a client writes itself do not
// make it a new, unlimited address.
func TestForwardedForIsNotAFreshAddress(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		loginLimits(c)
		c.HTTP.TrustProxyHeaders = true
	}})
	u := e.NewUser()
	for i := range 3 {
		spoofed := fmt.Sprintf("203.0.113.%d, 198.51.100.7", i)
		require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, "127.0.0.1", u.Email, "wrong password", "X-Forwarded-For", spoofed))
	}
	require.Equal(t, http.StatusTooManyRequests,
		loginFrom(t, e, "127.0.0.1", u.Email, "wrong password", "X-Forwarded-For", "203.0.113.99, 198.51.100.7"))
	require.Equal(t, http.StatusOK,
		loginFrom(t, e, "127.0.0.1", u.Email, u.Password, "X-Forwarded-For", "192.0.2.1"),
		"another client behind the same proxy is not refused")
}

// TestForwardedForOnlyFromTrustedProxies: with http.trusted_proxies set, a
// peer that is not one of them is its own client address whatever its
// headers say; a trusted proxy's own entries are skipped.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		loginLimits(c)
		c.HTTP.TrustProxyHeaders = true
		c.HTTP.TrustedProxies = []string{"127.0.0.2", "10.0.0.0/8"}
		c.RateLimit.AuthPerAccount = config.Limit{Rate: 100, Per: time.Hour, Burst: 100} // only per address here
	}})
	u := e.NewUser()
	for i := range 3 {
		require.Equal(t, http.StatusUnauthorized,
			loginFrom(t, e, "127.0.0.3", u.Email, "wrong password", "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)))
	}
	require.Equal(t, http.StatusTooManyRequests,
		loginFrom(t, e, "127.0.0.3", u.Email, u.Password, "X-Forwarded-For", "192.0.2.200"),
		"127.0.0.3 is no proxy: its X-Forwarded-For is ignored, and it has spent its failures")

	// Through the trusted proxy 127.0.0.2 and a second one at 10.1.2.3.
	for range 3 {
		require.Equal(t, http.StatusUnauthorized,
			loginFrom(t, e, "127.0.0.2", u.Email, "wrong password", "X-Forwarded-For", "1.1.1.1, 198.51.100.9, 10.1.2.3"))
	}
	require.Equal(t, http.StatusTooManyRequests,
		loginFrom(t, e, "127.0.0.2", u.Email, "wrong password", "X-Forwarded-For", "2.2.2.2, 198.51.100.9, 10.1.2.3"),
		"the client is 198.51.100.9 whatever it prepends")
	require.Equal(t, http.StatusOK,
		loginFrom(t, e, "127.0.0.2", u.Email, u.Password, "X-Forwarded-For", "198.51.100.10, 10.1.2.3"),
		"another client behind the same proxies is not refused")
}
