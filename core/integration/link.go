package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/sdk"
)

// Link providers (auth type link, such as Composio) host the connect page
// themselves: the plugin makes a link for an account it names, the user
// connects there, and the outside system sends the browser back to our
// callback with the state. The state works exactly as an OAuth state
// (oauth_states: single use, StateTTL); its sealed column holds the
// account id the link was made for, so a callback can only save that
// account, and only once the plugin says it is active.

// ErrLinkMismatch says a link callback named another account than the one
// the link was made for (the API answers 400; nothing is saved).
var ErrLinkMismatch = errors.New("the callback names another account than the one this connect started: start connecting again")

// LinkNotActiveError says a link callback found the account not usable:
// still pending (the user did not finish), failed or expired. Nothing is
// saved; the user starts connecting again.
type LinkNotActiveError struct {
	Provider string
	State    sdk.LinkState
	// Message is the provider's explanation, when it gave one.
	Message string
}

// Pending says the user has not finished connecting (rather than the
// account having failed or expired).
func (e *LinkNotActiveError) Pending() bool { return e.State == sdk.LinkPending }

func (e *LinkNotActiveError) Error() string {
	msg := fmt.Sprintf("the %s account is %s, not connected", e.Provider, e.State)
	if e.State == sdk.LinkPending {
		msg = fmt.Sprintf("connecting the %s account is not finished", e.Provider)
	}
	if e.Message != "" {
		msg += " (" + e.Message + ")"
	}
	return msg + ": start connecting again"
}

// linkAD binds a link state's sealed account id to its row as the PKCE
// verifier is bound (the same column), so key rotation re-seals both alike.
func linkAD(userID uuid.UUID, provider string, hash []byte) []byte {
	return AD("oauth_states", userID.String(), provider, "verifier:"+hex.EncodeToString(hash))
}

// connectionID returns the id of the user's connection to provider,
// creating it disconnected when there is none: a link provider keeps it as
// its stable reference to the user (BeginLinkRequest.UserRef).
func (s *Service) connectionID(ctx context.Context, userID uuid.UUID, provider string) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.o.DB.Pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO connections (user_id, provider, state) VALUES ($1, $2, 'disconnected')
			ON CONFLICT (user_id, provider) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM connections WHERE user_id = $1 AND provider = $2 LIMIT 1`,
		userID, provider).Scan(&id)
	return id, err
}

// startLink asks the plugin for the connect link and remembers its state.
func (s *Service) startLink(ctx context.Context, userID uuid.UUID, p *providerInfo, params map[string]string) (*AuthStart, error) {
	ic, err := s.o.Plugins.Integration(p.item.Name)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", p.item.Name)
	}
	connID, err := s.connectionID(ctx, userID, p.item.Name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	hash := stateHash(state)
	callback := strings.TrimSuffix(s.o.PublicURL, "/") + "/api/external/callback/" + p.item.Name + "?state=" + url.QueryEscape(state)
	resp, err := ic.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: sdk.Connection{ID: connID.String()},
		UserRef: connID.String(), CallbackURL: callback, Params: params})
	if err != nil {
		return nil, beginLinkError(err)
	}
	if u, perr := url.Parse(resp.URL); perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || resp.AccountID == "" {
		return nil, &apperr.Error{Code: apperr.Unavailable, Message: fmt.Sprintf("provider %q answered no usable connect link; try again later", p.item.Name)}
	}
	keyID, sealed, err := s.keys.Seal(ctx, []byte(resp.AccountID), linkAD(userID, p.item.Name, hash))
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(StateTTL).UTC().Truncate(time.Second)
	if !resp.ExpiresAt.IsZero() && resp.ExpiresAt.Before(expires) {
		expires = resp.ExpiresAt.UTC()
	}
	if _, err := s.o.DB.Pool.Exec(ctx, `INSERT INTO oauth_states (state_hash, user_id, provider, verifier, key_id, redirect_uri, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, hash, userID, p.item.Name, sealed, keyID, callback, expires); err != nil {
		return nil, err
	}
	_, _ = s.o.DB.Pool.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at < now() - interval '1 hour'`)
	return &AuthStart{AuthorizeURL: resp.URL, State: state, ExpiresAt: expires}, nil
}

// beginLinkError maps a BeginLink failure: an invalid_config error whose
// message starts "params.NAME:" refuses that connect parameter (422 naming
// it); a rate limit stays one; anything else means the provider could not
// make the link now.
func beginLinkError(err error) error {
	var e *sdk.Error
	switch {
	case errors.As(err, &e) && e.Code == sdk.CodeInvalidConfig && strings.HasPrefix(e.Message, "params."):
		name, msg, _ := strings.Cut(strings.TrimPrefix(e.Message, "params."), ":")
		return apperr.Field(name, strings.TrimSpace(msg), nil)
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited:
		return &apperr.Error{Code: apperr.RateLimited, Message: "the provider asks to slow down; try again later", RetryAfter: e.RetryAfter, Err: err}
	default:
		return &apperr.Error{Code: apperr.Unavailable, Message: "the provider could not make a connect link; try again later", Err: err}
	}
}

// finishLink ends a link connect: the account the link was made for (a
// callback naming another one is refused) is saved, sealed, once the
// plugin says it is active.
func (s *Service) finishLink(ctx context.Context, p *providerInfo, cs *callbackState, named string) (*Status, error) {
	if cs.sealed == nil || cs.keyID == nil {
		return nil, ErrBadState
	}
	raw, err := s.keys.Open(ctx, *cs.keyID, cs.sealed, linkAD(cs.userID, p.item.Name, cs.hash))
	if err != nil {
		return nil, err
	}
	account := string(raw)
	if named != "" && named != account {
		return nil, ErrLinkMismatch
	}
	ic, err := s.o.Plugins.Integration(p.item.Name)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", p.item.Name)
	}
	resp, err := ic.CheckLink(ctx, &sdk.CheckLinkRequest{AccountID: account})
	var e *sdk.Error
	switch {
	case err == nil:
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited:
		return nil, &apperr.Error{Code: apperr.RateLimited, Message: "the provider asks to slow down; start connecting again later", RetryAfter: e.RetryAfter, Err: err}
	case errors.As(err, &e) && (e.Code == sdk.CodeNotFound || e.Code == sdk.CodeNeedsReauth):
		return nil, &LinkNotActiveError{Provider: p.item.Name, State: sdk.LinkFailed, Message: e.Message}
	default:
		return nil, &apperr.Error{Code: apperr.Unavailable, Message: "the provider could not say whether the account is connected; start connecting again", Err: err}
	}
	if resp.State != sdk.LinkActive {
		st := resp.State
		switch st {
		case sdk.LinkPending, sdk.LinkExpired, sdk.LinkFailed:
		default:
			st = sdk.LinkFailed
		}
		return nil, &LinkNotActiveError{Provider: p.item.Name, State: st, Message: resp.Message}
	}
	st, err := s.save(ctx, cs.userID, p.item.Name, &credentials{AccountID: account}, nil)
	if err != nil || p.manifest.Implements("Sync") {
		return st, err
	}
	// Nothing to sync (tools only): off the schedule.
	if _, err := s.o.DB.Pool.Exec(ctx, `UPDATE connections SET next_sync_at = NULL WHERE user_id = $1 AND provider = $2`, cs.userID, p.item.Name); err != nil {
		return nil, err
	}
	st.NextSyncAt = nil
	return st, nil
}
