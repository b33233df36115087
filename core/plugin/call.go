package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/consilium-hq/consilium/core/model"
	"github.com/consilium-hq/consilium/core/tracing"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/host"
)

type progressKey struct{}

// WithProgress returns a context whose plugin calls report progress to fn.
// fn runs on a host-services goroutine while the call is in flight.
func WithProgress(ctx context.Context, fn func(sdk.Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// call runs one plugin call: fail fast while the plugin is down, the
// plugin's rate limits, a deadline, the concurrency bound, a call id for the
// plugin's logs and progress, and errors that name plugin and method.
func (m *managed) call(ctx context.Context, method string, conn *sdk.Connection, timeout time.Duration,
	fn func(ctx context.Context, inst *instance) error) (err error) {
	// A span per call; its W3C trace context travels to the plugin in the
	// call's gRPC metadata (sdk.TraceContext reads it there).
	ctx, span := tracing.Tracer().Start(ctx, "plugin "+m.cfg.Name+" "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("plugin.name", m.cfg.Name), attribute.String("plugin.method", method)))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String("plugin.error_code", string(sdk.CodeOf(err))))
		}
		span.End()
	}()
	if span.SpanContext().IsValid() {
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
		for k, v := range carrier {
			ctx = metadata.AppendToOutgoingContext(ctx, k, v)
		}
	}
	if o := m.host.observer; o != nil {
		start := time.Now()
		defer func() {
			result := "ok"
			if err != nil {
				result = string(sdk.CodeInternal)
				var e *sdk.Error
				if errors.As(err, &e) {
					result = string(e.Code)
				}
			}
			o.ObservePluginCall(m.cfg.Name, method, result, time.Since(start))
		}()
	}
	inst := m.current()
	if inst == nil {
		return m.wrap(method, m.unavailable())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	connID := ""
	if conn != nil {
		connID = conn.ID
	}
	if err := m.lim.acquire(ctx, connID); err != nil {
		return m.wrap(method, err)
	}
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		return m.wrap(method, m.ctxError(ctx, "waiting for a free slot"))
	}

	id := m.cfg.Name + "-" + strconv.FormatUint(m.callSeq.Add(1), 36)
	if fn, ok := ctx.Value(progressKey{}).(func(sdk.Progress)); ok && fn != nil {
		m.calls.Store(id, fn)
		defer m.calls.Delete(id)
	}
	err = fn(host.WithCallID(ctx, id), inst)
	if err == nil {
		return nil
	}
	var e *sdk.Error
	switch {
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited:
		m.lim.penalize(connID, e.RetryAfter)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		err = m.ctxError(ctx, "")
	case errors.Is(err, host.ErrPluginUnavailable):
		select {
		case <-inst.exited:
			err = &sdk.Error{Code: sdk.CodeTemporary, Message: "the plugin process exited during the call", Err: ErrUnavailable}
		default:
		}
	}
	return m.wrap(method, err)
}

func (m *managed) wrap(method string, err error) error {
	return fmt.Errorf("plugin %s: %s: %w", m.cfg.Name, method, err)
}

// ctxError explains a context that ended: the call's own deadline (the
// plugin is too slow or hanging) or the caller giving up.
func (m *managed) ctxError(ctx context.Context, while string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg := "timed out"
		if while != "" {
			msg += " " + while
		}
		return &sdk.Error{Code: sdk.CodeTemporary, Message: msg, Err: context.DeadlineExceeded}
	}
	return ctx.Err()
}

func (m *managed) unavailable() error {
	s := m.snapshot()
	msg := "is " + string(s.State)
	if s.LastError != "" && s.State != StateStarting {
		msg += " (" + s.LastError + ")"
	}
	if !s.NextAttemptAt.IsZero() {
		msg += fmt.Sprintf("; next start attempt in %s", time.Until(s.NextAttemptAt).Round(time.Millisecond))
	}
	return &sdk.Error{Code: sdk.CodeTemporary, Message: "plugin " + msg, Err: ErrUnavailable}
}

