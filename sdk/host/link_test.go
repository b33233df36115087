package host_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

// linker makes links to a page it hosts and says the account is active
// once told so.
type linker struct {
	mu    sync.Mutex
	begin *sdk.BeginLinkRequest
	state sdk.LinkState
}

func (*linker) Describe(context.Context, *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "linker", DisplayName: "Linker", Version: "1", Auth: sdk.Auth{Type: sdk.AuthLink}}, nil
}

func (l *linker) BeginLink(_ context.Context, req *sdk.BeginLinkRequest) (*sdk.BeginLinkResponse, error) {
	if req.Params["toolkit"] == "nope" {
		return nil, sdk.InvalidConfig("params.toolkit: %q is not enabled", req.Params["toolkit"])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.begin = req
	return &sdk.BeginLinkResponse{URL: "https://connect.example/link/lt_1", AccountID: "ca_1",
		ExpiresAt: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}, nil
}

func (l *linker) CheckLink(_ context.Context, req *sdk.CheckLinkRequest) (*sdk.CheckLinkResponse, error) {
	if req.AccountID != "ca_1" {
		return nil, sdk.NotFound("no account %s", req.AccountID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return &sdk.CheckLinkResponse{State: l.state, Message: "because " + req.Connection.Secrets[sdk.SecretAccountID]}, nil
}

// BeginLink and CheckLink cross the wire with every field; a plugin
// without them answers unimplemented.
func TestLinkCrossesTheWire(t *testing.T) {
	impl := &linker{state: sdk.LinkPending}
	p := plugintest.Serve(t, sdk.ServeConfig{Integration: impl})
	ctx := context.Background()
	m, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{})
	if err != nil || m.Auth.Type != sdk.AuthLink || !m.Implements("BeginLink") || !m.Implements("CheckLink") || m.Validate() != nil {
		t.Fatalf("manifest %+v %v", m, err)
	}
	resp, err := p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Connection: sdk.Connection{ID: "c1"}, UserRef: "c1",
		CallbackURL: "https://host.example/cb?state=s", Params: map[string]string{"toolkit": "gmail"}})
	if err != nil || resp.URL != "https://connect.example/link/lt_1" || resp.AccountID != "ca_1" || !resp.ExpiresAt.Equal(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Fatalf("BeginLink %+v %v", resp, err)
	}
	impl.mu.Lock()
	got := impl.begin
	impl.mu.Unlock()
	if got.UserRef != "c1" || got.CallbackURL != "https://host.example/cb?state=s" || got.Params["toolkit"] != "gmail" || got.Connection.ID != "c1" {
		t.Fatalf("plugin got %+v", got)
	}
	_, err = p.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{Params: map[string]string{"toolkit": "nope"}})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig {
		t.Fatalf("refused param: %v", err)
	}
	st, err := p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{AccountID: "ca_1",
		Connection: sdk.Connection{Secrets: map[string]string{sdk.SecretAccountID: "ca_1"}}})
	if err != nil || st.State != sdk.LinkPending || st.Message != "because ca_1" {
		t.Fatalf("CheckLink %+v %v", st, err)
	}
	if _, err := p.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{AccountID: "ca_2"}); sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Fatalf("CheckLink of another account: %v", err)
	}

	plain := plugintest.Serve(t, sdk.ServeConfig{Integration: &echo{}})
	if _, err := plain.Integration.BeginLink(ctx, &sdk.BeginLinkRequest{}); sdk.CodeOf(err) != sdk.CodeUnimplemented {
		t.Fatalf("BeginLink on a plugin without links: %v", err)
	}
	if _, err := plain.Integration.CheckLink(ctx, &sdk.CheckLinkRequest{}); sdk.CodeOf(err) != sdk.CodeUnimplemented {
		t.Fatalf("CheckLink on a plugin without links: %v", err)
	}
}
