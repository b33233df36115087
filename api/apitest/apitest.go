// Package apitest runs the real API (every middleware, real Postgres, a real
// loopback HTTP server) for tests and benchmarks, with small helpers to make
// requests and sign users up.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/api"
	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/integration"
	"github.com/consilium-hq/consilium/core/integration/integrationtest"
	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/core/testsecrets"
	"github.com/consilium-hq/consilium/jobs"
)

// TestSecret is the JWT secret of test servers.
const TestSecret = "test-secret-test-secret-test-secret-0123"

// Config returns a valid configuration for tests: the package database,
// cheap password hashing and rate limits off.
func Config(t testing.TB) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = dbtest.URL(t)
	cfg.Auth.JWTSecret = TestSecret
	cfg.Auth.Password = config.Password{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	cfg.RateLimit.Enabled = false
	return &cfg
}

// Env is a running API: the service graph (built by core/app, as a
// process builds it) and the HTTP server in front of it.
type Env struct {
	*app.App
	T      testing.TB
	Config *config.Config
	Server *httptest.Server
	Client *http.Client
	// Ready is what /readyz calls; tests may replace it before requests.
	Ready func(context.Context) error
}

// Options adjust New.
type Options struct {
	// Configure changes the config before the server is built.
	Configure func(*config.Config)
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// Routes registers extra operations (test-only endpoints).
	Routes func(huma.API)
	// Pool replaces the package's test database (benchmarks on a seeded
	// database: dbtest.Seeded).
	Pool *pgxpool.Pool
	// NoteHooks and TaskHooks run after note saves and task index changes.
	NoteHooks []note.Hook
	TaskHooks []task.Hook
	// Models are the model providers of the AI routes: a plugin host
	// (aitest.LocalHost) or a scripted model (modeltest). Work the config's
	// ai section names no provider for goes to the one named "local". Nil:
	// model calls fail as unavailable.
	Models model.Source
	// ChatRunner answers chat runs (default the orchestrator over Models).
	ChatRunner chat.Runner
	// JobsUI serves River UI at /admin/jobs.
	JobsUI bool
	// ChatTools are the tools of the chat agents (app.Options.ChatTools).
	ChatTools func(*app.App) []chat.Tool
	// Integrations runs the integration plugins the config declares.
	Integrations integration.Plugins
	// Hello enables the SDK's example integration plugin as provider
	// "hello" (integrationtest.Hello), with a master key.
	Hello bool
	// Workers works this server's AI and chat jobs. Every server's AI and
	// chat jobs go to queues of its own (the chat one with the config's
	// jobs.chat_* settings), and its workers work only those, so that the
	// servers of parallel tests never work (or wait on) each other's jobs.
	Workers bool
	// Now is the clock of the integrations' sync and cleanup
	// (app.Options.Now; default time.Now).
	Now func() time.Time
}

