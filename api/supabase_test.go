package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/config"
)

const supabaseSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

// supabaseClaims are shaped like a Supabase Auth access token.
func supabaseClaims(sub, email string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": sub, "email": email, "aud": "authenticated", "role": "authenticated",
		"iss": "https://project.supabase.co/auth/v1", "session_id": uuid.NewString(),
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
}

func TestSupabaseModeSharedSecret(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		c.Auth.Mode = "supabase"
		c.Auth.Supabase.JWTSecret = supabaseSecret
	}})
	sub := uuid.NewString()
	tok := signToken(t, supabaseSecret, jwt.SigningMethodHS256, supabaseClaims(sub, "sb-"+sub[:8]+"@example.com"))

	res := e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+tok)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, sub, res.Map(t)["id"], "the local user takes Supabase's user id")
	require.Equal(t, http.StatusOK, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+tok).Status, "second sight reuses the row")
	var n int
	require.NoError(t, e.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE id = $1`, sub).Scan(&n))
	require.Equal(t, 1, n)

	wrongAud := supabaseClaims(sub, "x@example.com")
	wrongAud["aud"] = "anon"
	requireProblem(t, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+signToken(t, supabaseSecret, jwt.SigningMethodHS256, wrongAud)), http.StatusUnauthorized)
	requireProblem(t, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+signToken(t, apitest.TestSecret, jwt.SigningMethodHS256, supabaseClaims(sub, "x@example.com"))), http.StatusUnauthorized)

	creds := map[string]any{"email": "a@example.com", "password": "long enough pw"}
	for path, body := range map[string]any{
		"/api/auth/register": creds, "/api/auth/login": creds, "/api/auth/refresh": map[string]any{"refresh_token": "x"},
	} {
		p := requireProblem(t, e.Do("POST", path, body), http.StatusForbidden)
		require.Contains(t, p["detail"], "Supabase", path)
	}
}

func TestSupabaseModeJWKS(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwks := map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "kid": "test-key", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}}
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(keys.Close)

	e := apitest.New(t, apitest.Options{Configure: func(c *config.Config) {
		c.Auth.Mode = "supabase"
		c.Auth.Supabase.JWKSURL = keys.URL + "/auth/v1/.well-known/jwks.json"
	}})
	sub := uuid.NewString()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, supabaseClaims(sub, "jwks-"+sub[:8]+"@example.com"))
	tok.Header["kid"] = "test-key"
	signed, err := tok.SignedString(key)
	require.NoError(t, err)
	res := e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+signed)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, sub, res.Map(t)["id"])

	// An HS256 token "signed" with the public modulus must not pass.
	forged := signToken(t, supabaseSecret, jwt.SigningMethodHS256, supabaseClaims(sub, "x@example.com"))
	requireProblem(t, e.Do("GET", "/api/users/me", nil, "Authorization: Bearer "+forged), http.StatusUnauthorized)
}
