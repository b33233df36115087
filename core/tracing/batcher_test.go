package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/consilium-hq/consilium/core/tracing"
)

// gateExporter records each export call's span names; while its gate is
// closed, exports wait for it (an exporter that has fallen behind).
type gateExporter struct {
	mu       sync.Mutex
	calls    [][]string
	shutdown bool
	gate     chan struct{}
	entered  chan struct{} // one value per export that started
	exported chan struct{} // one value per export recorded
}

func newGateExporter(open bool) *gateExporter {
	g := &gateExporter{gate: make(chan struct{}), entered: make(chan struct{}, 100), exported: make(chan struct{}, 100)}
	if open {
		close(g.gate)
	}
	return g
}

func (g *gateExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	g.mu.Lock()
	g.calls = append(g.calls, names)
	g.mu.Unlock()
	g.exported <- struct{}{}
	return nil
}

func (g *gateExporter) Shutdown(context.Context) error {
	g.mu.Lock()
	g.shutdown = true
	g.mu.Unlock()
	return nil
}

func (g *gateExporter) snapshot() ([][]string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]string(nil), g.calls...), g.shutdown
}

// endSpans ends n spans named name-a, name-b, ... through tp.
func endSpans(t *testing.T, tp *sdktrace.TracerProvider, name string, n int) {
	t.Helper()
	tr := tp.Tracer("test")
	for i := range n {
		_, s := tr.Start(context.Background(), name+"-"+string(rune('a'+i%26)))
		s.End()
	}
}

func provider(p sdktrace.SpanProcessor, sampled bool) *sdktrace.TracerProvider {
	sampler := sdktrace.AlwaysSample()
	if !sampled {
		sampler = sdktrace.NeverSample()
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithSampler(sampler))
}

// A full batch goes out in one export, with no wait for the interval; the
// rest waits for a flush, which exports it; shutdown shuts the exporter
// down and later spans are ignored.
func TestBatcherExportsFullBatchesAndFlushes(t *testing.T) {
	exp := newGateExporter(true)
	b := tracing.NewBatcher(exp, tracing.BatchOptions{MaxBatch: 4, Interval: time.Hour})
	tp := provider(b, true)

	endSpans(t, tp, "s", 9)
	<-exp.exported // the first full batch
	<-exp.exported // the second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls, _ := exp.snapshot()
	require.Len(t, calls, 2, "two full batches exported, the ninth span waits")
	require.Len(t, calls[0], 4)
	require.Len(t, calls[1], 4)

	require.NoError(t, b.ForceFlush(ctx))
	calls, _ = exp.snapshot()
	require.Len(t, calls, 3)
	require.Equal(t, []string{"s-i"}, calls[2], "the flush exports the partial batch")

	require.NoError(t, b.ForceFlush(ctx), "an empty flush")
	calls, _ = exp.snapshot()
	require.Len(t, calls, 3, "no empty export")

	endSpans(t, tp, "last", 2)
	require.NoError(t, b.Shutdown(ctx))
	calls, shut := exp.snapshot()
	require.True(t, shut, "the exporter was shut down")
	require.Equal(t, []string{"last-a", "last-b"}, calls[3], "shutdown exports what is left")

	endSpans(t, tp, "after", 5)
	require.NoError(t, b.Shutdown(ctx), "a second shutdown")
	require.NoError(t, b.ForceFlush(ctx), "a flush after shutdown")
	calls, _ = exp.snapshot()
	require.Len(t, calls, 4, "spans ended after shutdown are ignored")
}

// A batch that does not fill is exported at the interval.
func TestBatcherExportsAtInterval(t *testing.T) {
	exp := newGateExporter(true)
	b := tracing.NewBatcher(exp, tracing.BatchOptions{MaxBatch: 100, Interval: 20 * time.Millisecond})
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	endSpans(t, provider(b, true), "tick", 3)
	select {
	case <-exp.exported:
	case <-time.After(time.Minute):
		t.Fatal("nothing exported at the interval")
	}
	calls, _ := exp.snapshot()
	require.Equal(t, []string{"tick-a", "tick-b", "tick-c"}, calls[0])
}

// When the exporter falls behind, ending a span never waits for it: once
// MaxPending full batches wait, further full batches are dropped; what
// was queued is exported when the exporter catches up.
func TestBatcherDropsWhenExporterIsBehind(t *testing.T) {
	exported0, dropped0 := tracing.Stats() // (the tests of this package do not run in parallel)
	exp := newGateExporter(false)
	b := tracing.NewBatcher(exp, tracing.BatchOptions{MaxBatch: 2, MaxPending: 1, Interval: time.Hour})
	tp := provider(b, true)

	endSpans(t, tp, "x", 2) // batch 1: taken by the exporter, which waits at the gate
	<-exp.entered
	endSpans(t, tp, "y", 2) // batch 2: the one that may wait
	endSpans(t, tp, "z", 6) // batches 3-5: dropped (OnEnd returns at once)
	endSpans(t, tp, "w", 1) // the current batch

	_, dropped := tracing.Stats()
	require.Equal(t, int64(6), dropped-dropped0, "three batches of two dropped")

	close(exp.gate)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, b.Shutdown(ctx))
	calls, _ := exp.snapshot()
	require.Equal(t, [][]string{{"x-a", "x-b"}, {"y-a", "y-b"}, {"w-a"}}, calls)
	exported, _ := tracing.Stats()
	require.Equal(t, int64(5), exported-exported0)
}

// Spans that were not sampled are never exported.
func TestBatcherSkipsUnsampled(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	b := tracing.NewBatcher(exp, tracing.BatchOptions{MaxBatch: 1})
	endSpans(t, provider(b, false), "n", 5)
	require.NoError(t, b.ForceFlush(context.Background()))
	require.Empty(t, exp.GetSpans())
	require.NoError(t, b.Shutdown(context.Background()))
}

// Setup's exporter speaks OTLP/HTTP: a collector on a local socket
// receives the spans (protobuf, POST /v1/traces) with the service's name,
// once the shutdown has flushed them.
func TestSetupExportsOverOTLP(t *testing.T) {
	var mu sync.Mutex
	var names []string
	var service string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	stop, err := tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: collector.URL, ServiceName: "consilium-test", SampleRatio: 1})
	require.NoError(t, err)
	for _, name := range []string{"first", "second"} {
		_, s := tracing.Tracer().Start(context.Background(), name)
		s.End()
	}
	exported0, _ := tracing.Stats()
	require.NoError(t, stop(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"first", "second"}, names)
	require.Equal(t, "consilium-test", service)
	exported, _ := tracing.Stats()
	require.Equal(t, int64(2), exported-exported0)
}
