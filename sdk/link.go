package sdk

import (
	"context"
	"time"
)

// Linker is implemented by integrations whose auth type is AuthLink: the
// outside system hosts the page where the user connects an account (a
// connected-account link, as Composio's), and the plugin makes the link and
// later reads the account's state. The host keeps the account id the link
// named, sealed like every credential, and sends it on every call of that
// connection as Connection.Secrets[SecretAccountID].
//
// The flow: the host calls BeginLink with the callback URL (its own
// /api/external/callback/{provider}?state=...), sends the user to the
// answer's URL, and when the outside system sends the browser back to the
// callback it calls CheckLink with the account id; only an active account
// is saved.
type Linker interface {
	BeginLink(ctx context.Context, req *BeginLinkRequest) (*BeginLinkResponse, error)
	CheckLink(ctx context.Context, req *CheckLinkRequest) (*CheckLinkResponse, error)
}

// SecretAccountID is the key of Connection.Secrets under which the host
// sends a link connection's account id (BeginLinkResponse.AccountID, as
// CheckLink confirmed it) on every call of that connection. It is a
// credential: with the plugin's API key it acts as the user.
const SecretAccountID = "account_id"

// BeginLinkRequest asks for a link where the user connects an account.
type BeginLinkRequest struct {
	Connection Connection
	// UserRef is an opaque, stable id of the user's connection on the host
	// (the connection id); the outside system keeps it as its user id.
	UserRef string
	// CallbackURL is where the outside system sends the browser back.
	CallbackURL string
	// Params are what the user chose when connecting, such as
	// {"toolkit": "gmail"}; the plugin rejects a value it does not know
	// with an InvalidConfig error naming the parameter.
	Params map[string]string
}

// BeginLinkResponse is the link to open.
type BeginLinkResponse struct {
	URL string
	// AccountID is the outside system's id of the account being connected
	// (the host checks it again at the callback).
	AccountID string
	// ExpiresAt is when the link stops working; zero when unknown.
	ExpiresAt time.Time
}

// LinkState is the state of a linked account.
type LinkState string

// Link states.
const (
	// LinkActive: the account is connected and usable.
	LinkActive LinkState = "active"
	// LinkPending: the user has not finished connecting yet.
	LinkPending LinkState = "pending"
	// LinkExpired: the account's credentials expired or were revoked.
	LinkExpired LinkState = "expired"
	// LinkFailed: connecting failed.
	LinkFailed LinkState = "failed"
)

// CheckLinkRequest asks for the state of a linked account.
type CheckLinkRequest struct {
	Connection Connection
	AccountID  string
}

// CheckLinkResponse is a linked account's state.
type CheckLinkResponse struct {
	State LinkState
	// Message explains a state other than active, for the user.
	Message string
}
