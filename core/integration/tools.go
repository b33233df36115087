package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/sdk"
)

// Tool is a tool an outside app offers a user through their connection
// (an integration plugin's ListTools).
type Tool struct {
	// Provider is the integration plugin, the connection's provider.
	Provider string
	// Name is the tool's name as the plugin knows it (ExecuteTool takes
	// it back).
	Name        string
	Description string
	// InputSchema is the JSON Schema of the arguments, as the plugin gave
	// it (unchecked).
	InputSchema json.RawMessage
	// ReadOnly: an admin listed the tool in the plugin item's
	// read_only_tools, vouching that it changes nothing outside.
	ReadOnly bool
}

// ToolsCacheTTL is how long the tools a connection offers are kept before
// the plugin is asked again.
const ToolsCacheTTL = time.Minute

// toolsCache keeps each connection's ListTools answer for ToolsCacheTTL.
type toolsCache struct {
	mu sync.Mutex
	m  map[uuid.UUID]toolsEntry
}

type toolsEntry struct {
	tools []sdk.Tool
	at    time.Time
}

func (c *toolsCache) get(id uuid.UUID, now time.Time) ([]sdk.Tool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || now.Sub(e.at) >= ToolsCacheTTL || now.Before(e.at) {
		return nil, false
	}
	return e.tools, true
}

func (c *toolsCache) put(id uuid.UUID, tools []sdk.Tool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[uuid.UUID]toolsEntry{}
	}
	if len(c.m) >= 4096 {
		for k, e := range c.m {
			if now.Sub(e.at) >= ToolsCacheTTL {
				delete(c.m, k)
			}
		}
	}
	c.m[id] = toolsEntry{tools: tools, at: now}
}

func (c *toolsCache) drop(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// offersTools reports whether a plugin's manifest says it offers agent
// tools (and, when its SDK lists its methods, implements ListTools).
func offersTools(m *sdk.Manifest) bool {
	return m != nil && m.Has(sdk.CapTools) && (len(m.Methods) == 0 || m.Implements("ListTools"))
}

// Tools lists the tools the user's connected outside apps offer: for each
// connected connection whose provider offers tools, its ListTools answer
// with the user's credentials (refreshed here when OAuth), kept
// ToolsCacheTTL per connection. A provider that cannot answer now is left
// out and logged (credentials it refuses turn the connection to
// needs_reauth, as a sync does); only a database failure is an error.
func (s *Service) Tools(ctx context.Context, userID uuid.UUID) ([]Tool, error) {
	if s.o.Plugins == nil {
		return nil, nil
	}
	rows, err := s.o.DB.Pool.Query(ctx, `SELECT `+connColumns+` FROM connections WHERE user_id = $1 AND state = 'connected' ORDER BY provider`, userID)
	if err != nil {
		return nil, fmt.Errorf("list connections with tools: %w", err)
	}
	conns, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*connection, error) { return scanConn(r) })
	if err != nil {
		return nil, fmt.Errorf("list connections with tools: %w", err)
	}
	var out []Tool
	for _, c := range conns {
		p, err := s.provider(c.Provider)
		if err != nil || !offersTools(p.manifest) {
			continue // disabled, not running yet, or no tools
		}
		list, err := s.listTools(ctx, c, p)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.o.Logger.WarnContext(ctx, "outside tools left out", "provider", c.Provider, "connection_id", c.ID, "error", err)
			continue
		}
		for _, t := range list {
			out = append(out, Tool{Provider: c.Provider, Name: t.Name, Description: t.Description, InputSchema: t.InputSchema,
				ReadOnly: slices.Contains(p.item.ReadOnlyTools, t.Name)})
		}
	}
	return out, nil
}

// listTools is the connection's ListTools answer, from the cache when it
// is fresh.
func (s *Service) listTools(ctx context.Context, c *connection, p *providerInfo) ([]sdk.Tool, error) {
	if list, ok := s.tools.get(c.ID, time.Now()); ok {
		return list, nil
	}
	ic, err := s.o.Plugins.Integration(c.Provider)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", c.Provider)
	}
	conn, err := s.connectionFor(ctx, c, p)
	if err != nil {
		return nil, s.toolFailed(ctx, c, err)
	}
	resp, err := ic.ListTools(ctx, &sdk.ListToolsRequest{Connection: conn})
	if err != nil {
		return nil, s.toolFailed(ctx, c, err)
	}
	s.tools.put(c.ID, resp.Tools, time.Now())
	return resp.Tools, nil
}

