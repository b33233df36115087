package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// requestInfo travels in every request's context; the auth middleware fills
// in the user so the access log can name it.
type requestInfo struct {
	ID       string
	ClientIP string
	UserID   string
	Logger   *slog.Logger
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

// withRequest wraps every request: request id, client IP, a request logger,
// panic recovery, problem+json for router errors, and one access log line
// with status and latency. It never logs headers or bodies.
func withRequest(next http.Handler, logger *slog.Logger, trustProxy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = newRequestID()
		}
		ri := &requestInfo{ID: id, ClientIP: clientIP(r, trustProxy)}
		ri.Logger = logger.With("request_id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri))
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
		}()
		next.ServeHTTP(rw, r)
		if !rw.wroteHeader {
			rw.status = http.StatusOK
		}
	})
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clientIP is the address rate limits and logs attribute a request to.
// Behind a proxy (trustProxy) it is the last X-Forwarded-For entry: the one
// the proxy appended for the peer it saw. The entries before it come from
// the client and can say anything, so believing the first would let anyone
// pick a fresh address for every request.
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := strings.TrimSpace(last); net.ParseIP(ip) != nil {
				return ip
			}
		}
		if ip := strings.TrimSpace(r.Header.Get("X-Real-Ip")); net.ParseIP(ip) != nil {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
