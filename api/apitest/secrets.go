package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/consilium-hq/consilium/core/testsecrets"
)

// secretsTransport registers with core/testsecrets every secret that goes
// through the test client: passwords the tests send, and the tokens and
// tickets the API issues (access and refresh tokens, chat socket tickets,
// the River UI session's ticket), wherever they are in a JSON body. The
// secrets check then proves none of them reached the server's logs. It is
// in the client only when the check is on (CONSILIUM_SECRETS_LOG).
type secretsTransport struct{ base http.RoundTripper }

// secretKeys are the JSON members holding a secret, by the kind they are
// registered as.
var secretKeys = map[string]string{
	"password": "password", "new_password": "password", "current_password": "password",
	"access_token": "access_token", "refresh_token": "refresh_token", "token": "integration_token",
	"ticket": "chat_ticket",
}

func (s *secretsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		raw, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		registerSecrets(raw)
		req.Body = io.NopCloser(bytes.NewReader(raw))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	res, err := s.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		return res, nil
	}
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	registerSecrets(raw)
	return res, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (s *secretsTransport) CloseIdleConnections() {
	if ci, ok := s.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func registerSecrets(raw []byte) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok {
					if kind, ok := secretKeys[k]; ok {
						testsecrets.Register(kind, s)
					}
					// The River UI session answers a URL carrying its ticket.
					if k == "url" && strings.Contains(s, "ticket=") {
						if u, err := url.Parse(s); err == nil {
							testsecrets.Register("river_ui_ticket", u.Query().Get("ticket"))
						}
					}
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}
