package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
)

// TestKeysRotate: consilium keys rotate re-seals a stored secret under a
// new data key; the secret still opens; without a master key it refuses.
func TestKeysRotate(t *testing.T) {
	setServeEnv(t, dbtest.URL(t))
	ctx := context.Background()
	pool := dbtest.Pool(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	t.Setenv("CONSILIUM_INTEGRATIONS_MASTER_KEY", "")
	_, err := run("keys", "rotate")
	require.ErrorContains(t, err, "integrations.master_key")

	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	master := base64.StdEncoding.EncodeToString(raw)
	t.Setenv("CONSILIUM_INTEGRATIONS_MASTER_KEY", master)
	k, err := integration.NewKeyring(db.New(pool), master)
	require.NoError(t, err)
	var uid uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ($1) RETURNING id`, uuid.NewString()+"@example.com").Scan(&uid))
	ad := integration.AD("connections", uid.String(), "hello", "credentials")
	oldKey, sealed, err := k.Seal(ctx, []byte("tok"), ad)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO connections (user_id, provider, state, credentials, key_id) VALUES ($1, 'hello', 'connected', $2, $3)`, uid, sealed, oldKey)
	require.NoError(t, err)

	out, err := run("keys", "rotate", "--batch", "1")
	require.NoError(t, err)
	require.Contains(t, out, "re-sealed 1 secrets")
	var keyID uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT key_id, credentials FROM connections WHERE user_id = $1`, uid).Scan(&keyID, &sealed))
	require.NotEqual(t, oldKey, keyID)
	p, err := k.Open(ctx, keyID, sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "tok", string(p))
}
