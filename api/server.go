// Package api is Consilium's HTTP layer: Huma v2 operations under /api, the
// middleware around them (request ids, access logs, CORS, auth, rate limits)
// and problem+json errors. It calls core services and holds no domain logic.
package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/consilium-hq/consilium/core/app"
	"github.com/consilium-hq/consilium/core/config"
)

// Deps are what the API needs: the service graph (a new service is added
// to core/app, and its routes find it here) and the HTTP settings.
type Deps struct {
	// App is the service graph (core/app); its services serve the routes.
	// A nil AI leaves the AI routes out.
	*app.App
	HTTP      config.HTTP
	RateLimit config.RateLimit
	Logger    *slog.Logger
	// Plugins reports the plugin host's state to superusers; nil answers
	// an empty list.
	Plugins PluginStates
	// Ready reports whether the process can serve (database reachable and
	// migrated); /readyz answers 503 while it returns an error.
	Ready   func(ctx context.Context) error
	Version string
	// JobsUI is River UI (NewJobsUI), served at /admin/jobs to superusers;
	// nil leaves it out.
	JobsUI http.Handler
	// MetricsToken, when set (and App.Metrics is), serves /metrics on this
	// handler to requests bearing it (metrics.token).
	MetricsToken string
}

// Server is the assembled HTTP handler and its OpenAPI description.
type Server struct {
	api     huma.API
	handler http.Handler
}

var installErrorsOnce sync.Once

// apiPrefix is where every operation is mounted; Location headers carry it.
const apiPrefix = "/api"

// humaDefaultMaxBody and humaDefaultBodyReadTimeout are the body limit and
// read timeout Huma gives operations that set none.
const (
	humaDefaultMaxBody         = 1 << 20
	humaDefaultBodyReadTimeout = 5 * time.Second
)

// New registers every route and wraps them in the middleware chain.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	installErrorsOnce.Do(func() { installHumaErrors(d.Logger) })

	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("Consilium API", d.Version)
	cfg.Info.Description = overview
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = "" // served by registerDocs with vendored assets: no CDN
	cfg.SchemasPath = "/schemas"
	cfg.CreateHooks = nil // no $schema field or describedBy Link in bodies
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "The access_token of POST /api/auth/register, /login or /refresh (or a Supabase Auth " +
				"access token in Supabase mode), sent as `Authorization: Bearer <access_token>`. It lasts 15 minutes."},
	}
	api := humago.NewWithPrefix(mux, apiPrefix, cfg)

	limits := newLimits(d.RateLimit)
	// Group modifiers run after Huma has filled in its default body limit,
	// so an operation left at that default gets the configured one, while
	// one that sets its own (uploads, preferences) keeps it.
	bodyLimit := func(op *huma.Operation) {
		if op.MaxBodyBytes == humaDefaultMaxBody {
			op.MaxBodyBytes = d.HTTP.MaxBodyBytes
		}
		if op.BodyReadTimeout == humaDefaultBodyReadTimeout && d.HTTP.BodyReadTimeout > 0 {
			op.BodyReadTimeout = d.HTTP.BodyReadTimeout
		}
	}
	public := huma.NewGroup(api)
	public.UseSimpleModifier(func(op *huma.Operation) {
		// An empty, non-nil list serialises as `security: []`: the
		// operation says outright that it needs no token.
		op.Security = []map[string][]string{}
		bodyLimit(op)
		declareErrors(api, op, false)
	})
	authed := huma.NewGroup(api)
	authed.UseSimpleModifier(func(op *huma.Operation) {
		op.Security = []map[string][]string{{"bearer": {}}}
		bodyLimit(op)
		declareErrors(api, op, true)
	})
	authed.UseMiddleware(authenticate(api, d.Auth, limits))

	registerAuth(public, authed, d.Auth, limits)
	registerUsers(authed, d.Users)
	registerNotes(authed, d.Notes)
	registerTags(authed, d.Notes)
	registerTasks(authed, d.Tasks)
	registerPlanning(authed, d.Plan, d.Tasks)
	registerAdminPlugins(authed, d.Plugins)
	var jobsKey []byte
	if d.Auth != nil {
		jobsKey = d.Auth.DerivedKey("jobs ui")
	}
	registerAdminJobs(authed, jobsKey)
	if d.JobsUI != nil {
		mux.Handle(jobsUIPath+"/", &jobsUIGate{ui: d.JobsUI, key: jobsKey, auth: d.Auth, users: d.Users})
	}
	if d.Integrations != nil {
		registerIntegrations(public, authed, d.Integrations)
	}
	if d.AI != nil {
		registerAI(authed, d.AI, d.Agents)
	}
	if d.Chat != nil {
		registerChat(authed, d.Chat, d.Hub)
		mux.Handle("GET "+apiPrefix+"/chat/{conversation_id}", &chatSockets{svc: d.Chat, hub: d.Hub, auth: d.Auth,
			limits: limits, origins: d.HTTP.CORSOrigins, logger: d.Logger})
	}

	finishDocument(api.OpenAPI())

	registerDocs(mux)
	registerHealth(mux, d.Ready)

	if d.Metrics != nil && d.MetricsToken != "" {
		mux.Handle("GET /metrics", requireToken(d.MetricsToken, d.Metrics.Handler()))
	}

	h := withRoute(mux)
	h = withCORS(h, d.HTTP.CORSOrigins)
	h = withRequest(h, d.Logger, newProxyTrust(d.HTTP.TrustProxyHeaders, d.HTTP.TrustedProxies), d.Metrics)
	return &Server{api: api, handler: h}
}

// Handler is the root handler to serve.
func (s *Server) Handler() http.Handler { return s.handler }

// API is the Huma API, for registering further operations.
func (s *Server) API() huma.API { return s.api }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func registerHealth(mux *http.ServeMux, ready func(context.Context) error) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				loggerFrom(r.Context(), slog.Default()).Warn("not ready", "error", err)
				writeProblem(w, r, newProblem(r.Context(), http.StatusServiceUnavailable, "not ready: "+err.Error()))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
