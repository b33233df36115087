// Command connplugin is an integration plugin for core/integration's tests.
// Its auth type is the item's config "auth" (api_key or oauth2). Sync
// accepts the API key "good-token", or an OAuth access token starting with
// "good-", and answers three tasks over two pages; each record's Data
// carries the access token it was called with.
package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

type conn struct{}

func (conn) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	m := &sdk.Manifest{Name: "connplugin", DisplayName: "Conn test", Version: "0.1.0",
		Capabilities: []sdk.Capability{sdk.CapTasksPull}}
	if req.Connection.Config["auth"] == "oauth2" {
		m.Auth = sdk.Auth{Type: sdk.AuthOAuth2, OAuth2: &sdk.OAuth2{
			AuthURL: "https://auth.example.invalid/authorize", TokenURL: "https://auth.example.invalid/token",
			Scopes: []string{"tasks:read"}, PKCE: true, AuthParams: map[string]string{"access_type": "offline"}}}
	} else {
		m.Auth = sdk.Auth{Type: sdk.AuthAPIKey}
	}
	return m, nil
}

func (conn) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	c := req.Connection
	access := ""
	if c.Token != nil {
		access = c.Token.AccessToken
		if !strings.HasPrefix(access, "good-") {
			return nil, sdk.NeedsReauth("access token %q refused", access)
		}
	} else if c.Secrets["token"] != "good-token" {
		return nil, sdk.NeedsReauth("API key refused")
	}
	if c.Secrets["refresh_token"] != "" {
		return nil, sdk.Permanent("a refresh token reached the plugin")
	}
	data, _ := json.Marshal(map[string]string{"access_token": access})
	rec := func(id, title string) sdk.Record {
		return sdk.Record{ExternalID: id, Kind: sdk.RecordTask, URL: "https://tasks.example/" + id, UpdatedAt: time.Now(),
			Task: &sdk.Task{Title: title, Status: sdk.TaskOpen}, Data: data}
	}
	switch req.Cursor {
	case "", "v1:done":
		if req.Cursor == "v1:done" {
			return &sdk.SyncResponse{NextCursor: "v1:done"}, nil
		}
		return &sdk.SyncResponse{Upserts: []sdk.Record{rec("t1", "First outside task"), rec("t2", "Second outside task")},
			NextCursor: "v1:page2", HasMore: true}, nil
	case "v1:page2":
		return &sdk.SyncResponse{Upserts: []sdk.Record{rec("t3", "Third outside task")}, NextCursor: "v1:done"}, nil
	}
	return nil, sdk.Permanent("bad cursor %q", req.Cursor)
}

func main() { sdk.Serve(sdk.ServeConfig{Integration: conn{}}) }
