package api_test

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
)

func requireProblem(t *testing.T, res *apitest.Response, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, res.Status, "body: %s", res.Body)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), "body: %s", res.Body)
	p := res.Map(t)
	require.EqualValues(t, status, p["status"])
	require.NotEmpty(t, p["title"])
	require.NotEmpty(t, p["detail"])
	return p
}

// requireNamesField checks that one of a problem's errors names the field,
// by its location ("body.email") or, for a missing property, in its message.
func requireNamesField(t *testing.T, p map[string]any, location string) {
	t.Helper()
	errs, _ := p["errors"].([]any)
	parent, field := location[:strings.LastIndex(location, ".")], location[strings.LastIndex(location, ".")+1:]
	for _, e := range errs {
		m, _ := e.(map[string]any)
		loc, _ := m["location"].(string)
		msg, _ := m["message"].(string)
		if loc == location || (loc == parent && strings.Contains(msg, field)) {
			return
		}
	}
	t.Fatalf("no error names %s: %v", location, errs)
}

func TestRegister(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})

	t.Run("created with tokens and user", func(t *testing.T) {
		res := e.Do("POST", "/api/auth/register", map[string]any{
			"email": "  Grace.Hopper@Example.com ", "password": "long enough pw", "full_name": "Grace Hopper"})
		require.Equal(t, http.StatusCreated, res.Status, res.String())
		body := res.Map(t)
		require.Equal(t, "bearer", body["token_type"])
		require.EqualValues(t, 900, body["expires_in"])
		require.NotEmpty(t, body["access_token"])
		require.NotEmpty(t, body["refresh_token"])
		user := body["user"].(map[string]any)
		require.Equal(t, "Grace.Hopper@Example.com", user["email"], "email is trimmed")
		require.Equal(t, "Grace Hopper", user["full_name"])
		require.Equal(t, true, user["is_active"])
		require.Equal(t, false, user["is_superuser"])
		require.NotContains(t, string(res.Body), "argon2", "the password hash never leaves the server")
		require.NotContains(t, string(res.Body), "password")
	})

	t.Run("duplicate email differing in case is a conflict", func(t *testing.T) {
		res := e.Do("POST", "/api/auth/register", map[string]any{"email": "grace.hopper@EXAMPLE.com", "password": "another password"})
		p := requireProblem(t, res, http.StatusConflict)
		require.Equal(t, "conflict", p["code"])
	})

	cases := map[string]struct {
		body     any
		status   int
		location string
	}{
		"short password":  {map[string]any{"email": "a@example.com", "password": "short"}, 422, "body.password"},
		"malformed email": {map[string]any{"email": "not-an-email", "password": "long enough pw"}, 422, "body.email"},
		"missing email":   {map[string]any{"password": "long enough pw"}, 422, "body.email"},
		"wrong type":      {map[string]any{"email": 42, "password": "long enough pw"}, 422, "body.email"},
		"not json":        {"{not json", 400, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := e.Do("POST", "/api/auth/register", tc.body)
			p := requireProblem(t, res, tc.status)
			if tc.location != "" {
				requireNamesField(t, p, tc.location)
			}
		})
	}

	t.Run("bad input creates nothing", func(t *testing.T) {
		var n int
		require.NoError(t, e.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE email IN ('a@example.com', 'not-an-email')`).Scan(&n))
		require.Zero(t, n)
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()

	res := e.Do("POST", "/api/auth/login", map[string]any{"email": strings.ToUpper(u.Email), "password": u.Password})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.NotEmpty(t, res.Map(t)["access_token"])

	wrong := e.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": "wrong password"})
	unknown := e.Do("POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
	pw := requireProblem(t, wrong, http.StatusUnauthorized)
	pu := requireProblem(t, unknown, http.StatusUnauthorized)
	require.Equal(t, pw["detail"], pu["detail"], "unknown email and wrong password must look the same")
	require.Equal(t, pw["code"], pu["code"])
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	// With no reuse interval every replay is reuse (the interval is tested
	// in TestRefreshReplayWithinReuseInterval).
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) { c.Auth.RefreshReuseInterval = 0 }})
	u := e.NewUser()

	first := e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": u.RefreshToken})
	require.Equal(t, http.StatusOK, first.Status, first.String())
	pair := first.Map(t)
	newRefresh := pair["refresh_token"].(string)
	newAccess := pair["access_token"].(string)
	require.NotEqual(t, u.RefreshToken, newRefresh, "refresh tokens rotate")
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+newAccess).Status)

	// Replaying the rotated token revokes the whole session.
	requireProblem(t, e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": u.RefreshToken}), http.StatusUnauthorized)
	requireProblem(t, e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": newRefresh}), http.StatusUnauthorized)
	requireProblem(t, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+newAccess), http.StatusUnauthorized)
	requireProblem(t, e.Do("GET", "/api/users/me", nil, u.Bearer()), http.StatusUnauthorized)

	// Another login of the same user is a separate session and still works.
	login := e.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": u.Password})
	require.Equal(t, http.StatusOK, login.Status)
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+login.Map(t)["access_token"].(string)).Status)

	requireProblem(t, e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": "made-up"}), http.StatusUnauthorized)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, u.Bearer()).Status)

	res := e.Do("POST", "/api/auth/logout", map[string]any{"refresh_token": u.RefreshToken}, u.Bearer())
	require.Equal(t, http.StatusNoContent, res.Status, res.String())

	p := requireProblem(t, e.Do("GET", "/api/users/me", nil, u.Bearer()), http.StatusUnauthorized)
	require.Equal(t, "unauthorized", p["code"])
	requireProblem(t, e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": u.RefreshToken}), http.StatusUnauthorized)
	requireProblem(t, e.Do("POST", "/api/auth/logout", map[string]any{}, u.Bearer()), http.StatusUnauthorized)
}

func signToken(t *testing.T, secret string, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	require.NoError(t, err)
	return tok
}

func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()

	// Read the real session id out of the user's token to forge variants.
	var claims jwt.MapClaims
	_, _, err := jwt.NewParser().ParseUnverified(u.AccessToken, &claims)
	require.NoError(t, err)
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": claims["sub"], "sid": claims["sid"], "iss": "consilium", "aud": "consilium",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	good := signToken(t, apitest.TestSecret, jwt.SigningMethodHS256, base())
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+good).Status,
		"a correctly forged token proves the variants below fail for their one difference")

	expired := base()
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	wrongAud := base()
	wrongAud["aud"] = "someone-else"
	noExp := base()
	delete(noExp, "exp")
	parts := strings.Split(u.AccessToken, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]

	cases := map[string]string{
		"missing":         "",
		"garbage":         "Bearer not.a.jwt",
		"expired":         "Bearer " + signToken(t, apitest.TestSecret, jwt.SigningMethodHS256, expired),
		"wrong audience":  "Bearer " + signToken(t, apitest.TestSecret, jwt.SigningMethodHS256, wrongAud),
		"no expiry":       "Bearer " + signToken(t, apitest.TestSecret, jwt.SigningMethodHS256, noExp),
		"wrong secret":    "Bearer " + signToken(t, "another-secret-another-secret-another", jwt.SigningMethodHS256, base()),
		"other algorithm": "Bearer " + signToken(t, apitest.TestSecret, jwt.SigningMethodHS512, base()),
		"tampered":        "Bearer " + tampered,
		"alg none":        "Bearer " + mustNone(t, base()),
	}
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			var res *apitest.Response
			if header == "" {
				res = e.Do("GET", "/api/users/me", nil)
			} else {
				res = e.Do("GET", "/api/users/me", nil, "Authorization: "+header)
			}
			requireProblem(t, res, http.StatusUnauthorized)
			require.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
		})
	}
}

func mustNone(t *testing.T, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return tok
}

func TestInactiveUserRefused(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	_, err := e.DB.Pool.Exec(t.Context(), `UPDATE users SET is_active = false WHERE id = $1`, u.ID)
	require.NoError(t, err)
	requireProblem(t, e.Do("GET", "/api/users/me", nil, u.Bearer()), http.StatusForbidden)
	requireProblem(t, e.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": u.Password}), http.StatusForbidden)
	requireProblem(t, e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": u.RefreshToken}), http.StatusForbidden)
}

// TestConcurrentRefreshOfOneToken: two clients racing with the same refresh
// token (two tabs) both get the same new pair, and the session lives on.
func TestConcurrentRefreshOfOneToken(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	results := make(chan *apitest.Response, 2)
	for range 2 {
		go func() {
			results <- e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": u.RefreshToken})
		}()
	}
	a, b := <-results, <-results
	require.Equal(t, http.StatusOK, a.Status, a.String())
	require.Equal(t, http.StatusOK, b.Status, b.String())
	ta, tb := a.Map(t), b.Map(t)
	require.Equal(t, ta["refresh_token"], tb["refresh_token"], "both get the same successor")
	require.NotEqual(t, u.RefreshToken, ta["refresh_token"])
	for _, access := range []any{ta["access_token"], tb["access_token"]} {
		require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+access.(string)).Status)
	}
	next := e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": ta["refresh_token"]})
	require.Equal(t, http.StatusOK, next.Status, "the successor rotates as usual: %s", next)
}

// TestRefreshReplayWithinReuseInterval: a replay of the token just rotated
// gets the same successor; once the interval has passed, a replay revokes
// the session as reuse.
func TestRefreshReplayWithinReuseInterval(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	refresh := func(token string) *apitest.Response {
		return e.Do("POST", "/api/auth/refresh", map[string]any{"refresh_token": token})
	}
	first := refresh(u.RefreshToken)
	require.Equal(t, http.StatusOK, first.Status, first.String())
	successor := first.Map(t)["refresh_token"].(string)

	replay := refresh(u.RefreshToken)
	require.Equal(t, http.StatusOK, replay.Status, replay.String())
	require.Equal(t, successor, replay.Map(t)["refresh_token"])
	access := replay.Map(t)["access_token"].(string)
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+access).Status)

	// The rotation happened longer ago than the interval (10s by default).
	hash := sha256.Sum256([]byte(u.RefreshToken))
	tag, err := e.DB.Pool.Exec(t.Context(), `UPDATE auth_refresh_tokens SET used_at = used_at - interval '11 seconds' WHERE token_hash = $1`, hash[:])
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	requireProblem(t, refresh(u.RefreshToken), http.StatusUnauthorized)
	requireProblem(t, refresh(successor), http.StatusUnauthorized)
	requireProblem(t, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+access), http.StatusUnauthorized)
}

func TestRejectedPasswordIsNotEchoed(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	res := e.Do("POST", "/api/auth/register", map[string]any{"email": "echo@example.com", "password": "s3cr"})
	requireProblem(t, res, http.StatusUnprocessableEntity)
	require.NotContains(t, string(res.Body), "s3cr")
}

// TestErrorsNeverEchoSecrets: a 422 that shows the offending value (an
// unexpected property shows the whole object) never shows a secret in it.
func TestErrorsNeverEchoSecrets(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	for name, tc := range map[string]struct {
		path, secret string
		body         map[string]any
	}{
		"register with an extra field": {"/api/auth/register", "hunter2-register-secret",
			map[string]any{"email": "extra@example.com", "password": "hunter2-register-secret", "extra": 1}},
		"login with an extra field": {"/api/auth/login", "hunter2-login-secret",
			map[string]any{"email": u.Email, "password": "hunter2-login-secret", "nested": map[string]any{"api_key": "k"}}},
		"refresh with an extra field": {"/api/auth/refresh", u.RefreshToken,
			map[string]any{"refresh_token": u.RefreshToken, "extra": true}},
	} {
		t.Run(name, func(t *testing.T) {
			res := e.Do("POST", tc.path, tc.body)
			p := requireProblem(t, res, http.StatusUnprocessableEntity)
			require.NotContains(t, string(res.Body), tc.secret)
			require.Contains(t, string(res.Body), "[redacted]", "the value is shown with the secret left out: %v", p["errors"])
		})
	}
	res := e.Do("POST", "/api/auth/login", map[string]any{"email": u.Email, "password": "p", "nested": map[string]any{"api_key": "key-value-42"}})
	require.NotContains(t, string(res.Body), "key-value-42", "secrets nested deeper are left out too")
}
