package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newMasterKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// testMaster is the master key of every keyring of this package's tests (they
// share one database and so its data keys).
var testMaster = newMasterKey()

func newUser(t *testing.T, d *db.DB) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	require.NoError(t, d.Pool.QueryRow(context.Background(),
		`INSERT INTO users (email) VALUES ($1) RETURNING id`, uuid.NewString()+"@example.com").Scan(&id))
	return id
}

func TestMasterKeyRules(t *testing.T) {
	d := db.New(dbtest.Pool(t))
	for _, bad := range []string{"short", base64.StdEncoding.EncodeToString(make([]byte, 16)), "!!!"} {
		_, err := integration.NewKeyring(d, bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "integrations.master_key")
	}
	k, err := integration.NewKeyring(d, "")
	require.NoError(t, err)
	_, _, err = k.Seal(context.Background(), []byte("x"), integration.AD("t", "u", "p", "c"))
	require.ErrorIs(t, err, integration.ErrNoMasterKey)
}

func TestSealBindsToRow(t *testing.T) {
	ctx := context.Background()
	d := db.New(dbtest.Pool(t))
	k, err := integration.NewKeyring(d, testMaster)
	require.NoError(t, err)
	ad := integration.AD("connections", "user-1", "clickup", "credentials")
	keyID, sealed, err := k.Seal(ctx, []byte("secret-token"), ad)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "secret-token")

	got, err := k.Open(ctx, keyID, sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "secret-token", string(got))

	for _, wrong := range [][]byte{
		integration.AD("connections", "user-2", "clickup", "credentials"), // another user's row
		integration.AD("connections", "user-1", "github", "credentials"),  // another provider
		integration.AD("connections", "user-1", "clickup", "verifier"),    // another column
	} {
		_, err := k.Open(ctx, keyID, sealed, wrong)
		require.ErrorIs(t, err, integration.ErrSecretDoesNotOpen)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	_, err = k.Open(ctx, keyID, tampered, ad)
	require.ErrorIs(t, err, integration.ErrSecretDoesNotOpen)

	// Another master key cannot unwrap the data key.
	other, err := integration.NewKeyring(d, newMasterKey())
	require.NoError(t, err)
	_, err = other.Open(ctx, keyID, sealed, ad)
	require.Error(t, err)
	require.Contains(t, err.Error(), "master key")
}

// TestSwappedRowsFail: credentials copied from one user's connection row to
// another's do not open there.
func TestSwappedRowsFail(t *testing.T) {
	ctx := context.Background()
	d := db.New(dbtest.Pool(t))
	k, err := integration.NewKeyring(d, testMaster)
	require.NoError(t, err)
	alice, bob := newUser(t, d), newUser(t, d)
	for _, u := range []uuid.UUID{alice, bob} {
		keyID, sealed, err := k.Seal(ctx, []byte("token of "+u.String()), integration.AD("connections", u.String(), "hello", "credentials"))
		require.NoError(t, err)
		_, err = d.Pool.Exec(ctx, `INSERT INTO connections (user_id, provider, state, credentials, key_id) VALUES ($1, 'hello', 'connected', $2, $3)`, u, sealed, keyID)
		require.NoError(t, err)
	}
	// Bob's row gets Alice's ciphertext.
	_, err = d.Pool.Exec(ctx, `UPDATE connections SET credentials = (SELECT credentials FROM connections WHERE user_id = $1) WHERE user_id = $2`, alice, bob)
	require.NoError(t, err)
	var keyID uuid.UUID
	var sealed []byte
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT key_id, credentials FROM connections WHERE user_id = $1`, bob).Scan(&keyID, &sealed))
	_, err = k.Open(ctx, keyID, sealed, integration.AD("connections", bob.String(), "hello", "credentials"))
	require.ErrorIs(t, err, integration.ErrSecretDoesNotOpen)
}

// TestRotateResumes: a rotation cancelled after its first batch leaves every
// secret readable; run again it continues with the same new key, re-seals
// the rest and retires the old keys.
func TestRotateResumes(t *testing.T) {
	ctx := context.Background()
	d := db.New(dbtest.Pool(t))
	k, err := integration.NewKeyring(d, testMaster)
	require.NoError(t, err)
	const n = 25
	users := make([]uuid.UUID, n)
	for i := range users {
		users[i] = newUser(t, d)
		keyID, sealed, err := k.Seal(ctx, []byte(fmt.Sprintf("token-%d", i)), integration.AD("connections", users[i].String(), "hello", "credentials"))
		require.NoError(t, err)
		_, err = d.Pool.Exec(ctx, `INSERT INTO connections (user_id, provider, state, credentials, key_id) VALUES ($1, 'hello', 'connected', $2, $3)`, users[i], sealed, keyID)
		require.NoError(t, err)
	}

	readAll := func(k *integration.Keyring) map[uuid.UUID]int {
		t.Helper()
		byKey := map[uuid.UUID]int{}
		for i, u := range users {
			var keyID uuid.UUID
			var sealed []byte
			require.NoError(t, d.Pool.QueryRow(ctx, `SELECT key_id, credentials FROM connections WHERE user_id = $1`, u).Scan(&keyID, &sealed))
			p, err := k.Open(ctx, keyID, sealed, integration.AD("connections", u.String(), "hello", "credentials"))
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("token-%d", i), string(p))
			byKey[keyID]++
		}
		return byKey
	}

	cctx, cancel := context.WithCancel(ctx)
	res, err := k.Rotate(cctx, integration.RotateOptions{BatchSize: 10, AfterBatch: func(int) { cancel() }})
	require.True(t, errors.Is(err, context.Canceled), "err = %v", err)
	newKey := res.KeyID
	// Interrupted: some under the new key, the rest still under the old; all open.
	byKey := readAll(k)
	require.Positive(t, byKey[newKey])
	require.Less(t, byKey[newKey], n)

	// A fresh process (another keyring) resumes with the same key.
	k2, err := integration.NewKeyring(d, testMaster)
	require.NoError(t, err)
	res, err = k2.Rotate(ctx, integration.RotateOptions{BatchSize: 10})
	require.NoError(t, err)
	require.True(t, res.Resumed)
	require.Equal(t, newKey, res.KeyID)
	require.GreaterOrEqual(t, res.Retired, 1)
	byKey = readAll(k2)
	require.Equal(t, map[uuid.UUID]int{newKey: n}, byKey)
	var unretired int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM data_keys WHERE retired_at IS NULL`).Scan(&unretired))
	require.Equal(t, 1, unretired)
	var other int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM connections WHERE key_id <> $1`, newKey).Scan(&other))
	require.Zero(t, other, "every secret of the database is under the new key")

	// New secrets go under the new key; a second full rotation makes another.
	keyID, _, err := k2.Seal(ctx, []byte("x"), integration.AD("t", "u", "p", "c"))
	require.NoError(t, err)
	require.Equal(t, newKey, keyID)
	var sealedRows int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM connections WHERE key_id IS NOT NULL) + (SELECT count(*) FROM oauth_states WHERE key_id IS NOT NULL)`).Scan(&sealedRows))
	res, err = k2.Rotate(ctx, integration.RotateOptions{})
	require.NoError(t, err)
	require.False(t, res.Resumed)
	require.NotEqual(t, newKey, res.KeyID)
	require.Equal(t, sealedRows, res.Resealed)
	require.Zero(t, res.Unreadable)
	readAll(k)
}
