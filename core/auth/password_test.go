package auth_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/config"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	p := config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	h, err := auth.HashPassword("correct horse", p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$"), h)

	h2, err := auth.HashPassword("correct horse", p)
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")

	ok, err := auth.VerifyPassword("correct horse", h)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = auth.VerifyPassword("correct horsE", h)
	require.NoError(t, err)
	require.False(t, ok)

	// A hash made with other parameters still verifies: they are in the string.
	old, err := auth.HashPassword("pw-pw-pw-pw", config.Password{MemoryKiB: 2048, Iterations: 2, Parallelism: 2})
	require.NoError(t, err)
	ok, err = auth.VerifyPassword("pw-pw-pw-pw", old)
	require.NoError(t, err)
	require.True(t, ok)

	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		_, err := auth.VerifyPassword("x", bad)
		require.Error(t, err, bad)
	}
}