// New starts the API on a loopback port; it stops when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	cfg := Config(t)
	if o.Hello {
		host, item := integrationtest.Hello(t)
		cfg.Plugins.Items = append(cfg.Plugins.Items, item)
		cfg.Integrations.MasterKey = integrationtest.MasterKey
		testsecrets.Register("integration_master_key", cfg.Integrations.MasterKey)
		o.Integrations = host
	}
	if o.Configure != nil {
		o.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("apitest: %v", err)
	}
	testsecrets.Register("jwt_secret", cfg.Auth.JWTSecret)
	for _, it := range cfg.Plugins.Items {
		testsecrets.RegisterEnv("plugin_secret", it.SecretEnv)
	}
	logger := o.Logger
	if logger == nil {
		// Into the secrets check's folder when make test runs (see
		// core/testsecrets); discarded otherwise.
		logger = testsecrets.Logger("api")
	}
	pool := o.Pool
	if pool == nil {
		pool = dbtest.Pool(t)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	queue, chatQueue := "ai_"+suffix, "chat_"+suffix
	var m *metrics.Metrics
	if cfg.Metrics.Enabled() {
		m = metrics.New()
	}
	a, err := app.New(context.Background(), app.Options{
		Config: cfg, Pool: pool, Logger: logger, Models: o.Models, DefaultProvider: LocalProvider, AIQueue: queue,
		ChatQueue: chatQueue, NoteHooks: o.NoteHooks, TaskHooks: o.TaskHooks, ChatRunner: o.ChatRunner, ChatTools: o.ChatTools,
		Metrics: m, Integrations: o.Integrations, Now: o.Now,
		Jobs: jobs.Client(jobs.ClientOptions{Config: cfg.Jobs, Logger: logger, Work: o.Workers, TestOnly: true,
			Queues: []string{queue}, OnlyQueues: true, ChatQueue: chatQueue, Metrics: m}),
	})
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	e := &Env{App: a, T: t, Config: cfg}
	hubCtx, stopHub := context.WithCancel(context.Background())
	a.Hub.Start(hubCtx)
	if o.Workers {
		if err := a.River.Start(context.Background()); err != nil {
			t.Fatalf("apitest: start workers: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.River.Stop(ctx)
		})
	}
	e.Ready = db.NewMigrator(a.DB.Pool, logger).Ready
	var jobsUI http.Handler
	if o.JobsUI {
		uiCtx, stopUI := context.WithCancel(context.Background())
		t.Cleanup(stopUI)
		if jobsUI, err = api.NewJobsUI(uiCtx, a.River, logger); err != nil {
			t.Fatalf("apitest: %v", err)
		}
	}
	srv := api.New(api.Deps{
		App: a, HTTP: cfg.HTTP, RateLimit: cfg.RateLimit, Logger: logger,
		Ready: func(ctx context.Context) error { return e.Ready(ctx) }, Version: "test", MetricsToken: cfg.Metrics.Token, JobsUI: jobsUI,
	})
	if o.Routes != nil {
		o.Routes(srv.API())
	}
	// The real http.Server settings (timeouts, header limit) and listener.
	e.Server = httptest.NewUnstartedServer(srv.Handler())
	e.Server.Config = api.NewHTTPServer(srv.Handler(), cfg.HTTP, logger)
	e.Server.Listener = api.ProblemListener(e.Server.Listener)
	e.Server.Start()
	t.Cleanup(e.Server.Close)
	// First of the cleanups: a stopped hub ends the chat streams, which
	// the server's Close would otherwise wait for.
	t.Cleanup(func() { stopHub(); a.Hub.Wait() })
	var base http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 64}
	if testsecrets.Dir() != "" {
		base = &secretsTransport{base: base}
	}
	e.Client = &http.Client{Timeout: 30 * time.Second, Transport: e.Validated(base)}
	return e
}

// LocalProvider is the model provider of the work the config names none
// for: the name aitest runs the local plugin under.
const LocalProvider = "local"

// Response is a completed request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

func (r *Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// Do sends a request. body is JSON-encoded unless it is a string or []byte;
// headers are "Name: value" strings.
func (e *Env) Do(method, path string, body any, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		e.T.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	res, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.T.Fatalf("read body: %v", err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// User is a signed-up test user.
type User struct {
	ID           string
	Email        string
	Password     string
	AccessToken  string
	RefreshToken string
}

// Bearer is the Authorization header for Do.
func (u *User) Bearer() string { return "Authorization: Bearer " + u.AccessToken }

// NewUser registers a fresh user with a unique email.
func (e *Env) NewUser() *User {
	e.T.Helper()
	u := &User{Email: "u-" + uuid.NewString()[:13] + "@example.com", Password: "password-" + uuid.NewString()[:8]}
	res := e.Do(http.MethodPost, "/api/auth/register", map[string]any{"email": u.Email, "password": u.Password, "full_name": "Test User"})
	if res.Status != http.StatusCreated {
		e.T.Fatalf("register: %s", res)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		User         struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	res.JSON(e.T, &tok)
	u.ID, u.AccessToken, u.RefreshToken = tok.User.ID, tok.AccessToken, tok.RefreshToken
	testsecrets.Register("password", u.Password)
	testsecrets.Register("access_token", u.AccessToken)
	testsecrets.Register("refresh_token", u.RefreshToken)
	return u
}
