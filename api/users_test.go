package api_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestCurrentUser(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	other := e.NewUser()

	me := e.Do("GET", "/api/users/me", nil, u.Bearer())
	require.Equal(t, http.StatusOK, me.Status, me.String())
	body := me.Map(t)
	for _, k := range []string{"id", "email", "full_name", "is_active", "is_superuser", "preferences", "created_at", "updated_at"} {
		require.Contains(t, body, k)
	}
	require.Len(t, body, 8, "exactly the documented fields: %v", body)
	require.Equal(t, u.ID, body["id"])

	res := e.Do("PUT", "/api/users/me", map[string]any{"full_name": "  New Name "}, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "New Name", res.Map(t)["full_name"])
	require.Equal(t, u.Email, res.Map(t)["email"], "fields not sent do not change")

	p := requireProblem(t, e.Do("PUT", "/api/users/me", map[string]any{"email": strings.ToUpper(other.Email)}, u.Bearer()), http.StatusConflict)
	require.Equal(t, "conflict", p["code"])
	p = requireProblem(t, e.Do("PUT", "/api/users/me", map[string]any{"email": "nope"}, u.Bearer()), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.email")

	res = e.Do("PUT", "/api/users/me", map[string]any{"email": "  Renamed-" + u.Email + " "}, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, "Renamed-"+u.Email, res.Map(t)["email"])
	require.Equal(t, "New Name", res.Map(t)["full_name"])
}

func TestPreferences(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	other := e.NewUser()

	res := e.Do("GET", "/api/users/preferences", nil, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status)
	require.JSONEq(t, `{}`, string(res.Body))

	res = e.Do("PUT", "/api/users/preferences", `{"timezone":"Europe/Paris","week_start":"sunday","nested":{"a":[1,2]}}`, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = e.Do("PUT", "/api/users/preferences", `{"timezone":"UTC"}`, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status)
	require.JSONEq(t, `{"timezone":"UTC"}`, string(res.Body), "replaced whole")
	require.JSONEq(t, `{"timezone":"UTC"}`, string(e.Do("GET", "/api/users/preferences", nil, u.Bearer()).Body))
	require.JSONEq(t, `{}`, string(e.Do("GET", "/api/users/preferences", nil, other.Bearer()).Body), "another user's preferences are untouched")

	for _, bad := range []string{`[1,2]`, `"text"`, `null`} {
		requireProblem(t, e.Do("PUT", "/api/users/preferences", bad, u.Bearer()), http.StatusUnprocessableEntity)
	}
	require.JSONEq(t, `{"timezone":"UTC"}`, string(e.Do("GET", "/api/users/preferences", nil, u.Bearer()).Body), "bad input changed nothing")
}
