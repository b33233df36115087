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
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/auth"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/task"
)

// Deps are what the API needs. Later capabilities add their services here.
type Deps struct {
	HTTP      config.HTTP
	RateLimit config.RateLimit
	Logger    *slog.Logger
	DB        *db.DB
	Auth      *auth.Service
	Notes     *note.Service
	Tasks     *task.Service
	Plan      *plan.Service
	// AI serves retrieval, documents, transcription and agents; nil leaves
	// those routes out.
	AI *ai.Service
	// Chat serves conversations and their streams (Hub: this process's
	// event hub); nil Chat leaves those routes out.
	Chat *chat.Service
	Hub  *chat.Hub
	// Plugins reports the plugin host's state to superusers; nil answers
	// an empty list.
	Plugins PluginStates
	// Ready reports whether the process can serve (database reachable and
	// migrated); /readyz answers 503 while it returns an error.
	Ready   func(ctx context.Context) error
	Version string
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
	cfg.Info.Description = "The REST API of Consilium, a self-hostable backend for personal planning with AI: " +
		"notes written in a block editor, the tasks inside them, goals, reflections and AI agents. " +
		"Every path is under /api; every error is application/problem+json."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = "" // served by registerDocs with vendored assets: no CDN
	cfg.SchemasPath = "/schemas"
	cfg.CreateHooks = nil // no $schema field or describedBy Link in bodies
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "Access token from POST /api/auth/login (or Supabase Auth in Supabase mode)."},
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
	})
	authed := huma.NewGroup(api)
	authed.UseSimpleModifier(func(op *huma.Operation) {
		op.Security = []map[string][]string{{"bearer": {}}}
		bodyLimit(op)
		declareErrors(api, op, http.StatusUnauthorized, http.StatusTooManyRequests)
	})
	authed.UseMiddleware(authenticate(api, d.Auth, limits))

	registerAuth(public, authed, d.Auth, limits)
	registerUsers(authed, d.DB)
	registerNotes(authed, d.Notes)
	registerTags(authed, d.Notes)
	registerTasks(authed, d.Tasks)
	registerPlanning(authed, d.Plan, d.Tasks)
	registerAdminPlugins(authed, d.Plugins)
	if d.AI != nil {
		registerAI(authed, d.AI)
	}
	if d.Chat != nil {
		registerChat(authed, d.Chat, d.Hub)
		mux.Handle("GET "+apiPrefix+"/chat/{conversation_id}", &chatSockets{svc: d.Chat, hub: d.Hub, auth: d.Auth,
			limits: limits, origins: d.HTTP.CORSOrigins, logger: d.Logger})
	}

	registerDocs(mux)
	registerHealth(mux, d.Ready)

	var h http.Handler = mux
	h = withCORS(h, d.HTTP.CORSOrigins)
	h = withRequest(h, d.Logger, newProxyTrust(d.HTTP.TrustProxyHeaders, d.HTTP.TrustedProxies))
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

// declareErrors adds error statuses to an operation's responses. Group
// modifiers run after huma.Register has turned op.Errors into responses,
// so appending to op.Errors alone there documents nothing.
func declareErrors(api huma.API, op *huma.Operation, codes ...int) {
	op.Errors = appendMissing(op.Errors, codes...)
	schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(Problem{}), true, "Problem")
	ct := (&Problem{}).ContentType("application/json")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for _, code := range codes {
		if _, ok := op.Responses[strconv.Itoa(code)]; !ok {
			op.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code),
				Content: map[string]*huma.MediaType{ct: {Schema: schema}}}
		}
	}
}

func appendMissing(list []int, codes ...int) []int {
	for _, c := range codes {
		found := false
		for _, have := range list {
			found = found || have == c
		}
		if !found {
			list = append(list, c)
		}
	}
	return list
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
