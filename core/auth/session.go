package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/user"
)

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
