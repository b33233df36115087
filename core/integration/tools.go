package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/sdk"
)

// Tools of integrations (sdk.ToolProvider), run for one user's connection:
// the credentials are opened only for the call, and a provider that
// refuses them (an expired or revoked account) turns the connection to
// needs_reauth on that call, as a sync would.

// toolConnection opens the user's connected connection to provider for a
// tool call.
func (s *Service) toolConnection(ctx context.Context, userID uuid.UUID, provider string) (*connection, sdk.ToolProvider, sdk.Connection, error) {
	p, err := s.provider(provider)
	if err != nil {
		return nil, nil, sdk.Connection{}, err
	}
	if !p.manifest.Implements("ListTools") {
		return nil, nil, sdk.Connection{}, apperr.New(apperr.NotFound, "provider %q offers no tools", provider)
	}
	c, err := s.conn(ctx, s.o.DB.Pool, userID, provider)
	if err != nil {
		return nil, nil, sdk.Connection{}, err
	}
	if c.State != StateConnected {
		return nil, nil, sdk.Connection{}, apperr.New(apperr.NotFound, "not connected to %s (state %s): connect again", provider, c.State)
	}
	ic, err := s.o.Plugins.Integration(provider)
	if err != nil {
		return nil, nil, sdk.Connection{}, apperr.New(apperr.NotFound, "no provider %q is enabled", provider)
	}
	conn, err := s.connectionFor(ctx, c, p)
	if err != nil {
		return nil, nil, sdk.Connection{}, s.toolFailed(ctx, c, err)
	}
	return c, ic, conn, nil
}

// ListTools lists the tools the user's connection to provider offers.
func (s *Service) ListTools(ctx context.Context, userID uuid.UUID, provider string) ([]sdk.Tool, error) {
	c, ic, conn, err := s.toolConnection(ctx, userID, provider)
	if err != nil {
		return nil, err
	}
	resp, err := ic.ListTools(ctx, &sdk.ListToolsRequest{Connection: conn})
	if err != nil {
		return nil, s.toolFailed(ctx, c, err)
	}
	return resp.Tools, nil
}

// ExecuteTool runs the tool name of provider for the user with JSON
// arguments and answers its JSON output (untrusted text). Errors keep the
// plugin's *sdk.Error in their chain; refused credentials set the
// connection to needs_reauth.
func (s *Service) ExecuteTool(ctx context.Context, userID uuid.UUID, provider, name string, args json.RawMessage) (json.RawMessage, error) {
	c, ic, conn, err := s.toolConnection(ctx, userID, provider)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	resp, err := ic.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: conn, Name: name, Arguments: args})
	if err != nil {
		return nil, s.toolFailed(ctx, c, fmt.Errorf("tool %s: %w", name, err))
	}
	return resp.Output, nil
}

// toolFailed records refused credentials (needs_reauth, off the schedule)
// and returns err.
func (s *Service) toolFailed(ctx context.Context, c *connection, err error) error {
	var e *sdk.Error
	var nr errNeedsReauth
	if errors.As(err, &nr) || (errors.As(err, &e) && e.Code == sdk.CodeNeedsReauth) {
		if _, uerr := s.o.DB.Pool.Exec(ctx, `UPDATE connections SET state = 'needs_reauth', next_sync_at = NULL, last_error = $1, updated_at = now()
			WHERE id = $2 AND state = 'connected'`, err.Error(), c.ID); uerr != nil {
			return errors.Join(err, uerr)
		}
	}
	return err
}