// ExecuteTool runs the tool name of the user's connection to provider
// with args (a JSON object) and answers the tool's JSON output, as the
// plugin gave it: outside data, not to be trusted. Failures are
// *apperr.Error with a message that says what to do: not connected (404),
// credentials refused (409; the connection turns to needs_reauth, as a
// sync does), rate limited (429 with the wait), the call refused (422),
// the plugin or the app unreachable (503).
func (s *Service) ExecuteTool(ctx context.Context, userID uuid.UUID, provider, name string, args json.RawMessage) (json.RawMessage, error) {
	if s.o.Plugins == nil {
		return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", provider)
	}
	p, err := s.provider(provider)
	if err != nil {
		return nil, err
	}
	if !offersTools(p.manifest) {
		return nil, apperr.New(apperr.NotFound, "%s offers no tools", s.displayName(provider))
	}
	if name == "" {
		return nil, apperr.Field("name", "is required: a tool of "+provider, nil)
	}
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	if args[0] != '{' || !json.Valid(args) {
		return nil, apperr.Field("arguments", "must be a JSON object", nil)
	}
	c, err := s.conn(ctx, s.o.DB.Pool, userID, provider)
	if err != nil {
		return nil, err
	}
	switch c.State {
	case StateConnected:
	case StateNeedsReauth:
		return nil, needsReauth(s.displayName(provider), nil)
	default:
		return nil, apperr.New(apperr.NotFound, "not connected to %s (state %s)", s.displayName(provider), c.State)
	}
	ic, err := s.o.Plugins.Integration(provider)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "no provider %q is enabled", provider)
	}
	conn, err := s.connectionFor(ctx, c, p)
	if err != nil {
		return nil, s.toolFailed(ctx, c, err)
	}
	resp, err := ic.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: conn, Name: name, Arguments: args})
	if err != nil {
		return nil, s.toolFailed(ctx, c, err)
	}
	if resp == nil || len(bytes.TrimSpace(resp.Output)) == 0 {
		return json.RawMessage(`null`), nil
	}
	return resp.Output, nil
}

// needsReauth is the error of a tool call whose connection's credentials
// were refused.
func needsReauth(display string, cause error) error {
	return &apperr.Error{Code: apperr.Conflict, Err: cause, Message: fmt.Sprintf("the connection to %s needs to be renewed: "+
		"%s refused its credentials, so the user must connect %s again (outside systems) before its tools work", display, display, display)}
}

// toolFailed turns a failed ListTools or ExecuteTool (or the credentials
// before it) into an *apperr.Error. Refused credentials turn the
// connection to needs_reauth (off the sync schedule), as a sync does; the
// plugin's own message, outside text, is kept short.
func (s *Service) toolFailed(ctx context.Context, c *connection, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	display := s.displayName(c.Provider)
	var e *sdk.Error
	var nr errNeedsReauth
	isSDK := errors.As(err, &e)
	msg := ""
	if isSDK {
		msg = clip(e.Message, 300)
	}
	switch {
	case errors.As(err, &nr) || (isSDK && e.Code == sdk.CodeNeedsReauth):
		s.tools.drop(c.ID)
		if _, uerr := s.o.DB.Pool.Exec(ctx, `UPDATE connections SET state = 'needs_reauth', next_sync_at = NULL, last_error = $1,
			updated_at = now() WHERE id = $2 AND state = 'connected'`, clip(err.Error(), 1000), c.ID); uerr != nil {
			return fmt.Errorf("mark connection %s needs_reauth: %w (after: %w)", c.ID, uerr, err)
		}
		return needsReauth(display, err)
	case isSDK && e.Code == sdk.CodeRateLimited:
		wait := "later"
		if e.RetryAfter > 0 {
			wait = "in " + e.RetryAfter.Round(time.Second).String()
			if e.RetryAfter < time.Second {
				wait = "in a second"
			}
		}
		return &apperr.Error{Code: apperr.RateLimited, RetryAfter: e.RetryAfter, Err: err,
			Message: fmt.Sprintf("%s asks to slow down (rate limited); try again %s", display, wait)}
	case isSDK && e.Code == sdk.CodeNotFound:
		return &apperr.Error{Code: apperr.NotFound, Err: err, Message: fmt.Sprintf("%s: not found: %s", display, msg)}
	case isSDK && e.Code == sdk.CodePermanent:
		return &apperr.Error{Code: apperr.Invalid, Err: err, Message: fmt.Sprintf("%s refused the call: %s", display, msg)}
	case isSDK && e.Code == sdk.CodeInvalidConfig:
		return &apperr.Error{Code: apperr.Unavailable, Err: err,
			Message: fmt.Sprintf("%s is not set up correctly (%s); an admin must fix its plugin settings", display, msg)}
	case isSDK && e.Code == sdk.CodeUnimplemented:
		return &apperr.Error{Code: apperr.Unavailable, Err: err, Message: fmt.Sprintf("%s does not offer tools", display)}
	case isSDK:
		return &apperr.Error{Code: apperr.Unavailable, RetryAfter: e.RetryAfter, Err: err,
			Message: fmt.Sprintf("%s could not run the tool now (%s: %s); try again later", display, e.Code, msg)}
	}
	return &apperr.Error{Code: apperr.Unavailable, Err: err, Message: fmt.Sprintf("%s could not be reached; try again later", display)}
}
