// Package auth signs people in: password registration and login, rotating
// refresh tokens grouped in sessions, JWT access tokens, and a Supabase mode
// where tokens are issued elsewhere and users are created on first sight.
//
// service.go holds the service and password sign-in, session.go the
// sessions and their rotating refresh tokens, token.go the tokens
// themselves, supabase.go the mode where Supabase Auth signs people in.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/user"
)

// Service is the authentication service.
type Service struct {
	db     *db.DB
	cfg    config.Auth
	logger *slog.Logger
	now    func() time.Time
	// dummyHash is verified against when an email is unknown, so that a
	// wrong email and a wrong password take about the same time.
	dummyHash string
	supabase  jwt.Keyfunc
}

// Options are the dependencies of a Service.
type Options struct {
	DB     *db.DB
	Config config.Auth
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New builds the service. In Supabase mode with a JWKS URL, the key set is
// fetched in the background and refreshed until ctx ends.
func New(ctx context.Context, o Options) (*Service, error) {
	s := &Service{db: o.DB, cfg: o.Config, logger: o.Logger, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	h, err := HashPassword("consilium-timing-equaliser", o.Config.Password)
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	if s.Delegated() {
		if s.supabase, err = supabaseKeys(ctx, o.Config.Supabase); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// maxEmailLength bounds the email of a login, in characters.
const maxEmailLength = 320

var errBadCredentials = apperr.New(apperr.Unauthorized, "wrong email or password")

// Tokens is what a successful sign-in returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	User         *user.User
}

// Client describes where a sign-in came from, kept on the session.
type Client struct {
	UserAgent string
	IP        string
}

// RegisterParams create an account.
type RegisterParams struct {
	Email    string
	Password string
	FullName string
	Client   Client
}

// Register creates an account and signs it in.
func (s *Service) Register(ctx context.Context, p *RegisterParams) (*Tokens, error) {
	if s.Delegated() {
		return nil, errDelegated
	}
	email, err := user.NormalizeEmail("email", p.Email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(p.Password); err != nil {
		return nil, err
	}
	name, err := user.CheckFullName("full_name", p.FullName)
	if err != nil {
		return nil, err
	}
	hash, err := HashPassword(p.Password, s.cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	var out *Tokens
	err = s.db.InTx(ctx, func(tx db.Tx) error {
		u, err := user.Create(ctx, tx, &user.CreateParams{Email: email, PasswordHash: hash, FullName: name})
		if err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, u, p.Client)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LoginParams sign in with a password.
type LoginParams struct {
	Email    string
	Password string
	Client   Client
}

// Login checks a password and starts a session. An unknown email and a
// wrong password give the same error after the same amount of hashing work.
func (s *Service) Login(ctx context.Context, p *LoginParams) (*Tokens, error) {
	if s.Delegated() {
		return nil, errDelegated
	}
	email := strings.TrimSpace(p.Email)
	if email == "" {
		return nil, apperr.Field("email", "is required", nil)
	}
	// Not the whole address rule: an address that cannot be an account's is
	// a wrong login (401), but text Postgres cannot even compare is refused.
	if err := field.Text("email", email, maxEmailLength); err != nil {
		return nil, err
	}
	if len(p.Password) > maxPasswordLength {
		return nil, errBadCredentials
	}
	u, err := user.ByEmail(ctx, s.db.Pool, email)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	hash := s.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, err := VerifyPassword(p.Password, hash)
	if err != nil {
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if u == nil || u.PasswordHash == "" || !ok {
		return nil, errBadCredentials
	}
	if !u.IsActive {
		return nil, errInactive
	}
	var out *Tokens
	err = s.db.InTx(ctx, func(tx db.Tx) error {
		out, err = s.startSession(ctx, tx, u, p.Client)
		return err
	})
	return out, err
}

var errInactive = apperr.New(apperr.Forbidden, "this account is deactivated")

// Principal is the signed-in caller of a request.
type Principal struct {
	User      *user.User
	SessionID uuid.UUID // zero in Supabase mode
}

var errBadToken = apperr.New(apperr.Unauthorized, "missing, invalid or expired access token")

// Authenticate checks a bearer token and returns who it belongs to. In the
// built-in mode one query checks the session is live and reads the user.
func (s *Service) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, errBadToken
	}
	if s.Delegated() {
		return s.authenticateSupabase(ctx, token)
	}
	claims, err := s.parseAccess(token)
	if err != nil {
		return nil, errBadToken
	}
	userID, err1 := uuid.Parse(claims.Subject)
	sessionID, err2 := uuid.Parse(claims.SessionID)
	if err1 != nil || err2 != nil {
		return nil, errBadToken
	}
	var u user.User
	err = s.db.Pool.QueryRow(ctx, `
		SELECT u.id, u.email, u.full_name, u.is_active, u.is_superuser, u.preferences, u.created_at, u.updated_at
		FROM auth_sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()`,
		sessionID, userID).
		Scan(&u.ID, &u.Email, &u.FullName, &u.IsActive, &u.IsSuperuser, &u.Preferences, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("check session: %w", err)
	}
	if !u.IsActive {
		return nil, errInactive
	}
	return &Principal{User: &u, SessionID: sessionID}, nil
}

// DerivedKey is a key for signing something other than access tokens
// (purpose names it), derived from the JWT secret so that every process of
// a deployment derives the same one. Without a secret (Supabase with a JWKS
// URL) it is random: what it signs then holds only in this process.
func (s *Service) DerivedKey(purpose string) []byte {
	secret := s.cfg.JWTSecret
	if s.Delegated() {
		secret = s.cfg.Supabase.JWTSecret
	}
	if secret == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("consilium derived key: " + purpose))
	return m.Sum(nil)
}
