// Package user owns Consilium's user accounts: their profile, flags and
// preferences. Authentication lives in core/auth.
package user

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// MaxPreferencesBytes bounds the preferences object.
const MaxPreferencesBytes = field.MaxObjectBytes

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
	if err := field.Text(location, email, 0); err != nil {
		return "", err
	}
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

// MaxFullNameLength bounds a full name, in characters.
const MaxFullNameLength = 200

// CheckFullName trims a display name and checks it (field.Name).
func CheckFullName(location, name string) (string, error) {
	return field.Name(location, name, MaxFullNameLength)
}

// Known preferences: the keys Consilium itself reads. Every other key is the
// frontend's and stays free-form.
const (
	// PrefTimezone is an IANA time zone name; dates such as "today" and
	// "overdue" are computed there (UTC when unset).
	PrefTimezone = "timezone"
	// PrefWeekStart is the weekday weeks start on (Monday when unset).
	PrefWeekStart = "week_start"
)

// CheckPreferences checks a whole preferences object: a free JSON object
// (field.Object) whose known keys, when present and not null, hold what
// their readers accept. It returns the object compacted.
func CheckPreferences(raw json.RawMessage) (json.RawMessage, error) {
	obj, err := field.Object("", raw)
	if err != nil {
		return nil, err
	}
	var known struct {
		Timezone  json.RawMessage `json:"timezone"`
		WeekStart json.RawMessage `json:"week_start"`
	}
	if err := json.Unmarshal(obj, &known); err != nil {
		return nil, fmt.Errorf("read checked preferences: %w", err)
	}
	str := func(name string, v json.RawMessage, rule func(name, s string) error) error {
		if v == nil || string(v) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return apperr.Field(name, "must be a string", nil)
		}
		return rule(name, s)
	}
	if err := str(PrefTimezone, known.Timezone, func(n, s string) error { _, err := field.TimeZone(n, s); return err }); err != nil {
		return nil, err
	}
	if err := str(PrefWeekStart, known.WeekStart, func(n, s string) error { _, err := field.Weekday(n, s); return err }); err != nil {
		return nil, err
	}
	return obj, nil
}
