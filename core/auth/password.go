package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
)

// MinPasswordLength is the shortest password accepted at registration.
const MinPasswordLength = 8

// maxPasswordLength bounds the work an attacker can make argon2 do.
const maxPasswordLength = 1024

var b64 = base64.RawStdEncoding

// CheckPassword is the rule a new password obeys, whoever sets it (register,
// the command line): at least MinPasswordLength characters, at most
// maxPasswordLength bytes.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return apperr.Field("password", fmt.Sprintf("must be at least %d characters", MinPasswordLength), nil)
	}
	if len(pw) > maxPasswordLength {
		return apperr.Field("password", fmt.Sprintf("must be at most %d bytes", maxPasswordLength), nil)
	}
	return nil
}

// HashPassword returns an argon2id hash in the PHC string format, so that
// parameters can change later without invalidating stored hashes.
func HashPassword(password string, p config.Password) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// VerifyPassword reports whether password matches the encoded hash.
func VerifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
