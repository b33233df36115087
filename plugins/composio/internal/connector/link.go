package connector

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// linkRequest is POST /api/v3/connected_accounts/link's body.
type linkRequest struct {
	AuthConfigID string `json:"auth_config_id"`
	UserID       string `json:"user_id"`
	CallbackURL  string `json:"callback_url,omitempty"`
}

// linkResponse is its 201 answer.
type linkResponse struct {
	LinkToken          string `json:"link_token"`
	RedirectURL        string `json:"redirect_url"`
	ExpiresAt          string `json:"expires_at"`
	ConnectedAccountID string `json:"connected_account_id"`
}

// connectedAccount is GET /api/v3/connected_accounts/{nanoid}'s answer, the
// fields read.
type connectedAccount struct {
	ID      string `json:"id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Toolkit struct {
		Slug string `json:"slug"`
	} `json:"toolkit"`
	StatusReason *string `json:"status_reason"`
	IsDisabled   bool    `json:"is_disabled"`
}

// BeginLink makes a Composio connect link for the toolkit the user chose
// (params.toolkit; optional when one toolkit is enabled), under the auth
// config the admin set for it. Composio's user id is the host's UserRef, so
// every account a user links sits under one Composio user.
func (p *Plugin) BeginLink(ctx context.Context, req *sdk.BeginLinkRequest) (*sdk.BeginLinkResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	for k := range req.Params {
		if k != "toolkit" {
			return nil, sdk.InvalidConfig("params.%s: is not taken; Composio takes toolkit", k)
		}
	}
	if len(s.toolkits) == 0 {
		return nil, sdk.InvalidConfig("config.%s: no toolkit is enabled", KeyToolkits)
	}
	slug := strings.ToLower(strings.TrimSpace(req.Params["toolkit"]))
	var tk *toolkit
	switch {
	case slug == "" && len(s.toolkits) == 1:
		tk = &s.toolkits[0]
	case slug == "":
		return nil, sdk.InvalidConfig("params.toolkit: is required: one of %s", s.slugs())
	default:
		for i := range s.toolkits {
			if s.toolkits[i].Slug == slug {
				tk = &s.toolkits[i]
			}
		}
		if tk == nil {
			return nil, sdk.InvalidConfig("params.toolkit: %q is not one of the enabled toolkits (%s)", req.Params["toolkit"], s.slugs())
		}
	}
	if tk.AuthConfig == "" {
		return nil, sdk.InvalidConfig("config.%s: toolkit %s has no auth config", KeyAuthConfigs, tk.Slug)
	}
	if req.UserRef == "" {
		return nil, sdk.Permanent("BeginLink needs the host's UserRef")
	}
	var out linkResponse
	err = c.do(ctx, http.MethodPost, "/api/v3/connected_accounts/link", nil,
		&linkRequest{AuthConfigID: tk.AuthConfig, UserID: req.UserRef, CallbackURL: req.CallbackURL}, &out)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil, sdk.InvalidConfig("config.%s: Composio knows no auth config %s for toolkit %s: %v", KeyAuthConfigs, tk.AuthConfig, tk.Slug, err)
		}
		return nil, err
	}
	if u, perr := url.Parse(out.RedirectURL); perr != nil || u.Host == "" || out.ConnectedAccountID == "" {
		return nil, sdk.Temporary("POST /api/v3/connected_accounts/link: Composio answered no redirect_url or connected_account_id")
	}
	resp := &sdk.BeginLinkResponse{URL: out.RedirectURL, AccountID: out.ConnectedAccountID}
	if t, perr := time.Parse(time.RFC3339, out.ExpiresAt); perr == nil {
		resp.ExpiresAt = t
	}
	p.rememberAccount(s.baseURL, out.ConnectedAccountID, tk.Slug)
	return resp, nil
}

// account reads a connected account; a gone one is not_found.
func (p *Plugin) account(ctx context.Context, s *settings, c *client, id string) (*connectedAccount, error) {
	var a connectedAccount
	if err := c.do(ctx, http.MethodGet, "/api/v3/connected_accounts/"+url.PathEscape(id), nil, nil, &a); err != nil {
		return nil, err
	}
	if a.Toolkit.Slug != "" {
		p.rememberAccount(s.baseURL, id, a.Toolkit.Slug)
	}
	return &a, nil
}

// linkState maps Composio's account status (INITIALIZING, INITIATED,
// ACTIVE, FAILED, EXPIRED, INACTIVE).
func linkState(a *connectedAccount) (sdk.LinkState, string) {
	reason := ""
	if a.StatusReason != nil {
		reason = *a.StatusReason
	}
	if a.IsDisabled {
		return sdk.LinkFailed, strings.TrimSpace("the account is disabled on Composio " + reason)
	}
	switch strings.ToUpper(a.Status) {
	case "ACTIVE":
		return sdk.LinkActive, ""
	case "INITIALIZING", "INITIATED":
		return sdk.LinkPending, reason
	case "EXPIRED":
		return sdk.LinkExpired, reason
	case "INACTIVE":
		return sdk.LinkExpired, strings.TrimSpace("the account is inactive on Composio " + reason)
	default:
		return sdk.LinkFailed, strings.TrimSpace(fmt.Sprintf("status %s %s", a.Status, reason))
	}
}

// CheckLink reads the connected account's status.
func (p *Plugin) CheckLink(ctx context.Context, req *sdk.CheckLinkRequest) (*sdk.CheckLinkResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	if req.AccountID == "" {
		return nil, sdk.NotFound("no connected account id")
	}
	a, err := p.account(ctx, s, c, req.AccountID)
	if err != nil {
		return nil, err
	}
	if s.toolkitOfAccount(a.Toolkit.Slug) == nil {
		return &sdk.CheckLinkResponse{State: sdk.LinkFailed, Message: fmt.Sprintf("toolkit %s is not enabled", a.Toolkit.Slug)}, nil
	}
	st, msg := linkState(a)
	return &sdk.CheckLinkResponse{State: st, Message: msg}, nil
}

func (s *settings) toolkitOfAccount(slug string) *toolkit {
	for i := range s.toolkits {
		if s.toolkits[i].Slug == strings.ToLower(slug) {
			return &s.toolkits[i]
		}
	}
	return nil
}
