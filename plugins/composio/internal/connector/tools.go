package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// maxToolPages bounds one toolkit's listing (a cursor that never ends).
const maxToolPages = 1000

// toolsPage is GET /api/v3/tools's answer (components.schemas.ToolsPaginated),
// the fields read.
type toolsPage struct {
	Items      []apiTool `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// apiTool is components.schemas.Tool, the fields read.
type apiTool struct {
	Slug            string          `json:"slug"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	InputParameters json.RawMessage `json:"input_parameters"`
	Version         string          `json:"version"`
	IsDeprecated    bool            `json:"is_deprecated"`
	Toolkit         struct {
		Slug string `json:"slug"`
	} `json:"toolkit"`
}

// ListTools lists the tools of every enabled toolkit at its pinned version,
// through every page: the name is Composio's tool slug (GMAIL_SEND_EMAIL),
// the schema its input_parameters JSON Schema.
func (p *Plugin) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (*sdk.ListToolsResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	out := &sdk.ListToolsResponse{Tools: []sdk.Tool{}}
	seen := map[string]bool{}
	for _, tk := range s.toolkits {
		cursor := ""
		cursors := map[string]bool{}
		for page := 0; ; page++ {
			if page == maxToolPages {
				return nil, sdk.Temporary("GET /api/v3/tools: toolkit %s has more than %d pages of tools", tk.Slug, maxToolPages)
			}
			q := url.Values{"toolkit_slug": {tk.Slug}, "toolkit_versions[" + tk.Slug + "]": {tk.Version},
				"limit": {strconv.Itoa(s.pageSize)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var pg toolsPage
			if err := c.do(ctx, http.MethodGet, "/api/v3/tools", q, nil, &pg); err != nil {
				return nil, err
			}
			for _, t := range pg.Items {
				if t.Slug == "" || seen[t.Slug] || (t.Toolkit.Slug != "" && !strings.EqualFold(t.Toolkit.Slug, tk.Slug)) {
					continue
				}
				seen[t.Slug] = true
				out.Tools = append(out.Tools, sdk.Tool{Name: t.Slug, Description: description(&t), InputSchema: inputSchema(t.InputParameters)})
			}
			if pg.NextCursor == nil || *pg.NextCursor == "" {
				break
			}
			if cursors[*pg.NextCursor] {
				return nil, sdk.Temporary("GET /api/v3/tools: Composio answered cursor %q twice for toolkit %s", *pg.NextCursor, tk.Slug)
			}
			cursors[*pg.NextCursor] = true
			cursor = *pg.NextCursor
		}
	}
	return out, nil
}

func description(t *apiTool) string {
	d := strings.TrimSpace(t.Description)
	if t.Name != "" && !strings.HasPrefix(d, t.Name) {
		d = strings.TrimSpace(t.Name + ": " + d)
	}
	return d
}

// inputSchema keeps Composio's JSON Schema of the arguments; a missing or
// non-object one becomes the schema of any object.
func inputSchema(raw json.RawMessage) json.RawMessage {
	var v map[string]any
	if json.Unmarshal(raw, &v) != nil || v == nil {
		return json.RawMessage(`{"type":"object"}`)
	}
	return raw
}

// executeRequest is POST /api/v3/tools/execute/{tool_slug}'s body.
type executeRequest struct {
	ConnectedAccountID string          `json:"connected_account_id,omitempty"`
	UserID             string          `json:"user_id,omitempty"`
	Version            string          `json:"version"`
	Arguments          json.RawMessage `json:"arguments"`
}

// executeResponse is its 200 answer.
type executeResponse struct {
	Data       json.RawMessage `json:"data"`
	Error      *string         `json:"error"`
	Successful bool            `json:"successful"`
	LogID      string          `json:"log_id"`
}

// ExecuteTool runs a tool of an enabled toolkit at its pinned version for
// the connection's user: with the linked account (Connection.Secrets
// account_id) when the tool is of that account's toolkit, else as the
// Composio user (the connection id), whose account for the toolkit
// Composio picks. An answer with successful: false is a permanent error
// carrying Composio's message; an account that is not active (422, or a
// 404 for an account that is gone or not active) is needs_reauth.
func (p *Plugin) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (*sdk.ExecuteToolResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	tk := s.toolkitOfTool(req.Name)
	if tk == nil {
		return nil, sdk.NotFound("no tool %q: it is not of an enabled toolkit (%s)", req.Name, s.slugs())
	}
	args := bytes.TrimSpace(req.Arguments)
	if len(args) == 0 || string(args) == "null" {
		args = []byte(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
		return nil, sdk.Permanent("%s: the arguments must be a JSON object", req.Name)
	}
	account := req.Connection.Secrets[sdk.SecretAccountID]
	if account == "" {
		return nil, sdk.NeedsReauth("no Composio account is linked to this connection: connect again")
	}
	body := &executeRequest{UserID: req.Connection.ID, Version: tk.Version, Arguments: args}
	accTK, ok := p.accountToolkit(s.baseURL, account)
	if !ok {
		a, err := p.account(ctx, s, c, account)
		switch {
		case statusOf(err) == http.StatusNotFound:
			return nil, sdk.NeedsReauth("the linked Composio account %s is gone: connect again", account)
		case err != nil:
			return nil, err
		}
		accTK = a.Toolkit.Slug
	}
	if strings.EqualFold(accTK, tk.Slug) {
		body.ConnectedAccountID = account
	}
	var out executeResponse
	err = c.do(ctx, http.MethodPost, "/api/v3/tools/execute/"+url.PathEscape(req.Name), nil, body, &out)
	if err != nil {
		return nil, p.executeError(ctx, s, c, req.Name, body.ConnectedAccountID, err)
	}
	if !out.Successful {
		msg := "no reason given"
		if out.Error != nil && strings.TrimSpace(*out.Error) != "" {
			msg = strings.TrimSpace(*out.Error)
		}
		return nil, sdk.Permanent("%s failed on Composio: %s", req.Name, msg)
	}
	data := bytes.TrimSpace(out.Data)
	if len(data) == 0 {
		data = []byte(`null`)
	}
	return &sdk.ExecuteToolResponse{Output: data}, nil
}

// executeError refines an execute failure by what the spec says of its
// statuses: 422 is an account in an invalid state (needs_reauth), 404 a
// tool or an account not found (the account is read to tell which), 403
// the account may not run the tool.
func (p *Plugin) executeError(ctx context.Context, s *settings, c *client, tool, account string, err error) error {
	switch statusOf(err) {
	case http.StatusUnprocessableEntity:
		return sdk.NeedsReauth("%s: Composio says the connected account is not active: %v", tool, err)
	case http.StatusForbidden:
		return sdk.Permanent("%s: Composio does not let the connected account run this tool: %v", tool, err)
	case http.StatusNotFound:
		if account == "" {
			return sdk.NotFound("%s: %v", tool, err)
		}
		a, aerr := p.account(ctx, s, c, account)
		switch {
		case statusOf(aerr) == http.StatusNotFound:
			return sdk.NeedsReauth("%s: the linked Composio account %s is gone: connect again", tool, account)
		case aerr != nil:
			return err
		}
		if st, msg := linkState(a); st != sdk.LinkActive {
			return sdk.NeedsReauth("%s: the linked Composio account is %s %s: connect again", tool, st, msg)
		}
		return sdk.NotFound("%s: %v", tool, err)
	}
	return fmt.Errorf("%s: %w", tool, err)
}
