// Package integration connects users' accounts in outside systems through
// the integration plugins: connecting (a token checked with the provider, or
// OAuth 2 with state and PKCE), secrets sealed at rest (Keyring), the status
// of each connection, and the River jobs that sync them.
//
// Scheduling: a periodic job (integration.schedule, every minute) inserts an
// integration.sync job for each connected connection whose next_sync_at has
// come, unique per connection and sync_interval period (UniqueOpts ByArgs +
// ByPeriod), so that several leaders or a slow tick never sync twice in a
// period. A sync sets next_sync_at one interval on; errors retry with River's
// exponential backoff; needs_reauth (a refused token, an invalid_grant
// refresh) takes the connection off the schedule until the user connects
// again. A manual sync (POST /external/sync) inserts a job of its own.
package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// Plugins is what the service needs of the plugin host.
type Plugins interface {
	Integration(name string) (*plugin.Integration, error)
	State(name string) (plugin.PluginState, bool)
}

// Options configure a Service.
type Options struct {
	DB *db.DB
	// MasterKey is integrations.master_key (may be empty when no
	// integration plugin is enabled).
	MasterKey string
	// Plugins runs the integration plugins; nil: no provider is available.
	Plugins Plugins
	// PluginConfig is the plugins section (each item's config.auth_url,
	// token_url, client_id and secret_env client_secret).
	PluginConfig plugin.Config
	// PublicURL is http.public_url; ReturnURL integrations.return_url.
	PublicURL, ReturnURL string
	SyncInterval         time.Duration
	// CompletedGrace is how long a task completed outside stays in its
	// note before the cleanup takes it out (integrations.completed_grace;
	// default 7 days).
	CompletedGrace time.Duration
	Tasks          *task.Service
	Notes          *note.Service
	// Now is the clock of the sync and the cleanup (default time.Now).
	Now func() time.Time
	// Queue is the River queue of sync jobs (default: River's default).
	Queue string
	// LookupEnv reads secret_env variables (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// HTTPClient talks to token endpoints (default: 30 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Models, ChatProvider and ChatModel are the chat model the mail scan
	// asks (one call per message, no tools). Without them, or with only
	// the local provider, the rules decide.
	Models       model.Source
	ChatProvider string
	ChatModel    string
	// MailConfidenceThreshold is integrations.mail.confidence_threshold:
	// a request at least this sure becomes a task, a less sure one a
	// suggestion (default 0.7).
	MailConfidenceThreshold float64
}

// Service is connections to outside systems.
type Service struct {
	o    Options
	keys *Keyring
	// tools keeps each connection's tool list briefly (tools.go).
	tools toolsCache
}

// New returns the service.
func New(o Options) (*Service, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 15 * time.Minute
	}
	if o.CompletedGrace <= 0 {
		o.CompletedGrace = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	k, err := NewKeyring(o.DB, o.MasterKey)
	if err != nil {
		return nil, err
	}
	return &Service{o: o, keys: k}, nil
}

// displayName is how notes name the provider: its manifest's display
// name, else its configured name.
func (s *Service) displayName(name string) string {
	if m := s.manifestOf(name); m != nil && m.DisplayName != "" {
		return m.DisplayName
	}
	return name
}

// Keys is the service's keyring (consilium keys rotate).
func (s *Service) Keys() *Keyring { return s.keys }

// SyncInterval is integrations.sync_interval.
func (s *Service) SyncInterval() time.Duration { return s.o.SyncInterval }

// Provider is an enabled integration plugin a user can connect.
type Provider struct {
	Name         string
	DisplayName  string
	Description  string
	AuthType     string
	Scopes       []string
	PKCE         bool
	Capabilities []string
	// Available says the plugin is running (its manifest is known).
	Available bool
}

type providerInfo struct {
	item     plugin.PluginConfig
	manifest *sdk.Manifest
}

func (s *Service) items() []plugin.PluginConfig {
	var out []plugin.PluginConfig
	for _, it := range s.o.PluginConfig.Items {
		if it.Enabled && it.Kind == sdk.KindIntegration {
			out = append(out, it)
		}
	}
	return out
}

func (s *Service) manifestOf(name string) *sdk.Manifest {
	if s.o.Plugins == nil {
		return nil
	}
	st, ok := s.o.Plugins.State(name)
	if !ok {
		return nil
	}
	return st.Manifest
}

