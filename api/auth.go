package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/config"
)

type principalKey struct{}

// principal returns the signed-in caller; operations in the authed group
// always have one.
func principal(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

type limits struct {
	enabled   bool
	authPerIP *keyedLimiter
	login     *loginGuard
	perUser   *keyedLimiter
}

func newLimits(c config.RateLimit) *limits {
	if !c.Enabled {
		return &limits{}
	}
	return &limits{
		enabled:   true,
		authPerIP: newKeyedLimiter(c.AuthPerIP),
		login: &loginGuard{
			perSource:  newKeyedLimiter(c.AuthPerAccountIP),
			perAccount: newKeyedLimiter(c.AuthPerAccount),
		},
		perUser: newKeyedLimiter(c.PerUser),
	}
}

func rateLimited(what string, wait time.Duration) *apperr.Error {
	return &apperr.Error{Code: apperr.RateLimited, Message: "too many requests " + what + ": try again later", RetryAfter: wait}
}

// authenticate checks the bearer token of every operation that declares
// security, then applies the per-user rate limit.
func authenticate(api huma.API, svc *auth.Service, l *limits) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if len(ctx.Operation().Security) == 0 {
			next(ctx)
			return
		}
		token := ""
		if h := ctx.Header("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			token = strings.TrimSpace(h[7:])
		}
		p, err := svc.Authenticate(ctx.Context(), token)
		if err != nil {
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "authentication failed", err)
			return
		}
		if ri := requestInfoFrom(ctx.Context()); ri != nil {
			ri.UserID = p.User.ID.String()
			ri.Logger = ri.Logger.With("user_id", ri.UserID)
		}
		if l.enabled {
			if ok, wait := l.perUser.allow(p.User.ID.String()); !ok {
				_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "", rateLimited("for this account", wait))
				return
			}
		}
		next(huma.WithValue(ctx, principalKey{}, p))
	}
}

// limitByIP applies the auth endpoints' per-IP limit.
func limitByIP(api huma.API, l *limits) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if l.enabled {
			ip := ""
			if ri := requestInfoFrom(ctx.Context()); ri != nil {
				ip = ri.ClientIP
			} else {
				r, _ := humago.Unwrap(ctx)
				ip = r.RemoteAddr
			}
			if ok, wait := l.authPerIP.allow(ip); !ok {
				_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "", rateLimited("from this address", wait))
				return
			}
		}
		next(ctx)
	}
}

// AuthTokens are what register, login and refresh answer: a signed-in
// session's token pair and its user.
type AuthTokens struct {
	AccessToken  string `json:"access_token" doc:"JWT to send as 'Authorization: Bearer …'."`
	RefreshToken string `json:"refresh_token" doc:"Opaque token for POST /api/auth/refresh; it rotates on every use."`
	TokenType    string `json:"token_type" enum:"bearer" example:"bearer"`
	ExpiresIn    int    `json:"expires_in" example:"900" doc:"Seconds until the access token expires."`
	User         User   `json:"user"`
}

type tokenOutput struct {
	Body AuthTokens
}

// registerOutput is the 201 of register: the created resource is the
// signed-in user.
type registerOutput struct {
	Location string `header:"Location" doc:"The new account: /api/users/me."`
	Body     AuthTokens
}

func toTokenOutput(t *auth.Tokens) *tokenOutput {
	return &tokenOutput{Body: AuthTokens{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    "bearer",
		ExpiresIn:    int(t.ExpiresIn.Seconds()),
		User:         toUserJSON(t.User),
	}}
}

// RegisterRequest creates an account.
type RegisterRequest struct {
	Email    string `json:"email" maxLength:"320" example:"ada@example.com" doc:"Trimmed; unique regardless of case."`
	Password string `json:"password" minLength:"8" maxLength:"1024" example:"correct horse battery staple" doc:"At least 8 characters."`
	FullName string `json:"full_name,omitempty" maxLength:"200" example:"Ada Lovelace"`
}

type registerInput struct {
	Body RegisterRequest
}

// LoginRequest signs in with a password.
type LoginRequest struct {
	Email    string `json:"email" maxLength:"320" example:"ada@example.com"`
	Password string `json:"password" maxLength:"1024" example:"correct horse battery staple"`
}

type loginInput struct {
	Body LoginRequest
}

// RefreshRequest exchanges a refresh token.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"256"`
}

type refreshInput struct {
	Body RefreshRequest
}

// LogoutRequest ends a session.
type LogoutRequest struct {
	RefreshToken string `json:"refresh_token,omitempty" maxLength:"256" doc:"The session's refresh token; the session of the bearer token is ended in any case."`
}

type logoutInput struct {
	Body LogoutRequest
}

// exampleRefreshToken shows the form of a refresh token in the document.
const exampleRefreshToken = "Q2hhbmdlLW1lLWZvci15b3VyLW93bi10b2tlbi0wMDE"