// LLM calls an llm plugin through the host. It implements sdk.LLM,
// sdk.Embedder and sdk.Transcriber (a plugin without one of them answers
// its calls with CodeUnimplemented), and model.LLM, the core's seam.
type LLM struct{ m *managed }

var (
	_ sdk.LLM         = (*LLM)(nil)
	_ sdk.Embedder    = (*LLM)(nil)
	_ sdk.Transcriber = (*LLM)(nil)
	_ model.LLM       = (*LLM)(nil)
	_ model.Source    = (*Host)(nil)
)

// Name is the plugin's configured name.
func (c *LLM) Name() string { return c.m.cfg.Name }

// State reports the plugin.
func (c *LLM) State() PluginState { return c.m.snapshot() }

// Available reports whether the plugin is running.
func (c *LLM) Available() bool { return c.m.snapshot().State == StateRunning }

func (c *LLM) Describe(ctx context.Context, req *sdk.DescribeRequest) (out *sdk.Manifest, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Describe", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.llm.Describe(ctx, &r)
		return err
	})
	return out, err
}

// Chat runs a chat; stream (may be nil) receives the events. It is bounded by
// stream_timeout rather than call_timeout.
func (c *LLM) Chat(ctx context.Context, req *sdk.ChatRequest, stream sdk.ChatStream) (out *sdk.ChatResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Chat", &r.Connection, c.m.host.cfg.StreamTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.llm.Chat(ctx, &r, stream)
		return err
	})
	return out, err
}

func (c *LLM) Embed(ctx context.Context, req *sdk.EmbedRequest) (out *sdk.EmbedResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Embed", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.llm.Embed(ctx, &r)
		return err
	})
	return out, err
}

func (c *LLM) Transcribe(ctx context.Context, req *sdk.TranscribeRequest) (out *sdk.TranscribeResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Transcribe", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.llm.Transcribe(ctx, &r)
		return err
	})
	return out, err
}

// Integration calls an integration plugin through the host. It implements
// sdk.Integration, sdk.Syncer, sdk.TaskPusher, sdk.ToolProvider and
// sdk.Linker.
type Integration struct{ m *managed }

var (
	_ sdk.Integration  = (*Integration)(nil)
	_ sdk.Syncer       = (*Integration)(nil)
	_ sdk.TaskPusher   = (*Integration)(nil)
	_ sdk.ToolProvider = (*Integration)(nil)
	_ sdk.Linker       = (*Integration)(nil)
)

// Name is the plugin's configured name.
func (c *Integration) Name() string { return c.m.cfg.Name }

// State reports the plugin.
func (c *Integration) State() PluginState { return c.m.snapshot() }

func (c *Integration) Describe(ctx context.Context, req *sdk.DescribeRequest) (out *sdk.Manifest, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Describe", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.Describe(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) Sync(ctx context.Context, req *sdk.SyncRequest) (out *sdk.SyncResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "Sync", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.Sync(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) PushTask(ctx context.Context, req *sdk.PushTaskRequest) (out *sdk.PushTaskResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "PushTask", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.PushTask(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) ListTools(ctx context.Context, req *sdk.ListToolsRequest) (out *sdk.ListToolsResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "ListTools", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.ListTools(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) ExecuteTool(ctx context.Context, req *sdk.ExecuteToolRequest) (out *sdk.ExecuteToolResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "ExecuteTool", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.ExecuteTool(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) BeginLink(ctx context.Context, req *sdk.BeginLinkRequest) (out *sdk.BeginLinkResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "BeginLink", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.BeginLink(ctx, &r)
		return err
	})
	return out, err
}

func (c *Integration) CheckLink(ctx context.Context, req *sdk.CheckLinkRequest) (out *sdk.CheckLinkResponse, err error) {
	r := *req
	r.Connection = c.m.connection(&req.Connection)
	err = c.m.call(ctx, "CheckLink", &r.Connection, c.m.callTimeout, func(ctx context.Context, inst *instance) (err error) {
		out, err = inst.integ.CheckLink(ctx, &r)
		return err
	})
	return out, err
}
