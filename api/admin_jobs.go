package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/user"
)

// jobsUIPath is where River UI is served.
const jobsUIPath = "/admin/jobs"

// NewJobsUI builds River UI over the graph's River client; it runs until
// ctx ends. The API serves it at /admin/jobs to superusers only (River UI
// has no auth of its own).
func NewJobsUI(ctx context.Context, rc *river.Client[pgx.Tx], logger *slog.Logger) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(rc, nil), Logger: logger, Prefix: jobsUIPath,
		// Job args name users and notes; an operator opens them on purpose.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	return h, nil
}

const (
	jobsTicketTTL  = time.Minute
	jobsSessionTTL = time.Hour
	jobsCookie     = "consilium_jobs_ui"
)

// signed is "purpose.user.expiry.mac" in URL-safe text.
func signJobsToken(key []byte, purpose string, userID uuid.UUID, exp time.Time) string {
	body := purpose + "." + userID.String() + "." + strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func verifyJobsToken(key []byte, purpose, tok string, now time.Time) (uuid.UUID, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != purpose {
		return uuid.Nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts[:3], ".")))
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || !hmac.Equal(mac, m.Sum(nil)) {
		return uuid.Nil, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	id, idErr := uuid.Parse(parts[1])
	if err != nil || idErr != nil || now.Unix() > exp {
		return uuid.Nil, false
	}
	return id, true
}

// JobsUISession is where a superuser's browser opens River UI.
type JobsUISession struct {
	URL       string    `json:"url" example:"/admin/jobs/?ticket=…" doc:"Open this URL in the browser within a minute: it signs the browser in to River UI for an hour (a cookie limited to /admin/jobs) and shows the jobs."`
	ExpiresAt time.Time `json:"expires_at" doc:"When the URL stops working."`
}

type jobsUISessionOutput struct {
	Body JobsUISession
}

func registerAdminJobs(authed huma.API, key []byte) {
	huma.Register(authed, huma.Operation{
		OperationID: "create-jobs-ui-session", Method: http.MethodPost, Path: "/admin/jobs/session",
		Summary: "Open River UI (the jobs dashboard)", Tags: []string{"admin"},
		Description: "River UI at /admin/jobs shows queues and jobs (sync, indexing, embedding, agent runs) and lets an " +
			"operator retry or cancel them. A browser cannot send a bearer token when it opens a page, so this answers " +
			"a URL with a one-minute ticket; opening it sets a cookie for /admin/jobs that lasts an hour. Superusers only. " +
			"Scripts may instead send `Authorization: Bearer <access token>` to /admin/jobs/api/… directly.",
		Errors: []int{http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*jobsUISessionOutput, error) {
		p := principal(ctx)
		if p == nil || !p.User.IsSuperuser {
			return nil, apperr.New(apperr.Forbidden, "only superusers may open the jobs UI")
		}
		exp := time.Now().Add(jobsTicketTTL)
		out := &jobsUISessionOutput{}
		out.Body.URL = jobsUIPath + "/?ticket=" + signJobsToken(key, "ticket", p.User.ID, exp)
		out.Body.ExpiresAt = exp.UTC().Truncate(time.Second)
		return out, nil
	})
}

// jobsUIGate serves River UI to active superusers: a ticket in the URL
// becomes a session cookie; the cookie or a bearer token admits a request.
type jobsUIGate struct {
	ui    http.Handler
	key   []byte
	auth  *auth.Service
	users *user.Service
}

func (g *jobsUIGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if t := r.URL.Query().Get("ticket"); t != "" {
		id, ok := verifyJobsToken(g.key, "ticket", t, now)
		if !ok {
			writeProblem(w, r, newProblem(r.Context(), http.StatusUnauthorized,
				"the jobs UI ticket is invalid or expired: ask POST /api/admin/jobs/session for a new one"))
			return
		}
		if _, err := g.superuser(r.Context(), id); err != nil {
			g.refuse(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: jobsCookie, Value: signJobsToken(g.key, "session", id, now.Add(jobsSessionTTL)),
			Path: jobsUIPath, MaxAge: int(jobsSessionTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")})
		q := r.URL.Query()
		q.Del("ticket")
		to := *r.URL
		to.RawQuery = q.Encode()
		http.Redirect(w, r, to.RequestURI(), http.StatusSeeOther)
		return
	}
	var u *user.User
	var err error
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		var p *auth.Principal
		if p, err = g.auth.Authenticate(r.Context(), strings.TrimSpace(h[7:])); err == nil {
			u, err = g.superuser(r.Context(), p.User.ID)
		}
	} else if c, cerr := r.Cookie(jobsCookie); cerr == nil {
		if id, ok := verifyJobsToken(g.key, "session", c.Value, now); ok {
			u, err = g.superuser(r.Context(), id)
		} else {
			err = apperr.New(apperr.Unauthorized, "the jobs UI session expired: open a new one with POST /api/admin/jobs/session")
		}
	} else {
		err = apperr.New(apperr.Unauthorized,
			"the jobs UI needs a superuser: open it through POST /api/admin/jobs/session, or send a bearer token")
	}
	if err != nil {
		g.refuse(w, r, err)
		return
	}
	if ri := requestInfoFrom(r.Context()); ri != nil {
		ri.UserID = u.ID.String()
	}
	g.ui.ServeHTTP(w, r)
}

// superuser is the active superuser id names, or why not.
func (g *jobsUIGate) superuser(ctx context.Context, id uuid.UUID) (*user.User, error) {
	u, err := g.users.Get(ctx, id)
	if err != nil || !u.IsActive {
		return nil, apperr.New(apperr.Unauthorized, "the jobs UI session's user is gone or inactive")
	}
	if !u.IsSuperuser {
		return nil, apperr.New(apperr.Forbidden, "only superusers may open the jobs UI")
	}
	return u, nil
}

func (g *jobsUIGate) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusUnauthorized
	var e *apperr.Error
	if errors.As(err, &e) && e.Code == apperr.Forbidden {
		status = http.StatusForbidden
	}
	msg := err.Error()
	if e != nil {
		msg = e.Message
	}
	writeProblem(w, r, newProblem(r.Context(), status, msg))
}