func clientOf(ctx context.Context, userAgent string) auth.Client {
	c := auth.Client{UserAgent: userAgent}
	if ri := requestInfoFrom(ctx); ri != nil {
		c.IP = ri.ClientIP
	}
	return c
}

func registerAuth(public, authed huma.API, svc *auth.Service, l *limits) {
	perIP := huma.Middlewares{limitByIP(public, l)}
	authErrors := []int{http.StatusTooManyRequests, http.StatusForbidden}

	huma.Register(public, huma.Operation{
		OperationID: "register", Method: http.MethodPost, Path: "/auth/register",
		Summary: "Create an account", Tags: []string{"auth"}, DefaultStatus: http.StatusCreated,
		Description: "Creates an account and signs it in: the answer is the token pair (send access_token as " +
			"`Authorization: Bearer …`) with the new user. The email is trimmed and unique regardless of case (409 " +
			"when it is taken); the password needs at least 8 characters. In Supabase mode this answers 403: sign-up " +
			"is delegated.",
		RequestBody: jsonExample(map[string]any{"email": "ada@example.com", "password": "correct horse battery staple", "full_name": "Ada Lovelace"}),
		Middlewares: perIP, Errors: append([]int{http.StatusConflict, http.StatusUnprocessableEntity}, authErrors...),
	}, func(ctx context.Context, in *struct {
		UserAgent string `header:"User-Agent"`
		registerInput
	}) (*registerOutput, error) {
		t, err := svc.Register(ctx, &auth.RegisterParams{
			Email: in.Body.Email, Password: in.Body.Password, FullName: in.Body.FullName,
			Client: clientOf(ctx, in.UserAgent),
		})
		if err != nil {
			return nil, err
		}
		return &registerOutput{Location: apiPrefix + "/users/me", Body: toTokenOutput(t).Body}, nil
	})

	huma.Register(public, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/auth/login",
		Summary: "Sign in with email and password", Tags: []string{"auth"},
		RequestBody: jsonExample(map[string]any{"email": "ada@example.com", "password": "correct horse battery staple"}),
		Description: "Signs in and answers the token pair with the user, like register. A wrong password and an " +
			"unknown email give the same 401. Failed logins are limited per " +
			"account and client address (429 with Retry-After); an address that has not been failing is never " +
			"refused, so others cannot lock the owner out.",
		Middlewares: perIP, Errors: append([]int{http.StatusUnauthorized}, authErrors...),
	}, func(ctx context.Context, in *struct {
		UserAgent string `header:"User-Agent"`
		loginInput
	}) (*tokenOutput, error) {
		account, client := strings.ToLower(strings.TrimSpace(in.Body.Email)), clientOf(ctx, in.UserAgent)
		if l.enabled {
			if err := l.login.check(account, client.IP); err != nil {
				return nil, err
			}
		}
		t, err := svc.Login(ctx, &auth.LoginParams{Email: in.Body.Email, Password: in.Body.Password, Client: client})
		if err != nil {
			if l.enabled && apperr.Is(err, apperr.Unauthorized) {
				l.login.failed(account, client.IP)
			}
			return nil, err
		}
		return toTokenOutput(t), nil
	})

	huma.Register(public, huma.Operation{
		OperationID: "refresh-token", Method: http.MethodPost, Path: "/auth/refresh",
		Summary: "Exchange a refresh token for a new token pair", Tags: []string{"auth"},
		RequestBody: jsonExample(map[string]any{"refresh_token": exampleRefreshToken}),
		Description: "Answers a new token pair (and the user) for the refresh token of a sign-in: call it before the " +
			"access token expires, or when a request answers 401. Refresh tokens rotate on every use. Presenting one again within a few seconds of its rotation " +
			"(auth.refresh_reuse_interval, 10s by default: two tabs, a retried request) answers the same new refresh " +
			"token with a fresh access token. Presenting it later revokes the whole session (every token descended " +
			"from the same sign-in) and answers 401.",
		Middlewares: perIP, Errors: append([]int{http.StatusUnauthorized}, authErrors...),
	}, func(ctx context.Context, in *struct {
		UserAgent string `header:"User-Agent"`
		refreshInput
	}) (*tokenOutput, error) {
		t, err := svc.Refresh(ctx, in.Body.RefreshToken, clientOf(ctx, in.UserAgent))
		if err != nil {
			return nil, err
		}
		return toTokenOutput(t), nil
	})

	huma.Register(authed, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/auth/logout",
		Summary: "Sign out", Tags: []string{"auth"}, DefaultStatus: http.StatusNoContent,
		Description: "Ends the session of the bearer token: its access and refresh tokens are refused from now on. " +
			"The body may be empty.",
		RequestBody: jsonExample(map[string]any{"refresh_token": exampleRefreshToken}),
	}, func(ctx context.Context, in *logoutInput) (*struct{}, error) {
		if err := svc.Logout(ctx, principal(ctx), in.Body.RefreshToken); err != nil {
			return nil, err
		}
		return nil, nil
	})
}
