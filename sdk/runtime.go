package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/consilium-hq/consilium/sdk/gen/consiliumv1"
	"github.com/consilium-hq/consilium/sdk/internal/wire"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// cancelGrace is how long a handler may run on after the host cancelled its
// call before the SDK reports it to the host as ignoring cancellation.
const cancelGrace = time.Second

// pluginRuntime is the plugin side of one served process: it knows the host
// services once the host has called Init.
type pluginRuntime struct {
	fallback *slog.Logger // stderr, used before Init or when the host is unreachable

	mu       sync.Mutex
	name     string
	services pb.HostServicesClient
	conn     *grpc.ClientConn
	minLevel atomic.Int64
	broker   *plugin.GRPCBroker
}

func newPluginRuntime() *pluginRuntime {
	rt := &pluginRuntime{fallback: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	rt.minLevel.Store(int64(slog.LevelInfo))
	return rt
}

func (rt *pluginRuntime) init(req *pb.InitRequest) error {
	rt.mu.Lock()
	broker := rt.broker
	rt.mu.Unlock()
	if broker == nil {
		return Errorf(CodeInternal, "no broker to reach host services")
	}
	conn, err := broker.Dial(req.HostServicesId)
	if err != nil {
		return Errorf(CodeInternal, "dial host services: %w", err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.conn != nil {
		_ = rt.conn.Close()
	}
	rt.conn = conn
	rt.services = pb.NewHostServicesClient(conn)
	rt.name = req.PluginName
	rt.minLevel.Store(int64(req.LogLevel))
	return nil
}

func (rt *pluginRuntime) hostServices() pb.HostServicesClient {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.services
}

type callKey struct{}

type callInfo struct {
	rt     *pluginRuntime
	id     string
	method string
	// traceparent and tracestate are the host's W3C trace context.
	traceparent, tracestate string
}

// TraceContext returns the W3C trace context (the traceparent and
// tracestate header values) of the host's call ctx belongs to, empty when
// the host does not trace. A plugin that traces its own work continues the
// host's trace from it (with OpenTelemetry: propagation.TraceContext{} over a
// propagation.MapCarrier), or forwards it to the APIs it calls.
func TraceContext(ctx context.Context) (traceparent, tracestate string) {
	if ci, ok := ctx.Value(callKey{}).(*callInfo); ok {
		return ci.traceparent, ci.tracestate
	}
	return "", ""
}

// call runs one handler: it attaches the call's identity to the context,
// turns a panic into an internal error for this call only, reports handlers
// that ignore cancellation, and converts the returned error for the wire.
func (rt *pluginRuntime) call(ctx context.Context, method string, fn func(ctx context.Context) error) (err error) {
	ci := &callInfo{rt: rt, method: method}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(wire.CallIDHeader); len(v) > 0 {
			ci.id = v[0]
		}
		if v := md.Get("traceparent"); len(v) > 0 {
			ci.traceparent = v[0]
		}
		if v := md.Get("tracestate"); len(v) > 0 {
			ci.tracestate = v[0]
		}
	}
	ctx = context.WithValue(ctx, callKey{}, ci)

	done := make(chan struct{})
	var cancelledAt atomic.Int64
	stop := context.AfterFunc(ctx, func() {
		cancelledAt.Store(time.Now().UnixNano())
		select {
		case <-done:
		case <-time.After(cancelGrace):
			ci.log(slog.LevelWarn, "handler is still running after the host cancelled the call; honour ctx.Done()",
				"method", method, "grace", cancelGrace.String())
		}
	})
	defer func() {
		if r := recover(); r != nil {
			ci.log(slog.LevelError, "panic in plugin handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = &Error{Code: CodeInternal, Message: fmt.Sprintf("plugin panicked in %s: %v", method, r)}
		}
		close(done)
		stop()
		if ctx.Err() != nil {
			// The AfterFunc may not have run yet when a prompt handler returns.
			var after time.Duration
			if at := cancelledAt.Load(); at != 0 {
				after = time.Since(time.Unix(0, at))
			}
			ci.log(slog.LevelDebug, "handler returned after cancellation", "method", method,
				"after_ms", fmt.Sprint(after.Milliseconds()))
		}
		err = errorToStatus(ctx, err)
	}()
	return fn(ctx)
}

func (ci *callInfo) log(level slog.Level, msg string, args ...any) {
	logger := slog.New(&hostHandler{ci: ci})
	logger.Log(context.Background(), level, msg, args...)
}

// Logger returns a logger whose records go to the host's log, tagged with the
// plugin's name and the call ctx belongs to. Outside a call (or when the host
// cannot be reached) records go to stderr, which the host also collects.
func Logger(ctx context.Context) *slog.Logger {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	if ci == nil {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(&hostHandler{ci: ci})
}

// Progress is how far a long call (a sync, a batch) has come.
type Progress struct {
	Done int64
	// Total is 0 when unknown.
	Total   int64
	Message string
}

// ReportProgress tells the host how far the call ctx belongs to has come.
// It does nothing outside a call.
func ReportProgress(ctx context.Context, p Progress) error {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	if ci == nil {
		return nil
	}
	hs := ci.rt.hostServices()
	if hs == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := hs.ReportProgress(rctx, &pb.ProgressRequest{CallId: ci.id, Done: p.Done, Total: p.Total, Message: p.Message})
	return err
}

// hostHandler is a slog.Handler that sends records to the host services.
type hostHandler struct {
	ci     *callInfo
	attrs  []slog.Attr
	groups string
}

func (h *hostHandler) Enabled(_ context.Context, l slog.Level) bool {
	return int64(l) >= h.ci.rt.minLevel.Load()
}

func (h *hostHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	for _, a := range h.attrs {
		flattenAttr(attrs, "", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		flattenAttr(attrs, h.groups, a)
		return true
	})
	if h.ci.method != "" {
		attrs["method"] = h.ci.method
	}
	hs := h.ci.rt.hostServices()
	if hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := hs.Log(ctx, &pb.LogRequest{Level: int32(r.Level), Message: r.Message, Attrs: attrs, CallId: h.ci.id})
		if err == nil {
			return nil
		}
	}
	args := make([]any, 0, 2*len(attrs)+2)
	for k, v := range attrs {
		args = append(args, k, v)
	}
	if h.ci.id != "" {
		args = append(args, "call_id", h.ci.id)
	}
	h.ci.rt.fallback.Log(context.Background(), r.Level, r.Message, args...)
	return nil
}

func (h *hostHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		if h.groups != "" {
			a.Key = h.groups + a.Key
		}
		n.attrs = append(n.attrs, a)
	}
	return &n
}

func (h *hostHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.groups = h.groups + name + "."
	return &n
}

func flattenAttr(out map[string]string, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			flattenAttr(out, p, g)
		}
		return
	}
	out[prefix+a.Key] = a.Value.String()
}
