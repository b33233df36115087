package plugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// A plugin call is a span, and its trace context reaches the plugin
// (sdk.TraceContext), so a plugin's own work can join the host's trace.
func TestCallsCarryTheTraceToThePlugin(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	otel.SetTextMapPropagator(propagation.TraceContext{})

	b := setup(t, testConfig(item("tp", testBinaries.plugin)))
	c := b.integration(t, "tp")
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	raw, err := tool(ctx, c, "trace", nil)
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}

	var call sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "plugin tp ExecuteTool" {
			call = s
		}
	}
	if call == nil {
		t.Fatalf("no span for the call among %d", len(rec.Ended()))
	}
	if call.Parent().SpanID() != parent.SpanContext().SpanID() || call.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("the call's span is not a child of the caller's")
	}
	want := "00-" + call.SpanContext().TraceID().String() + "-" + call.SpanContext().SpanID().String() + "-01"
	if got["traceparent"] != want {
		t.Fatalf("the plugin saw traceparent %q, want %q (the call's span)", got["traceparent"], want)
	}

	// With tracing off (the no-op provider), nothing is sent.
	otel.SetTracerProvider(noop.NewTracerProvider())
	raw, err = tool(context.Background(), c, "trace", nil)
	if err != nil || strings.Contains(string(raw), "00-") || !strings.Contains(string(raw), `"traceparent":""`) {
		t.Fatalf("untraced call: %s, %v", raw, err)
	}
}
