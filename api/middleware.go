package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/tracing"
)

// requestInfo travels in every request's context; the auth middleware fills
// in the user so the access log can name it.
type requestInfo struct {
	ID       string
	ClientIP string
	UserID   string
	Logger   *slog.Logger
	// Route is the pattern the mux matched ("GET /api/notes/{note_id}"),
	// empty for a request no route took.
	Route string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if ri := requestInfoFrom(ctx); ri != nil && ri.Logger != nil {
		return ri.Logger
	}
	return fallback
}

// responseWriter records the status for the access log and turns the plain
// text errors of net/http's ServeMux (unknown route, wrong method) into
// problem+json.
type responseWriter struct {
	http.ResponseWriter
	r           *http.Request
	status      int
	bytes       int64
	wroteHeader bool
	swallow     bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = code
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.swallow = true
		detail := map[int]string{
			http.StatusNotFound:         fmt.Sprintf("no route for %s %s", w.r.Method, w.r.URL.Path),
			http.StatusMethodNotAllowed: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow")),
		}[code]
		if detail == "" {
			detail = http.StatusText(code)
		}
		w.Header().Del("X-Content-Type-Options")
		p := newProblem(w.r.Context(), code, detail)
		w.Header().Set("Content-Type", "application/problem+json")
		body := mustJSON(p)
		w.ResponseWriter.WriteHeader(code)
		n, _ := w.ResponseWriter.Write(body)
		w.bytes += int64(n)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (SSE, WebSocket).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// spanAttrs are the slices a request's span attributes are gathered in.
var spanAttrs = sync.Pool{New: func() any { s := make([]attribute.KeyValue, 0, 6); return &s }}

// withRequest wraps every request: request id, client IP, a request logger,
// panic recovery, problem+json for router errors, and one access log line
// with status and latency. It never logs headers or bodies.
func withRequest(next http.Handler, logger *slog.Logger, proxies *proxyTrust, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = newRequestID()
		}
		ri := &requestInfo{ID: id, ClientIP: proxies.clientIP(r)}
		ri.Logger = logger.With("request_id", id)
		// A span per request, continuing the caller's trace when it sends
		// one (traceparent); named by route once the mux has matched.
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		// Its attributes are set once, at the end (see below).
		ctx, span := tracing.Tracer().Start(ctx, r.Method, serverSpan)
		defer span.End()
		r = r.WithContext(context.WithValue(ctx, requestInfoKey{}, ri))
		w.Header().Set("X-Request-Id", id)
		rw := &responseWriter{ResponseWriter: w, r: r}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ri.Logger.Error("panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rw.wroteHeader {
					p := newProblem(r.Context(), http.StatusInternalServerError,
						"internal error: the server could not complete the request; quote the instance id when reporting it")
					writeProblem(rw, r, p)
				}
			}
			attrs := []any{
				"method", r.Method, "path", r.URL.Path, "status", rw.status,
				"latency_ms", float64(time.Since(start).Microseconds()) / 1000, "bytes", rw.bytes,
				"client_ip", ri.ClientIP,
			} // user_id, when known, is already on ri.Logger
			level := slog.LevelInfo
			if rw.status >= 500 {
				level = slog.LevelError
			}
			ri.Logger.Log(r.Context(), level, "request", attrs...)
			m.ObserveHTTP(ri.Route, r.Method, rw.status, time.Since(start))
			if span.IsRecording() {
				// Every attribute in one SetAttributes call: start options
				// and each further call allocate and grow the span's slice
				// again, and a traced request's cost is mostly such
				// allocations. The span copies them, so the slice they are
				// gathered in is used again.
				held := spanAttrs.Get().(*[]attribute.KeyValue)
				attrs := (*held)[:0]
				attrs = append(attrs, attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
					attribute.String("request.id", id), attribute.Int("http.response.status_code", rw.status))
				if ri.Route != "" {
					span.SetName(ri.Route)
					attrs = append(attrs, attribute.String("http.route", ri.Route))
				}
				if ri.UserID != "" {
					attrs = append(attrs, attribute.String("user.id", ri.UserID))
				}
				span.SetAttributes(attrs...)
				clear(attrs)
				*held = attrs[:0]
				spanAttrs.Put(held)
				if rw.status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(rw.status))
				}
			}
		}()
		next.ServeHTTP(rw, r)
		if !rw.wroteHeader {
			rw.status = http.StatusOK
		}
	})
}

// serverSpan is the one start option of a request's span, made once.
var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

// withRoute tells the request's info which pattern the mux matched (the
// mux sets it on the request it is given).
func withRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if ri := requestInfoFrom(r.Context()); ri != nil {
			ri.Route = r.Pattern
		}
	})
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// proxyTrust says whose X-Forwarded-For and X-Real-IP headers to believe
// (http.trust_proxy_headers, http.trusted_proxies).
type proxyTrust struct {
	enabled bool
	// nets are the proxies' addresses; empty: any peer (the API is
	// reachable only through its proxy).
	nets []netip.Prefix
}

func newProxyTrust(enabled bool, proxies []string) *proxyTrust {
	t := &proxyTrust{enabled: enabled}
	for _, s := range proxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			t.nets = append(t.nets, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			t.nets = append(t.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return t
}

func (t *proxyTrust) trusted(ip string) bool {
	if len(t.nets) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address rate limits and logs attribute a request to: the
// peer's, unless the peer is a trusted proxy. Then it is taken from
// X-Forwarded-For read from the right, skipping the trusted proxies' own
// entries: each proxy appends the peer it saw, while the entries further
// left come from the client and can say anything (believing the first one
// would let anyone pick a fresh address for every request).
func (t *proxyTrust) clientIP(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if t == nil || !t.enabled || !t.trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip := strings.TrimSpace(hops[i])
		if net.ParseIP(ip) == nil {
			break
		}
		if i == 0 || len(t.nets) == 0 || !t.trusted(ip) {
			return ip
		}
	}
	if ip := strings.TrimSpace(r.Header.Get("X-Real-Ip")); net.ParseIP(ip) != nil {
		return ip
	}
	return peer
}

var (
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id"
	corsExposeHeaders = "ETag, Location, Link, Retry-After, X-Request-Id"
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
)

// withCORS answers preflights and marks responses for the configured
// origins only. Tokens travel in headers, so credentials are not allowed.
func withCORS(next http.Handler, origins []string) http.Handler {
	anyOrigin := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allowed := anyOrigin || slices.Contains(origins, origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		w.Header().Add("Vary", "Origin")
		if !allowed {
			if preflight {
				writeProblem(w, r, newProblem(r.Context(), http.StatusForbidden,
					fmt.Sprintf("origin %s is not allowed (http.cors_origins)", origin)))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if preflight {
			w.Header().Set("Access-Control-Allow-Methods", corsAllowMethods)
			w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
		next.ServeHTTP(w, r)
	})
}
