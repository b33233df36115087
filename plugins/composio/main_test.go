package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/plugins/composio/composiotest"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

const pinned = "20250901_00"

// connection is a plugin-level connection to s (no linked account) with
// the settings kv overlaid.
func connection(s *composiotest.Server, kv ...string) sdk.Connection {
	c := sdk.Connection{ID: "conn-1", Config: map[string]string{"base_url": s.BaseURL(), "toolkits": "gmail@" + pinned,
		"auth_configs": "gmail=ac_gmail", "page_size": "7"},
		Secrets: map[string]string{"api_key": composiotest.APIKey}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Config[kv[i]] = kv[i+1]
	}
	return c
}

// linked is connection with a linked account.
func linked(s *composiotest.Server, account string) sdk.Connection {
	c := connection(s)
	c.Secrets[sdk.SecretAccountID] = account
	return c
}

func code(err error) (sdk.Code, time.Duration) {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code, e.RetryAfter
	}
	return "", 0
}

// TestPluginProcess builds the plugin and calls it over gRPC as its own
// process, started the way the host starts plugins, against the local
// Composio.
func TestPluginProcess(t *testing.T) {
	s := composiotest.Start(t, composiotest.Options{Tools: sharedfixtures.Read(t, "composio", "gmail-tools-list.json")})
	bin := plugintest.Build(t, ".")
	p := plugintest.Start(t, bin)
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		plugintest.RunIntegration(t, p, conformance.Options{Connection: linked(s, s.AddAccount("conn-1", "gmail"))})
	})

	t.Run("manifest", func(t *testing.T) {
		m, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: connection(s)})
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "composio" || m.Auth.Type != sdk.AuthLink || m.Auth.OAuth2 != nil || !m.Has(sdk.CapTools) ||
			!m.Implements("BeginLink") || !m.Implements("CheckLink") || !m.Implements("ExecuteTool") || m.Implements("Sync") || m.Validate() != nil {
			t.Fatalf("manifest %+v (%v)", m, m.Validate())
		}
		for key, v := range map[string]string{"base_url": "backend.composio.dev", "toolkits": "gmail", "auth_configs": "slack=ac_1",
			"page_size": "1001"} {
			_, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: connection(s, key, v)})
			if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "config."+key) {
				t.Errorf("%s=%q: %v", key, v, err)
			}
		}
	})

	t.Run("tools of the pinned toolkit across pages", func(t *testing.T) {
		s.ResetLog()
		resp, err := p.Integration.ListTools(ctx, &sdk.ListToolsRequest{Connection: connection(s)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range resp.Tools {
			names = append(names, tool.Name)
			var schema map[string]any
			if err := json.Unmarshal(tool.InputSchema, &schema); err != nil || schema["type"] != "object" {
				t.Errorf("%s: input schema %s (%v)", tool.Name, tool.InputSchema, err)
			}
			if tool.Description == "" {
				t.Errorf("%s has no description", tool.Name)
			}
		}
		want := s.ToolSlugs("gmail")
		if len(want) < 15 || !slices.Equal(names, want) {
			t.Fatalf("tools %v, want the %d of the catalogue %v", names, len(want), want)
		}
		var send *sdk.Tool
		for i := range resp.Tools {
			if resp.Tools[i].Name == "GMAIL_REPLY_TO_THREAD" {
				send = &resp.Tools[i]
			}
		}
		if send == nil || !strings.Contains(string(send.InputSchema), `"thread_id"`) {
			t.Errorf("GMAIL_REPLY_TO_THREAD's schema lost its fields: %+v", send)
		}
		log := s.Log()
		pages := (len(want) + 6) / 7
		if len(log) != pages {
			t.Fatalf("%d requests for %d tools in pages of 7, want %d: %+v", len(log), len(want), pages, log)
		}
		for i, r := range log {
			if r.Path != "/api/v3/tools" || r.APIKey != composiotest.APIKey || r.Query.Get("toolkit_slug") != "gmail" ||
				r.Query.Get("toolkit_versions[gmail]") != pinned || r.Query.Get("limit") != "7" || (i == 0) != (r.Query.Get("cursor") == "") {
				t.Errorf("request %d: %s %v key %q", i, r.Path, r.Query, r.APIKey)
			}
		}
	})

	t.Run("execution runs the pinned version for the linked account", func(t *testing.T) {
		acc := s.AddAccount("conn-1", "gmail")
		s.ResetLog()
		resp, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "GMAIL_FETCH_EMAILS",
			Arguments: json.RawMessage(`{"max_results": 3, "query": "is:unread"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Tool      string         `json:"tool"`
			Version   string         `json:"version"`
			Account   string         `json:"connected_account_id"`
			Arguments map[string]any `json:"arguments"`
		}
		if err := json.Unmarshal(resp.Output, &out); err != nil || out.Tool != "GMAIL_FETCH_EMAILS" || out.Version != pinned ||
			out.Account != acc || out.Arguments["query"] != "is:unread" {
			t.Fatalf("output %s (%v)", resp.Output, err)
		}
		var body map[string]any
		log := s.Log()
		last := log[len(log)-1]
		if err := json.Unmarshal(last.Body, &body); err != nil || last.Method != http.MethodPost || last.Path != "/api/v3/tools/execute/GMAIL_FETCH_EMAILS" ||
			body["user_id"] != "conn-1" || body["connected_account_id"] != acc || body["version"] != pinned {
			t.Errorf("execute request %s %s %s", last.Method, last.Path, last.Body)
		}

		_, err = p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "SLACK_SEND_MESSAGE", Arguments: json.RawMessage(`{}`)})
		if c, _ := code(err); c != sdk.CodeNotFound {
			t.Errorf("a tool of a toolkit not enabled: %v", err)
		}
		_, err = p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "GMAIL_FETCH_EMAILS", Arguments: json.RawMessage(`[1]`)})
		if c, _ := code(err); c != sdk.CodePermanent {
			t.Errorf("arguments that are not an object: %v", err)
		}
	})

	t.Run("successful false is an error with Composio's message", func(t *testing.T) {
		acc := s.AddAccount("conn-1", "gmail")
		s.Unsuccessful("GMAIL_CREATE_LABEL", "Label name exists or conflicts")
		_, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "GMAIL_CREATE_LABEL",
			Arguments: json.RawMessage(`{"label_name": "Receipts"}`)})
		if c, _ := code(err); c != sdk.CodePermanent || !strings.Contains(err.Error(), "Label name exists or conflicts") {
			t.Fatalf("successful false: %v", err)
		}
	})

	t.Run("an expired account needs re-auth", func(t *testing.T) {
		acc := s.AddAccount("conn-1", "gmail")
		s.Expire(acc)
		_, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "GMAIL_LIST_LABELS", Arguments: json.RawMessage(`{}`)})
		if c, _ := code(err); c != sdk.CodeNeedsReauth || !strings.Contains(err.Error(), "not active") {
			t.Fatalf("expired account: %v", err)
		}
		st, err := p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{Connection: connection(s), AccountID: acc})
		if err != nil || st.State != sdk.LinkExpired || !strings.Contains(st.Message, "revoked") {
			t.Errorf("CheckLink of the expired account: %+v %v", st, err)
		}
		_, err = p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, "ca_gone"), Name: "GMAIL_LIST_LABELS", Arguments: json.RawMessage(`{}`)})
		if c, _ := code(err); c != sdk.CodeNeedsReauth {
			t.Errorf("an account that is gone: %v", err)
		}
	})

	t.Run("429 is a rate limit with Retry-After", func(t *testing.T) {
		acc := s.AddAccount("conn-1", "gmail")
		if _, err := p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{Connection: connection(s), AccountID: acc}); err != nil {
			t.Fatal(err)
		}
		s.Fail(1, http.StatusTooManyRequests, 30*time.Second)
		_, err := p.Integration.ExecuteTool(ctx, &sdk.ExecuteToolRequest{Connection: linked(s, acc), Name: "GMAIL_LIST_LABELS", Arguments: json.RawMessage(`{}`)})
		if c, wait := code(err); c != sdk.CodeRateLimited || wait != 30*time.Second {
			t.Fatalf("429 on execute: %v", err)
		}
		s.Fail(1, http.StatusTooManyRequests, 7*time.Second)
		_, err = p.Integration.ListTools(ctx, &sdk.ListToolsRequest{Connection: connection(s)})
		if c, wait := code(err); c != sdk.CodeRateLimited || wait != 7*time.Second {
			t.Fatalf("429 on listing: %v", err)
		}
	})

	t.Run("a refused API key is the admin's config, not the user's", func(t *testing.T) {
		c := connection(s)
		c.Secrets["api_key"] = "ak_wrong"
		_, err := p.Integration.ListTools(ctx, &sdk.ListToolsRequest{Connection: c})
		if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "API key") {
			t.Fatalf("wrong key: %v", err)
		}
		delete(c.Secrets, "api_key")
		_, err = p.Integration.ListTools(ctx, &sdk.ListToolsRequest{Connection: c})
		if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "secret_env.api_key") {
			t.Fatalf("no key: %v", err)
		}
	})

	t.Run("link: begin, connect page, check", func(t *testing.T) {
		two := connection(s, "toolkits", "gmail@"+pinned+",slack@20250930_00")
		_, err := p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: two, UserRef: "conn-9", CallbackURL: "https://c.example/cb?state=x"})
		if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.HasPrefix(err.Error(), "invalid_config: params.toolkit: is required") {
			t.Errorf("no toolkit among two: %v", err)
		}
		_, err = p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: two, UserRef: "conn-9", Params: map[string]string{"toolkit": "notion"}})
		if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "params.toolkit: \"notion\" is not one of the enabled toolkits (gmail, slack)") {
			t.Errorf("unknown toolkit: %v", err)
		}
		_, err = p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: two, UserRef: "conn-9", Params: map[string]string{"toolkit": "slack"}})
		if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "config.auth_configs") {
			t.Errorf("a toolkit without an auth config: %v", err)
		}

		s.ResetLog()
		resp, err := p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: connection(s), UserRef: "conn-9",
			CallbackURL: "https://c.example/api/external/callback/composio?state=abc"})
		if err != nil || resp.AccountID == "" || !strings.HasPrefix(resp.URL, s.URL+"/link/") || resp.ExpiresAt.IsZero() {
			t.Fatalf("BeginLink %+v %v", resp, err)
		}
		var body map[string]any
		if log := s.Log(); len(log) != 1 || json.Unmarshal(log[0].Body, &body) != nil || body["auth_config_id"] != "ac_gmail" ||
			body["user_id"] != "conn-9" || body["callback_url"] != "https://c.example/api/external/callback/composio?state=abc" {
			t.Fatalf("link request %+v", log)
		}
		st, err := p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{Connection: connection(s), AccountID: resp.AccountID})
		if err != nil || st.State != sdk.LinkPending {
			t.Fatalf("before the connect page: %+v %v", st, err)
		}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r, err := noRedirect.Get(resp.URL)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if loc := r.Header.Get("Location"); r.StatusCode != http.StatusFound ||
			loc != "https://c.example/api/external/callback/composio?connected_account_id="+resp.AccountID+"&state=abc&status=success" {
			t.Fatalf("connect page: %d to %q", r.StatusCode, loc)
		}
		st, err = p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{Connection: connection(s), AccountID: resp.AccountID})
		if err != nil || st.State != sdk.LinkActive {
			t.Fatalf("after the connect page: %+v %v", st, err)
		}
		_, err = p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{Connection: connection(s), AccountID: "ca_nosuch"})
		if c, _ := code(err); c != sdk.CodeNotFound {
			t.Errorf("CheckLink of an unknown account: %v", err)
		}
	})
}
