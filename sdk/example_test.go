package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// notes is a tiny integration used by the examples.
type notes struct{}

func (notes) Describe(ctx context.Context, req *sdk.DescribeRequest) (*sdk.Manifest, error) {
	return &sdk.Manifest{Name: "notes", DisplayName: "Notes", Version: "1.0.0",
		Auth:         sdk.Auth{Type: sdk.AuthAPIKey},
		Capabilities: []sdk.Capability{sdk.CapTasksPull}}, nil
}

func (notes) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	key, err := req.Connection.Secret("api_key")
	if err != nil {
		return nil, err
	}
	_ = key // call the outside system with it
	return &sdk.SyncResponse{NextCursor: "since:now"}, nil
}

// A plugin's main is one call. The host starts the binary; run it through
// `consilium plugins check ./notes` to try it by hand.
func ExampleServe() {
	sdk.Serve(sdk.ServeConfig{Integration: notes{}})
}

// Map what the outside system says to a typed error: the host turns it into a
// snooze, a retry, or a connection that needs the user.
func ExampleRateLimited() {
	fromUpstream := func(status int, retryAfter time.Duration) error {
		switch status {
		case http.StatusUnauthorized:
			return sdk.NeedsReauth("the token was revoked")
		case http.StatusTooManyRequests:
			return sdk.RateLimited(retryAfter, "upstream quota exhausted")
		case http.StatusNotFound:
			return sdk.NotFound("task is gone")
		default:
			return sdk.Temporary("upstream answered %d", status)
		}
	}
	err := fromUpstream(429, 30*time.Second)
	fmt.Println(err)
	fmt.Println(errors.Is(err, sdk.ErrRateLimited), sdk.CodeOf(err))

	var e *sdk.Error
	if errors.As(fmt.Errorf("sync page 3: %w", err), &e) {
		fmt.Println("retry after", e.RetryAfter)
	}
	// Output:
	// rate_limited: upstream quota exhausted (retry after 30s)
	// true rate_limited
	// retry after 30s
}

func ExampleConnection_Secret() {
	c := sdk.Connection{ID: "acct-1", Config: map[string]string{"workspace": "42"}}
	_, err := c.Secret("api_key")
	fmt.Println(err)
	fmt.Println(c.Setting("workspace", "default"), c.Setting("region", "eu"))
	// Output:
	// invalid_config: secret "api_key" is not set
	// 42 eu
}

func ExampleManifest_Validate() {
	m := sdk.Manifest{Name: "My Plugin", DisplayName: "Mine", Version: "1.0.0",
		Auth: sdk.Auth{Type: sdk.AuthOAuth2}}
	fmt.Println(m.Validate())
	// Output:
	// manifest.name: "My Plugin" must be lower case letters, digits, '-' or '_', starting with a letter, at most 63 characters
	// manifest.auth.oauth2: is required when auth.type is oauth2
}

// Logs and progress go to the host, attributed to the plugin and the call.
func ExampleLogger() {
	sync := func(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
		log := sdk.Logger(ctx).With("connection", req.Connection.ID)
		for page := int64(1); page <= 3; page++ {
			_ = sdk.ReportProgress(ctx, sdk.Progress{Done: page, Total: 3, Message: "fetching"})
		}
		log.Info("sync finished", "pages", 3)
		return &sdk.SyncResponse{NextCursor: "c"}, nil
	}
	_, _ = sync(context.Background(), &sdk.SyncRequest{})
}
