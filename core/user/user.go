// Package user owns Consilium's user accounts: their profile, flags and
// preferences. Authentication lives in core/auth.
package user

import (
	"encoding/json"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
)

// MaxPreferencesBytes bounds the preferences object.
const MaxPreferencesBytes = 64 << 10

// User is an account. PasswordHash is empty for users whose authentication
// is delegated (Supabase mode).
type User struct {
	ID           uuid.UUID
	Email        string
	PasswordHash string
	FullName     string
	IsActive     bool
	IsSuperuser  bool
	Preferences  json.RawMessage
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NormalizeEmail trims an address and checks its form. Uniqueness is
// case-insensitive in the database (citext), so case is kept as typed.
func NormalizeEmail(location, raw string) (string, error) {
	email := strings.TrimSpace(raw)
	if email == "" {
		return "", apperr.Field(location, "is required", raw)
	}
	if len(email) > 254 {
		return "", apperr.Field(location, "must be at most 254 characters", nil)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "", apperr.Field(location, "must be an email address such as ada@example.com", raw)
	}
	return email, nil
}

// CheckFullName validates a display name.
func CheckFullName(location, name string) (string, error) {
	name = strings.TrimSpace(name)
	if len(name) > 200 {
		return "", apperr.Field(location, "must be at most 200 characters", nil)
	}
	return name, nil
}