// Providers lists the enabled integration plugins, in config order.
func (s *Service) Providers() []Provider {
	out := []Provider{}
	for _, it := range s.items() {
		p := Provider{Name: it.Name, DisplayName: it.Name, AuthType: string(sdk.AuthNone), Scopes: []string{}, Capabilities: []string{}}
		if m := s.manifestOf(it.Name); m != nil {
			p.Available = true
			p.DisplayName, p.Description = m.DisplayName, m.Description
			if m.Auth.Type != "" {
				p.AuthType = string(m.Auth.Type)
			}
			if o := m.Auth.OAuth2; o != nil {
				p.Scopes, p.PKCE = append(p.Scopes, o.Scopes...), o.PKCE
			}
			for _, c := range m.Capabilities {
				p.Capabilities = append(p.Capabilities, string(c))
			}
		}
		out = append(out, p)
	}
	return out
}

// provider finds an enabled integration plugin with its manifest.
func (s *Service) provider(name string) (*providerInfo, error) {
	for _, it := range s.items() {
		if it.Name == name {
			m := s.manifestOf(name)
			if m == nil {
				return nil, &apperr.Error{Code: apperr.Unavailable, Message: fmt.Sprintf("provider %q is not running yet; try again shortly", name), RetryAfter: 5 * time.Second}
			}
			return &providerInfo{item: it, manifest: m}, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", name)
}

// credentials are what a connection's sealed column holds.
type credentials struct {
	// Token is an API key or personal token.
	Token        string    `json:"token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	// AccountID is a link provider's account (sdk.SecretAccountID).
	AccountID string `json:"account_id,omitempty"`
}

func credAD(userID uuid.UUID, provider string) []byte {
	return AD("connections", userID.String(), provider, "credentials")
}

// Status is a connection's state as users see it.
type Status struct {
	Provider    string
	State       string
	LastSyncAt  *time.Time
	NextSyncAt  *time.Time
	LastError   string
	Counts      map[string]int64
	ConnectedAt time.Time
}

const (
	StateConnected    = "connected"
	StateNeedsReauth  = "needs_reauth"
	StateDisconnected = "disconnected"
	StateError        = "error"
)

// connection is a connections row.
type connection struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	Provider   string
	State      string
	Sealed     []byte
	KeyID      *uuid.UUID
	Cursor     string
	LastSyncAt *time.Time
	NextSyncAt *time.Time
	LastError  *string
	Counts     map[string]int64
	CreatedAt  time.Time
}

const connColumns = `id, user_id, provider, state, credentials, key_id, sync_cursor, last_sync_at, next_sync_at, last_error, counts, created_at`

func scanConn(row pgx.Row) (*connection, error) {
	var c connection
	err := row.Scan(&c.ID, &c.UserID, &c.Provider, &c.State, &c.Sealed, &c.KeyID, &c.Cursor, &c.LastSyncAt, &c.NextSyncAt, &c.LastError, &c.Counts, &c.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *connection) status() *Status {
	st := &Status{Provider: c.Provider, State: c.State, LastSyncAt: c.LastSyncAt, NextSyncAt: c.NextSyncAt, Counts: c.Counts, ConnectedAt: c.CreatedAt}
	if c.LastError != nil {
		st.LastError = *c.LastError
	}
	if st.Counts == nil {
		st.Counts = map[string]int64{}
	}
	return st
}

func (s *Service) conn(ctx context.Context, q db.Querier, userID uuid.UUID, provider string) (*connection, error) {
	c, err := scanConn(q.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE user_id = $1 AND provider = $2`, userID, provider))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "not connected to %s", provider)
	}
	return c, err
}

