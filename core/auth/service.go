// Package auth signs people in: password registration and login, rotating
// refresh tokens grouped in sessions, JWT access tokens, and a Supabase mode
// where tokens are issued elsewhere and users are created on first sight.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
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
	if o.Config.Mode == "supabase" {
		sb := o.Config.Supabase
		if sb.JWKSURL != "" {
			kf, err := keyfunc.NewDefaultCtx(ctx, []string{sb.JWKSURL})
			if err != nil {
				return nil, fmt.Errorf("auth.supabase.jwks_url: %w", err)
			}
			s.supabase = kf.Keyfunc
		} else {
			secret := []byte(sb.JWTSecret)
			s.supabase = func(*jwt.Token) (any, error) { return secret, nil }
		}
	}
	return s, nil
}

// Delegated reports whether sign-in is delegated to Supabase Auth.
func (s *Service) Delegated() bool { return s.cfg.Mode == "supabase" }

var errDelegated = apperr.New(apperr.Forbidden,
	"authentication is delegated to Supabase Auth in this deployment: sign in through Supabase and send its access token as the bearer token")

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

func (s *Service) startSession(ctx context.Context, tx db.Tx, u *user.User, c Client) (*Tokens, error) {
	now := s.now()
	var sessionID uuid.UUID
	err := tx.QueryRow(ctx, `
		INSERT INTO auth_sessions (user_id, expires_at, user_agent, ip)
		VALUES ($1, $2, $3, $4) RETURNING id`,
		u.ID, now.Add(s.cfg.RefreshTokenTTL), field.Clean(c.UserAgent, 512), c.IP).Scan(&sessionID)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s.issue(ctx, tx, u, sessionID, now)
}

// issue signs an access token and stores a new refresh token for a session.
func (s *Service) issue(ctx context.Context, tx db.Tx, u *user.User, sessionID uuid.UUID, now time.Time) (*Tokens, error) {
	refresh, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	return s.issueToken(ctx, tx, u, sessionID, now, refresh)
}

// issueToken is issue with the refresh token given.
func (s *Service) issueToken(ctx context.Context, tx db.Tx, u *user.User, sessionID uuid.UUID, now time.Time, refresh string) (*Tokens, error) {
	if _, err := tx.Exec(ctx, `
		INSERT INTO auth_refresh_tokens (token_hash, session_id, user_id) VALUES ($1, $2, $3)`,
		hashRefresh(refresh), sessionID, u.ID); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	access, err := s.signAccess(u.ID, sessionID, now)
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.cfg.AccessTokenTTL, User: u}, nil
}

var errBadRefresh = apperr.New(apperr.Unauthorized, "refresh token is invalid, expired or revoked: sign in again")

