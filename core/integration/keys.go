package integration

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/db"
)

// Keyring seals the secrets of connections (AES-256-GCM envelope
// encryption). The master key (integrations.master_key) seals data keys,
// which live in data_keys; every secret is sealed under the newest data key
// that is not retired, with associated data naming its row and column, and
// its key id stored beside it. A secret copied to another row, or read as
// another column, does not open.
type Keyring struct {
	master cipher.AEAD
	db     *db.DB

	mu   sync.Mutex
	keys map[uuid.UUID]cipher.AEAD // unwrapped data keys by id
}

// ErrNoMasterKey is returned by a Keyring made without a master key.
var ErrNoMasterKey = errors.New("integrations.master_key is not set")

// ParseMasterKey decodes integrations.master_key: base64 (standard or URL,
// padded or not) of 32 bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("must be base64 of 32 bytes, got %d bytes", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("must be base64 of 32 random bytes (openssl rand -base64 32)")
}

// NewKeyring returns the keyring of master (base64 of 32 bytes). An empty
// master gives a keyring whose every use fails with ErrNoMasterKey.
func NewKeyring(d *db.DB, master string) (*Keyring, error) {
	k := &Keyring{db: d, keys: map[uuid.UUID]cipher.AEAD{}}
	if master == "" {
		return k, nil
	}
	raw, err := ParseMasterKey(master)
	if err != nil {
		return nil, fmt.Errorf("integrations.master_key: %w", err)
	}
	if k.master, err = newGCM(raw); err != nil {
		return nil, err
	}
	return k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// AD is the associated data binding a secret to its place: table, row
// (user and provider, or another id) and column.
func AD(table, user, provider, column string) []byte {
	return []byte("consilium.secret.v1\x00" + table + "\x00" + user + "\x00" + provider + "\x00" + column)
}

func seal(a cipher.AEAD, plaintext, ad []byte) []byte {
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return a.Seal(nonce, nonce, plaintext, ad)
}

func open(a cipher.AEAD, ct, ad []byte) ([]byte, error) {
	if len(ct) < a.NonceSize() {
		return nil, errors.New("sealed secret too short")
	}
	return a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], ad)
}

func dataKeyAD(id uuid.UUID) []byte { return []byte("consilium.data_key.v1\x00" + id.String()) }

// key returns the unwrapped data key id.
func (k *Keyring) key(ctx context.Context, q db.Querier, id uuid.UUID) (cipher.AEAD, error) {
	if k.master == nil {
		return nil, ErrNoMasterKey
	}
	k.mu.Lock()
	a, ok := k.keys[id]
	k.mu.Unlock()
	if ok {
		return a, nil
	}
	var wrapped []byte
	if err := q.QueryRow(ctx, `SELECT wrapped_key FROM data_keys WHERE id = $1`, id).Scan(&wrapped); err != nil {
		return nil, fmt.Errorf("data key %s: %w", id, err)
	}
	raw, err := open(k.master, wrapped, dataKeyAD(id))
	if err != nil {
		return nil, fmt.Errorf("data key %s does not open under integrations.master_key (was the master key changed?)", id)
	}
	if a, err = newGCM(raw); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.keys[id] = a
	k.mu.Unlock()
	return a, nil
}

// newKey makes and stores a data key.
func (k *Keyring) newKey(ctx context.Context, q db.Querier) (uuid.UUID, error) {
	if k.master == nil {
		return uuid.Nil, ErrNoMasterKey
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	id := uuid.New()
	if _, err := q.Exec(ctx, `INSERT INTO data_keys (id, wrapped_key) VALUES ($1, $2)`, id, seal(k.master, raw, dataKeyAD(id))); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// currentKeyID is the newest data key not retired, made when there is none
// (under an advisory lock, so that processes starting together share one).
func (k *Keyring) currentKeyID(ctx context.Context) (uuid.UUID, error) {
	if k.master == nil {
		return uuid.Nil, ErrNoMasterKey
	}
	var id uuid.UUID
	err := k.db.Pool.QueryRow(ctx, `SELECT id FROM data_keys WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, err
	}
	err = k.db.InTx(ctx, func(tx db.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('consilium.data_keys'))`); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id FROM data_keys WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			id, err = k.newKey(ctx, tx)
		}
		return err
	})
	return id, err
}

// Seal seals plaintext under the current data key, bound to ad.
func (k *Keyring) Seal(ctx context.Context, plaintext, ad []byte) (keyID uuid.UUID, sealed []byte, err error) {
	if keyID, err = k.currentKeyID(ctx); err != nil {
		return uuid.Nil, nil, err
	}
	a, err := k.key(ctx, k.db.Pool, keyID)
	if err != nil {
		return uuid.Nil, nil, err
	}
	return keyID, seal(a, plaintext, ad), nil
}

// ErrSecretDoesNotOpen says a sealed secret failed authentication: it was
// altered, moved to another row or column, or sealed under another key.
var ErrSecretDoesNotOpen = errors.New("sealed secret does not open")

// Open opens a secret sealed under keyID with ad.
func (k *Keyring) Open(ctx context.Context, keyID uuid.UUID, sealed, ad []byte) ([]byte, error) {
	a, err := k.key(ctx, k.db.Pool, keyID)
	if err != nil {
		return nil, err
	}
	p, err := open(a, sealed, ad)
	if err != nil {
		return nil, ErrSecretDoesNotOpen
	}
	return p, nil
}

