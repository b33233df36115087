package user_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/user"
)

type testBundle struct {
	ctx   context.Context
	users *user.Service
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{ctx: context.Background(), users: user.NewService(db.New(dbtest.Pool(t)))}
}

func newEmail() string { return "u-" + uuid.NewString() + "@example.com" }

// requireField asserts err is an invalid-input error naming location.
func requireField(t *testing.T, err error, location string) {
	t.Helper()
	var e *apperr.Error
	require.True(t, errors.As(err, &e), "not an application error: %v", err)
	require.Equal(t, apperr.Invalid, e.Code, "%v", err)
	require.Len(t, e.Fields, 1)
	require.Equal(t, location, e.Fields[0].Location, "core names bare fields; the api adds body./query.")
	require.Empty(t, e.Fields[0].In)
}

func TestCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	email := newEmail()

	u, err := b.users.Create(b.ctx, &user.NewUser{Email: "  " + email + " ", FullName: " Ada ", Superuser: true, PasswordHash: "$argon2id$x"})
	require.NoError(t, err)
	require.Equal(t, email, u.Email, "trimmed")
	require.Equal(t, "Ada", u.FullName, "trimmed")
	require.True(t, u.IsSuperuser)
	require.True(t, u.IsActive)
	require.Equal(t, "$argon2id$x", u.PasswordHash)

	plain, err := b.users.Create(b.ctx, &user.NewUser{Email: newEmail()})
	require.NoError(t, err)
	require.False(t, plain.IsSuperuser, "admin rights only when asked")

	_, err = b.users.Create(b.ctx, &user.NewUser{Email: strings.ToUpper(email)})
	require.True(t, apperr.Is(err, apperr.Conflict), "email taken regardless of case: %v", err)

	_, err = b.users.Create(b.ctx, &user.NewUser{Email: "not-an-address"})
	requireField(t, err, "email")
	_, err = b.users.Create(b.ctx, &user.NewUser{Email: newEmail(), FullName: "two\nlines"})
	requireField(t, err, "full_name")
}

func TestSetFlagsAndByEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	email := newEmail()
	created, err := b.users.Create(b.ctx, &user.NewUser{Email: email})
	require.NoError(t, err)
	other, err := b.users.Create(b.ctx, &user.NewUser{Email: newEmail()})
	require.NoError(t, err)

	off, on := false, true
	u, err := b.users.SetFlags(b.ctx, strings.ToUpper(email), user.Flags{Active: &off})
	require.NoError(t, err)
	require.Equal(t, created.ID, u.ID, "found regardless of case")
	require.False(t, u.IsActive)
	require.False(t, u.IsSuperuser, "flags not given stay")

	u, err = b.users.SetFlags(b.ctx, email, user.Flags{Superuser: &on})
	require.NoError(t, err)
	require.True(t, u.IsSuperuser)
	require.False(t, u.IsActive, "flags not given stay")

	got, err := b.users.ByEmail(b.ctx, " "+email)
	require.NoError(t, err)
	require.Equal(t, created.ID, got.ID)
	require.True(t, got.IsSuperuser)
	untouched, err := b.users.ByEmail(b.ctx, other.Email)
	require.NoError(t, err)
	require.True(t, untouched.IsActive && !untouched.IsSuperuser, "another user's flags are untouched")

	nobody := newEmail()
	_, err = b.users.SetFlags(b.ctx, nobody, user.Flags{Active: &on})
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)
	require.ErrorContains(t, err, "no user with the email "+nobody)
	_, err = b.users.ByEmail(b.ctx, nobody)
	require.ErrorContains(t, err, "no user with the email "+nobody)
	_, err = b.users.ByEmail(b.ctx, "nope")
	requireField(t, err, "email")
}

func TestUpdateProfileAndPreferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := b.users.Create(b.ctx, &user.NewUser{Email: newEmail(), FullName: "Ada"})
	require.NoError(t, err)
	taken, err := b.users.Create(b.ctx, &user.NewUser{Email: newEmail()})
	require.NoError(t, err)

	name := " Ada Lovelace "
	got, err := b.users.UpdateProfile(b.ctx, u.ID, &user.ProfileChange{FullName: &name})
	require.NoError(t, err)
	require.Equal(t, "Ada Lovelace", got.FullName)
	require.Equal(t, u.Email, got.Email, "fields not sent stay")

	bad := "nope"
	_, err = b.users.UpdateProfile(b.ctx, u.ID, &user.ProfileChange{Email: &bad, FullName: &name})
	requireField(t, err, "email")
	upper := strings.ToUpper(taken.Email)
	_, err = b.users.UpdateProfile(b.ctx, u.ID, &user.ProfileChange{Email: &upper})
	require.True(t, apperr.Is(err, apperr.Conflict), "%v", err)
	_, err = b.users.UpdateProfile(b.ctx, uuid.New(), &user.ProfileChange{FullName: &name})
	require.True(t, apperr.Is(err, apperr.NotFound), "%v", err)

	got, err = b.users.ReplacePreferences(b.ctx, u.ID, []byte(`{ "timezone": "Europe/Zurich", "theme": "dark" }`))
	require.NoError(t, err)
	require.JSONEq(t, `{"timezone":"Europe/Zurich","theme":"dark"}`, string(got.Preferences))
	_, err = b.users.ReplacePreferences(b.ctx, u.ID, []byte(`{"timezone":"Mars/Olympus"}`))
	requireField(t, err, "timezone")
	_, err = b.users.ReplacePreferences(b.ctx, u.ID, []byte(`{"week_start":"someday"}`))
	requireField(t, err, "week_start")
	_, err = b.users.ReplacePreferences(b.ctx, u.ID, []byte(`[1]`))
	require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
	again, err := b.users.ByEmail(b.ctx, u.Email)
	require.NoError(t, err)
	require.JSONEq(t, `{"timezone":"Europe/Zurich","theme":"dark"}`, string(again.Preferences), "refused input changed nothing")
}