// Refresh rotates a refresh token. Presenting a token that was already
// rotated means it leaked or was replayed: the whole session is revoked.
func (s *Service) Refresh(ctx context.Context, token string, c Client) (*Tokens, error) {
	if s.Delegated() {
		return nil, errDelegated
	}
	if token == "" {
		return nil, apperr.Field("refresh_token", "is required", nil)
	}
	var out *Tokens
	var reused bool
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		var (
			sessionID, userID uuid.UUID
			usedAt            *time.Time
			revoked           bool
			expiresAt         time.Time
		)
		// FOR UPDATE serialises two refreshes of the same token: the second
		// sees used_at set and is treated as reuse.
		err := tx.QueryRow(ctx, `
			SELECT t.session_id, t.user_id, t.used_at, s.revoked_at IS NOT NULL, s.expires_at
			FROM auth_refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
			WHERE t.token_hash = $1
			FOR UPDATE OF t, s`, hashRefresh(token)).
			Scan(&sessionID, &userID, &usedAt, &revoked, &expiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return errBadRefresh
		}
		if err != nil {
			return fmt.Errorf("look up refresh token: %w", err)
		}
		now := s.now()
		if revoked || !expiresAt.After(now) {
			return errBadRefresh
		}
		if usedAt != nil {
			// A replay just after the rotation (two tabs, a retried request)
			// gets the successor the rotation issued; later, it is reuse.
			if since := now.Sub(*usedAt); since >= 0 && since <= s.cfg.RefreshReuseInterval {
				out, err = s.reissue(ctx, tx, userID, sessionID, token, now)
				if err != nil || out != nil {
					return err
				}
			}
			reused = true
			if err := revokeSession(ctx, tx, sessionID, "refresh token reused"); err != nil {
				return err
			}
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET used_at = $2 WHERE token_hash = $1`,
			hashRefresh(token), now); err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		u, err := user.ByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !u.IsActive {
			return errInactive
		}
		out, err = s.issueToken(ctx, tx, u, sessionID, now, s.successor(token))
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		s.logger.WarnContext(ctx, "refresh token reused: session revoked", "ip", c.IP)
		return nil, errBadRefresh
	}
	return out, nil
}

// reissue answers a replay of a token rotated within the reuse interval:
// the same successor refresh token (derived again from the replayed one,
// since only hashes are stored) and a new access token for the session.
// It returns nil tokens when the successor is not that session's, which is
// then treated as reuse.
func (s *Service) reissue(ctx context.Context, tx db.Tx, userID, sessionID uuid.UUID, token string, now time.Time) (*Tokens, error) {
	successor := s.successor(token)
	var ok bool
	if err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM auth_refresh_tokens WHERE token_hash = $1 AND session_id = $2)`,
		hashRefresh(successor), sessionID).Scan(&ok); err != nil {
		return nil, fmt.Errorf("look up successor refresh token: %w", err)
	}
	if !ok {
		return nil, nil
	}
	u, err := user.ByID(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, errInactive
	}
	access, err := s.signAccess(u.ID, sessionID, now)
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: successor, ExpiresIn: s.cfg.AccessTokenTTL, User: u}, nil
}

func revokeSession(ctx context.Context, tx db.Tx, sessionID uuid.UUID, reason string) error {
	_, err := tx.Exec(ctx, `
		UPDATE auth_sessions SET revoked_at = now(), revoke_reason = $2
		WHERE id = $1 AND revoked_at IS NULL`, sessionID, reason)
	if err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	return nil
}

// Logout revokes the caller's session, and the session of the given refresh
// token when it belongs to the same user.
func (s *Service) Logout(ctx context.Context, p *Principal, refreshToken string) error {
	return s.db.InTx(ctx, func(tx db.Tx) error {
		if p.SessionID != uuid.Nil {
			if err := revokeSession(ctx, tx, p.SessionID, "logout"); err != nil {
				return err
			}
		}
		if refreshToken == "" {
			return nil
		}
		_, err := tx.Exec(ctx, `
			UPDATE auth_sessions s SET revoked_at = now(), revoke_reason = 'logout'
			FROM auth_refresh_tokens t
			WHERE t.token_hash = $1 AND t.session_id = s.id AND s.user_id = $2 AND s.revoked_at IS NULL`,
			hashRefresh(refreshToken), p.User.ID)
		if err != nil {
			return fmt.Errorf("revoke refresh token's session: %w", err)
		}
		return nil
	})
}

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

// SupabaseClaims are the claims read from a Supabase access token.
type SupabaseClaims struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	jwt.RegisteredClaims
}

func (s *Service) authenticateSupabase(ctx context.Context, token string) (*Principal, error) {
	sb := s.cfg.Supabase
	methods := []string{"HS256"}
	if sb.JWKSURL != "" {
		methods = []string{"RS256", "ES256", "EdDSA"}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5 * time.Second),
	}
	if sb.Audience != "" {
		opts = append(opts, jwt.WithAudience(sb.Audience))
	}
	if sb.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(sb.Issuer))
	}
	var claims SupabaseClaims
	if _, err := jwt.ParseWithClaims(token, &claims, s.supabase, opts...); err != nil {
		return nil, errBadToken
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil || claims.Email == "" {
		return nil, errBadToken
	}
	u, err := user.EnsureExternal(ctx, s.db.Pool, id, claims.Email)
	if err != nil {
		return nil, err
	}
	if !u.IsActive {
		return nil, errInactive
	}
	return &Principal{User: u}, nil
}