// RotateOptions tune Rotate.
type RotateOptions struct {
	// BatchSize is how many secrets one transaction re-seals (default 100).
	BatchSize int
	// AfterBatch, when set, is called after each committed batch with the
	// number re-sealed so far (progress; tests interrupt through it).
	AfterBatch func(done int)
}

// RotateResult says what Rotate did.
type RotateResult struct {
	KeyID    uuid.UUID
	Resumed  bool
	Resealed int
	// Unreadable secrets did not open (altered, or copied from another
	// row): their connections now need the user to connect again.
	Unreadable int
	Retired    int
}

// sealedColumn is a table's column of sealed secrets with how its
// associated data is made.
type sealedColumn struct {
	table, column, keyCol, idCol string
	// selectAD is the SQL giving the row's associated-data parts.
	selectAD string
	ad       func(parts [3]string) []byte
	// unreadable is what happens to a row whose secret does not open
	// (altered or copied from another row): it cannot be re-sealed.
	unreadable string
}

var sealedColumns = []sealedColumn{
	{table: "connections", column: "credentials", keyCol: "key_id", idCol: "id",
		selectAD: "user_id::text, provider, ''",
		ad:       func(p [3]string) []byte { return AD("connections", p[0], p[1], "credentials") },
		unreadable: `UPDATE connections SET credentials = NULL, key_id = NULL, state = 'needs_reauth',
			last_error = 'the stored credentials could not be read: connect again', updated_at = now() WHERE id = $1`},
	{table: "oauth_states", column: "verifier", keyCol: "key_id", idCol: "state_hash",
		selectAD:   "user_id::text, provider, encode(state_hash, 'hex')",
		ad:         func(p [3]string) []byte { return AD("oauth_states", p[0], p[1], "verifier:"+p[2]) },
		unreadable: `DELETE FROM oauth_states WHERE state_hash = $1`},
}

// Rotate makes a new data key, re-seals every secret under it in batches of
// their own transactions, and retires the keys nothing uses any more. It
// can be interrupted at any point: run again, it continues with the key the
// interrupted run made (the newest key, while older unretired keys still
// seal secrets) instead of making another.
func (k *Keyring) Rotate(ctx context.Context, o RotateOptions) (*RotateResult, error) {
	if k.master == nil {
		return nil, ErrNoMasterKey
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	res := &RotateResult{}
	// Pick the target: the newest key when an earlier rotation left
	// secrets under older unretired keys, else a new one.
	err := k.db.InTx(ctx, func(tx db.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('consilium.data_keys'))`); err != nil {
			return err
		}
		var newest uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM data_keys WHERE retired_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&newest)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if newest != uuid.Nil {
			var older bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM data_keys WHERE retired_at IS NULL AND id <> $1)`, newest).Scan(&older); err != nil {
				return err
			}
			if older {
				res.KeyID, res.Resumed = newest, true
				return nil
			}
		}
		res.KeyID, err = k.newKey(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	target, err := k.key(ctx, k.db.Pool, res.KeyID)
	if err != nil {
		return nil, err
	}
	for _, c := range sealedColumns {
		for {
			n, bad, err := k.rotateBatch(ctx, c, res.KeyID, target, o.BatchSize)
			if err != nil {
				return res, err
			}
			if n+bad == 0 {
				break
			}
			res.Resealed += n
			res.Unreadable += bad
			if o.AfterBatch != nil {
				o.AfterBatch(res.Resealed)
			}
		}
	}
	tag, err := k.db.Pool.Exec(ctx, `UPDATE data_keys d SET retired_at = now()
		WHERE retired_at IS NULL AND id <> $1
		  AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.key_id = d.id)
		  AND NOT EXISTS (SELECT 1 FROM oauth_states s WHERE s.key_id = d.id)`, res.KeyID)
	if err != nil {
		return res, err
	}
	res.Retired = int(tag.RowsAffected())
	return res, nil
}

func (k *Keyring) rotateBatch(ctx context.Context, c sealedColumn, targetID uuid.UUID, target cipher.AEAD, size int) (n, bad int, err error) {
	err = k.db.InTx(ctx, func(tx db.Tx) error {
		n, bad = 0, 0
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s, %s, %s, %s FROM %s WHERE %s IS NOT NULL AND %s <> $1 LIMIT $2 FOR UPDATE SKIP LOCKED`,
			c.idCol, c.keyCol, c.column, c.selectAD, c.table, c.keyCol, c.keyCol), targetID, size)
		if err != nil {
			return err
		}
		type row struct {
			id     any
			keyID  uuid.UUID
			sealed []byte
			parts  [3]string
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.keyID, &r.sealed, &r.parts[0], &r.parts[1], &r.parts[2]); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range batch {
			old, err := k.key(ctx, tx, r.keyID)
			if err != nil {
				return err
			}
			ad := c.ad(r.parts)
			p, err := open(old, r.sealed, ad)
			if err != nil {
				if _, err := tx.Exec(ctx, c.unreadable, r.id); err != nil {
					return err
				}
				bad++
				continue
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1, %s = $2 WHERE %s = $3`, c.table, c.column, c.keyCol, c.idCol),
				seal(target, p, ad), targetID, r.id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, bad, err
}
