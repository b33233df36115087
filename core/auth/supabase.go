package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/user"
)

// Delegated reports whether sign-in is delegated to Supabase Auth.
func (s *Service) Delegated() bool { return s.cfg.Mode == "supabase" }

var errDelegated = apperr.New(apperr.Forbidden,
	"authentication is delegated to Supabase Auth in this deployment: sign in through Supabase and send its access token as the bearer token")

// supabaseKeys returns what verifies Supabase access tokens: the HS256
// secret, or the key set at the JWKS URL, fetched in the background and
// refreshed until ctx ends.
func supabaseKeys(ctx context.Context, sb config.Supabase) (jwt.Keyfunc, error) {
	if sb.JWKSURL != "" {
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{sb.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth.supabase.jwks_url: %w", err)
		}
		return kf.Keyfunc, nil
	}
	secret := []byte(sb.JWTSecret)
	return func(*jwt.Token) (any, error) { return secret, nil }, nil
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
