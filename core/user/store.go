package user

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// Querier is what the store needs of a pool or a transaction.
type Querier = db.Querier

const userColumns = `id, email, coalesce(password_hash, ''), full_name, is_active, is_superuser, preferences, created_at, updated_at`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.FullName, &u.IsActive, &u.IsSuperuser,
		&u.Preferences, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

var errEmailTaken = &apperr.Error{
	Code:    apperr.Conflict,
	Message: "an account with this email already exists",
	Fields:  []apperr.FieldError{{Location: "email", Message: "is already registered"}},
}

// CreateParams are the fields of a new user.
type CreateParams struct {
	ID           uuid.UUID // zero: generated
	Email        string
	PasswordHash string // empty: authentication is delegated
	FullName     string
	Superuser    bool
}

// Create inserts a user; a taken email is a conflict.
func Create(ctx context.Context, q Querier, p *CreateParams) (*User, error) {
	id := p.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	var hash *string
	if p.PasswordHash != "" {
		hash = &p.PasswordHash
	}
	u, err := scanUser(q.QueryRow(ctx, `
		INSERT INTO users (id, email, password_hash, full_name, is_superuser)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING `+userColumns, id, p.Email, hash, p.FullName, p.Superuser))
	if db.IsUniqueViolation(err, "users_email_key") {
		return nil, errEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// ByID returns a user by id.
func ByID(ctx context.Context, q Querier, id uuid.UUID) (*User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// ByEmail returns a user by email, case-insensitively.
func ByEmail(ctx context.Context, q Querier, email string) (*User, error) {
	return scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
}

// update changes a user's profile: the fields of c that are not nil, as
// they are (the service checks them).
func update(ctx context.Context, q Querier, id uuid.UUID, c *ProfileChange) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, `
		UPDATE users SET
			full_name  = coalesce($2, full_name),
			email      = coalesce($3, email),
			updated_at = now()
		WHERE id = $1
		RETURNING `+userColumns, id, c.FullName, c.Email))
	if db.IsUniqueViolation(err, "users_email_key") {
		return nil, errEmailTaken
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, fmt.Errorf("update user %s: %w", id, err)
	}
	return u, err
}

// setPreferences replaces the preferences object whole with prefs, checked
// by the service.
func setPreferences(ctx context.Context, q Querier, id uuid.UUID, prefs json.RawMessage) (*User, error) {
	return scanUser(q.QueryRow(ctx, `
		UPDATE users SET preferences = $2, updated_at = now()
		WHERE id = $1
		RETURNING `+userColumns, id, prefs))
}

// setFlags changes the admin flags of the user with this email.
func setFlags(ctx context.Context, q Querier, email string, f Flags) (*User, error) {
	u, err := scanUser(q.QueryRow(ctx, `
		UPDATE users SET
			is_active    = coalesce($2, is_active),
			is_superuser = coalesce($3, is_superuser),
			updated_at   = now()
		WHERE email = $1
		RETURNING `+userColumns, email, f.Active, f.Superuser))
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, fmt.Errorf("set flags of user %s: %w", email, err)
	}
	return u, err
}

// EnsureExternal returns the user with this id, creating it on first sight
// (used when authentication is delegated to Supabase).
func EnsureExternal(ctx context.Context, q Querier, id uuid.UUID, email string) (*User, error) {
	u, err := ByID(ctx, q, id)
	if err == nil || !apperr.Is(err, apperr.NotFound) {
		return u, err
	}
	u, err = scanUser(q.QueryRow(ctx, `
		INSERT INTO users (id, email) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET id = excluded.id
		RETURNING `+userColumns, id, email))
	if db.IsUniqueViolation(err, "users_email_key") {
		return nil, &apperr.Error{Code: apperr.Conflict, Message: "another account already uses this email"}
	}
	if err != nil {
		return nil, fmt.Errorf("create user %s on first sign-in: %w", id, err)
	}
	return u, nil
}