// Status answers the user's connection to provider; a provider never
// connected answers state disconnected (an unknown provider 404).
func (s *Service) Status(ctx context.Context, userID uuid.UUID, provider string) (*Status, error) {
	if _, err := s.providerKnown(provider); err != nil {
		return nil, err
	}
	c, err := s.conn(ctx, s.o.DB.Pool, userID, provider)
	if apperr.Is(err, apperr.NotFound) {
		return &Status{Provider: provider, State: StateDisconnected, Counts: map[string]int64{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

// providerKnown checks the name is an enabled integration plugin without
// needing it running.
func (s *Service) providerKnown(name string) (plugin.PluginConfig, error) {
	for _, it := range s.items() {
		if it.Name == name {
			return it, nil
		}
	}
	return plugin.PluginConfig{}, apperr.New(apperr.NotFound, "no provider %q is enabled", name)
}

// AuthStart is the first step of an OAuth connect.
type AuthStart struct {
	AuthorizeURL string
	State        string
	ExpiresAt    time.Time
}

// StateTTL is how long an OAuth state may be used.
const StateTTL = 10 * time.Minute

// Connect connects the user to provider. Token providers (api_key, none)
// take token, check it with the provider and answer the status; OAuth
// providers take no token and answer where to send the user.
func (s *Service) Connect(ctx context.Context, userID uuid.UUID, provider, token string) (*Status, *AuthStart, error) {
	return s.ConnectWith(ctx, userID, &ConnectParams{Provider: provider, Token: token})
}

// ConnectParams say what to connect.
type ConnectParams struct {
	Provider string
	// Token is the API key or personal token of a token provider.
	Token string
	// Toolkit is, for a link provider (Composio), the app whose account to
	// connect; the plugin checks it (optional when it offers one).
	Toolkit string
}

// ConnectWith is Connect with every parameter: link providers (auth type
// link) take no token and answer, like OAuth providers, where to send the
// user (the outside system's connect page).
func (s *Service) ConnectWith(ctx context.Context, userID uuid.UUID, cp *ConnectParams) (*Status, *AuthStart, error) {
	provider, token := cp.Provider, cp.Token
	p, err := s.provider(provider)
	if err != nil {
		return nil, nil, err
	}
	if p.manifest.Auth.Type == sdk.AuthLink {
		if token != "" {
			return nil, nil, apperr.Field("token", "is not taken by this provider: send {} (or {\"toolkit\": ...}) and open authorize_url", nil)
		}
		var params map[string]string
		if cp.Toolkit != "" {
			params = map[string]string{"toolkit": cp.Toolkit}
		}
		a, err := s.startLink(ctx, userID, p, params)
		return nil, a, err
	}
	if cp.Toolkit != "" {
		return nil, nil, apperr.Field("toolkit", fmt.Sprintf("is only taken by providers that connect through a link; %s does not", provider), nil)
	}
	if p.manifest.Auth.Type == sdk.AuthOAuth2 {
		if token != "" {
			return nil, nil, apperr.Field("token", "is not taken by an OAuth provider: send {} and open authorize_url", nil)
		}
		a, err := s.startOAuth(ctx, userID, p)
		return nil, a, err
	}
	token = strings.TrimSpace(token)
	if p.manifest.Auth.Type == sdk.AuthAPIKey {
		if token == "" {
			return nil, nil, apperr.Field("token", "is required: the API key or personal token of your account", nil)
		}
		if len(token) > 4096 {
			return nil, nil, apperr.Field("token", "must be at most 4096 characters", nil)
		}
	}
	cred := &credentials{Token: token}
	if err := s.check(ctx, p, uuid.Nil, cred); err != nil {
		return nil, nil, err
	}
	st, err := s.save(ctx, userID, provider, cred, nil)
	return st, nil, err
}

// check asks the provider whether the credentials work: a one-record Sync
// when the plugin syncs (the cheapest call reaching the outside system),
// else Describe with the connection.
func (s *Service) check(ctx context.Context, p *providerInfo, connID uuid.UUID, cred *credentials) error {
	ic, err := s.o.Plugins.Integration(p.item.Name)
	if err != nil {
		return apperr.New(apperr.NotFound, "no provider %q is enabled", p.item.Name)
	}
	conn := sdkConnection(connID, cred)
	if p.manifest.Implements("Sync") {
		_, err = ic.Sync(ctx, &sdk.SyncRequest{Connection: conn, PageSize: 1})
	} else {
		_, err = ic.Describe(ctx, &sdk.DescribeRequest{Connection: conn})
	}
	var e *sdk.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e) && e.Code == sdk.CodeNeedsReauth:
		return apperr.Field("token", "the provider refused it: "+e.Message, nil)
	case errors.As(err, &e) && e.Code == sdk.CodeInvalidConfig:
		return apperr.Field("token", "the provider could not use it: "+e.Message, nil)
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited:
		return &apperr.Error{Code: apperr.RateLimited, Message: "the provider asks to slow down; try again later", RetryAfter: e.RetryAfter, Err: err}
	default:
		return &apperr.Error{Code: apperr.Unavailable, Message: "the provider could not be reached to check the credentials; try again later", Err: err}
	}
}

func sdkConnection(id uuid.UUID, cred *credentials) sdk.Connection {
	c := sdk.Connection{}
	if id != uuid.Nil {
		c.ID = id.String()
	}
	if cred.Token != "" {
		c.Secrets = map[string]string{"token": cred.Token}
	}
	if cred.AccountID != "" {
		if c.Secrets == nil {
			c.Secrets = map[string]string{}
		}
		c.Secrets[sdk.SecretAccountID] = cred.AccountID
	}
	if cred.AccessToken != "" {
		c.Token = &sdk.Token{AccessToken: cred.AccessToken, TokenType: cred.TokenType, Expiry: cred.Expiry}
	}
	return c
}

// save seals cred and upserts the user's connection as connected, in tx
// when given.
func (s *Service) save(ctx context.Context, userID uuid.UUID, provider string, cred *credentials, scopes []string) (*Status, error) {
	raw, err := json.Marshal(cred)
	if err != nil {
		return nil, err
	}
	keyID, sealed, err := s.keys.Seal(ctx, raw, credAD(userID, provider))
	if err != nil {
		return nil, err
	}
	if scopes == nil {
		scopes = []string{}
	}
	c, err := scanConn(s.o.DB.Pool.QueryRow(ctx, `INSERT INTO connections (user_id, provider, state, credentials, key_id, scopes, next_sync_at)
		VALUES ($1, $2, 'connected', $3, $4, $5, now())
		ON CONFLICT (user_id, provider) DO UPDATE SET state = 'connected', credentials = $3, key_id = $4, scopes = $5,
			last_error = NULL, next_sync_at = now(), updated_at = now()
		RETURNING `+connColumns, userID, provider, sealed, keyID, scopes))
	if err != nil {
		return nil, err
	}
	return c.status(), nil
}

// oauthConfig is the provider's OAuth client: endpoints from the manifest,
// overridden by the plugin item's config.auth_url and config.token_url;
// client id from config.client_id, secret from secret_env client_secret.
func (s *Service) oauthConfig(p *providerInfo) (*oauth2.Config, error) {
	o := p.manifest.Auth.OAuth2
	if o == nil {
		return nil, apperr.New(apperr.Invalid, "provider %q does not use OAuth", p.item.Name)
	}
	cfg := &oauth2.Config{
		ClientID:    p.item.Config["client_id"],
		RedirectURL: strings.TrimSuffix(s.o.PublicURL, "/") + "/api/external/callback/" + p.item.Name,
		Scopes:      o.Scopes,
		Endpoint:    oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	if v := p.item.Config["auth_url"]; v != "" {
		cfg.Endpoint.AuthURL = v
	}
	if v := p.item.Config["token_url"]; v != "" {
		cfg.Endpoint.TokenURL = v
	}
	if env, ok := p.item.SecretEnv["client_secret"]; ok {
		cfg.ClientSecret, _ = s.o.LookupEnv(env)
	}
	if cfg.ClientID == "" {
		return nil, &apperr.Error{Code: apperr.Unavailable, Message: fmt.Sprintf("provider %q has no client_id configured (plugins.items[].config.client_id)", p.item.Name)}
	}
	return cfg, nil
}

func stateHash(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

func (s *Service) startOAuth(ctx context.Context, userID uuid.UUID, p *providerInfo) (*AuthStart, error) {
	cfg, err := s.oauthConfig(p)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	hash := stateHash(state)
	var opts []oauth2.AuthCodeOption
	for k, v := range p.manifest.Auth.OAuth2.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	var sealed []byte
	var keyID *uuid.UUID
	if p.manifest.Auth.OAuth2.PKCE {
		verifier := oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
		id, ct, err := s.keys.Seal(ctx, []byte(verifier), AD("oauth_states", userID.String(), p.item.Name, "verifier:"+hex.EncodeToString(hash)))
		if err != nil {
			return nil, err
		}
		sealed, keyID = ct, &id
	}
	expires := time.Now().Add(StateTTL).UTC().Truncate(time.Second)
	if _, err := s.o.DB.Pool.Exec(ctx, `INSERT INTO oauth_states (state_hash, user_id, provider, verifier, key_id, redirect_uri, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, hash, userID, p.item.Name, sealed, keyID, cfg.RedirectURL, expires); err != nil {
		return nil, err
	}
	// Expired states of everyone go now and then.
	_, _ = s.o.DB.Pool.Exec(ctx, `DELETE FROM oauth_states WHERE expires_at < now() - interval '1 hour'`)
	return &AuthStart{AuthorizeURL: cfg.AuthCodeURL(state, opts...), State: state, ExpiresAt: expires}, nil
}

// ErrBadState says an OAuth callback's state is unknown, used, expired or
// for another provider (the API answers 400).
var ErrBadState = errors.New("the state is unknown, already used or expired: start connecting again")

// ErrCodeRefused says the provider did not exchange the callback's code.
var ErrCodeRefused = errors.New("the provider refused the authorization code: start connecting again")

// Callback finishes an OAuth connect: the state (single use, StateTTL)
// names the user; the code is exchanged for a token, which is saved.
func (s *Service) Callback(ctx context.Context, provider, code, state string) (*Status, error) {
	return s.CallbackWith(ctx, &CallbackParams{Provider: provider, Code: code, State: state})
}

// CallbackParams are what GET /external/callback/{provider} brings back.
type CallbackParams struct {
	Provider string
	State    string
	// Code is an OAuth provider's authorization code.
	Code string
	// AccountID is the account a link provider says was connected
	// (Composio's connected_account_id); optional, and refused when it is
	// not the one the link was made for.
	AccountID string
}

// callbackState is a consumed oauth_states row.
type callbackState struct {
	hash     []byte
	userID   uuid.UUID
	sealed   []byte
	keyID    *uuid.UUID
	redirect string
}

// takeState consumes a callback's state: single use, the row is gone
// whatever follows; unknown, used or expired is ErrBadState.
func (s *Service) takeState(ctx context.Context, provider, state string) (*callbackState, error) {
	if state == "" || len(state) > 200 {
		return nil, ErrBadState
	}
	cs := &callbackState{hash: stateHash(state)}
	var expires time.Time
	err := s.o.DB.Pool.QueryRow(ctx, `DELETE FROM oauth_states WHERE state_hash = $1 AND provider = $2
		RETURNING user_id, verifier, key_id, expires_at, redirect_uri`, cs.hash, provider).Scan(&cs.userID, &cs.sealed, &cs.keyID, &expires, &cs.redirect)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && time.Now().After(expires)) {
		return nil, ErrBadState
	}
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// CallbackWith finishes a connect that left for the provider's page: an
// OAuth code is exchanged for a token; a link provider is asked whether
// the account the link was made for is active (finishLink).
func (s *Service) CallbackWith(ctx context.Context, cp *CallbackParams) (*Status, error) {
	provider, code := cp.Provider, cp.Code
	cs, err := s.takeState(ctx, provider, cp.State)
	if err != nil {
		return nil, err
	}
	p, err := s.provider(provider)
	if err != nil {
		return nil, err
	}
	if p.manifest.Auth.Type == sdk.AuthLink {
		return s.finishLink(ctx, p, cs, cp.AccountID)
	}
	if code == "" || len(code) > 4096 {
		return nil, ErrCodeRefused
	}
	userID, sealed, keyID, redirect, hash := cs.userID, cs.sealed, cs.keyID, cs.redirect, cs.hash
	cfg, err := s.oauthConfig(p)
	if err != nil {
		return nil, err
	}
	cfg.RedirectURL = redirect
	var opts []oauth2.AuthCodeOption
	if sealed != nil && keyID != nil {
		v, err := s.keys.Open(ctx, *keyID, sealed, AD("oauth_states", userID.String(), provider, "verifier:"+hex.EncodeToString(hash)))
		if err != nil {
			return nil, err
		}
		opts = append(opts, oauth2.VerifierOption(string(v)))
	}
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.o.HTTPClient), code, opts...)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%w (%s)", ErrCodeRefused, re.ErrorCode)
		}
		return nil, &apperr.Error{Code: apperr.Unavailable, Message: "the provider's token endpoint could not be reached; start connecting again", Err: err}
	}
	return s.save(ctx, userID, provider, tokenCredentials(tok), cfg.Scopes)
}

// ReturnURL is integrations.return_url ("" when unset).
func (s *Service) ReturnURL() string { return s.o.ReturnURL }

func tokenCredentials(t *oauth2.Token) *credentials {
	return &credentials{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry}
}
