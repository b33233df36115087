package user

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
)

// Service changes user accounts with their field rules applied: the profile
// and preferences a signed-in user edits (the API), and the admin verbs of
// the command line (create a user, set its flags). Sign-in lives in
// core/auth, which uses the store functions directly inside its own
// transactions.
type Service struct {
	db *db.DB
}

// NewService returns the users service.
func NewService(d *db.DB) *Service { return &Service{db: d} }

// Get returns a user by id (agents and jobs read the profile and
// preferences of the user they act for).
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*User, error) {
	return ByID(ctx, s.db.Pool, id)
}

// ProfileChange is what a user may change about themself; nil fields stay.
type ProfileChange struct {
	Email    *string
	FullName *string
}

// UpdateProfile checks the fields sent (the email by NormalizeEmail, the
// name by CheckFullName, named "email" and "full_name") and changes them.
func (s *Service) UpdateProfile(ctx context.Context, id uuid.UUID, c *ProfileChange) (*User, error) {
	var checked ProfileChange
	if c.Email != nil {
		email, err := NormalizeEmail("email", *c.Email)
		if err != nil {
			return nil, err
		}
		checked.Email = &email
	}
	if c.FullName != nil {
		name, err := CheckFullName("full_name", *c.FullName)
		if err != nil {
			return nil, err
		}
		checked.FullName = &name
	}
	return update(ctx, s.db.Pool, id, &checked)
}

// ReplacePreferences replaces a user's preferences whole with prefs, once
// CheckPreferences accepts it.
func (s *Service) ReplacePreferences(ctx context.Context, id uuid.UUID, prefs json.RawMessage) (*User, error) {
	prefs, err := CheckPreferences(prefs)
	if err != nil {
		return nil, err
	}
	return setPreferences(ctx, s.db.Pool, id, prefs)
}

// NewUser is an account created by an admin.
type NewUser struct {
	Email string
	// PasswordHash is the caller's (core/auth hashes passwords); empty
	// means the user cannot sign in with a password.
	PasswordHash string
	FullName     string
	Superuser    bool
}

// Create checks the email and the name and creates the account; a taken
// email is a conflict.
func (s *Service) Create(ctx context.Context, n *NewUser) (*User, error) {
	email, err := NormalizeEmail("email", n.Email)
	if err != nil {
		return nil, err
	}
	name, err := CheckFullName("full_name", n.FullName)
	if err != nil {
		return nil, err
	}
	return Create(ctx, s.db.Pool, &CreateParams{Email: email, PasswordHash: n.PasswordHash, FullName: name, Superuser: n.Superuser})
}

// ByEmail returns the user with this email (compared without regard to
// case); an unknown one is not_found, saying which email.
func (s *Service) ByEmail(ctx context.Context, email string) (*User, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	u, err := ByEmail(ctx, s.db.Pool, email)
	if apperr.Is(err, apperr.NotFound) {
		return nil, errNoSuchEmail(email)
	}
	return u, err
}

// Flags are the admin flags of an account; nil fields stay.
type Flags struct {
	// Active false refuses the user everywhere (sign-in and every token).
	Active *bool
	// Superuser grants the admin endpoints.
	Superuser *bool
}

// SetFlags changes the admin flags of the user with this email.
func (s *Service) SetFlags(ctx context.Context, email string, f Flags) (*User, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	u, err := setFlags(ctx, s.db.Pool, email, f)
	if apperr.Is(err, apperr.NotFound) {
		return nil, errNoSuchEmail(email)
	}
	return u, err
}

func errNoSuchEmail(email string) error {
	return apperr.New(apperr.NotFound, "no user with the email %s", email)
}
