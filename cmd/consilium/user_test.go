package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// TestUserCommands: create (with --superuser and the password on stdin),
// set-active and set-superuser change the account in the database; bad
// input is refused with a message naming what is wrong.
func TestUserCommands(t *testing.T) {
	setServeEnv(t, dbtest.URL(t))
	t.Setenv("CONSILIUM_NEW_PASSWORD", "")
	ctx := context.Background()
	pool := dbtest.Pool(t)
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&out)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	flags := func(email string) (active, superuser bool, hash string) {
		require.NoError(t, pool.QueryRow(ctx, `SELECT is_active, is_superuser, password_hash FROM users WHERE email = $1`, email).
			Scan(&active, &superuser, &hash))
		return
	}
	email := "admin-" + uuid.NewString() + "@example.com"

	out, err := run("correct horse\n", "user", "create", " "+email+" ", "--superuser", "--password-stdin", "--full-name", "Ada")
	require.NoError(t, err)
	require.Contains(t, out, "created user ")
	require.Contains(t, out, "("+email+")")
	active, superuser, hash := flags(email)
	require.True(t, active)
	require.True(t, superuser)
	require.True(t, strings.HasPrefix(hash, "$argon2id$"), hash)

	out, err = run("", "user", "set-active", strings.ToUpper(email), "false")
	require.NoError(t, err)
	require.Equal(t, email+": is_active = false\n", out)
	out, err = run("", "user", "set-superuser", email, "false")
	require.NoError(t, err)
	require.Equal(t, email+": is_superuser = false\n", out)
	active, superuser, _ = flags(email)
	require.False(t, active)
	require.False(t, superuser)

	_, err = run("correct horse\n", "user", "create", email, "--password-stdin")
	require.Equal(t, "an account with this email already exists", errorText(err))
	_, err = run("short\n", "user", "create", "new-"+email, "--password-stdin")
	require.Equal(t, "password: must be at least 8 characters", errorText(err))
	_, err = run("", "user", "create", "new-"+email)
	require.ErrorContains(t, err, "pass it with --password-stdin or $CONSILIUM_NEW_PASSWORD")
	_, err = run("correct horse\n", "user", "create", "not-an-address", "--password-stdin")
	require.Equal(t, "email: must be an email address such as ada@example.com", errorText(err))
	_, err = run("", "user", "set-active", "nobody-"+email, "true")
	require.Equal(t, "no user with the email nobody-"+email, errorText(err))
	_, err = run("", "user", "set-active", email, "yes")
	require.ErrorContains(t, err, "must be true or false")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE email LIKE '%' || $1`, email).Scan(&n))
	require.Equal(t, 1, n, "refused commands created nobody")
}
