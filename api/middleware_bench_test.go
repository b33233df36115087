package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/consilium-hq/consilium/core/metrics"
	"github.com/consilium-hq/consilium/core/tracing"
)

// BenchmarkRequestMiddleware: the per-request work of withRequest alone
// (request id, logger, access log, metrics, span), with a handler that
// does nothing, so that its allocations and time show what observability
// adds: "off" has no metrics and OpenTelemetry's no-op tracer, "on" has
// the Prometheus metrics and a sampled span exported by OTLP/HTTP (as
// tracing.Setup makes it).
func BenchmarkRequestMiddleware(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users/me", func(w http.ResponseWriter, r *http.Request) {
		if ri := requestInfoFrom(r.Context()); ri != nil {
			ri.UserID = "0190a6f3-8c4e-7b2a-9d1e-3f5a7c9e1b2d"
		}
		w.WriteHeader(http.StatusOK)
	})
	for _, on := range []bool{false, true} {
		name, m := "off", (*metrics.Metrics)(nil)
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		stop := func(context.Context) error { return nil }
		if on {
			name, m = "on", metrics.New()
			var err error
			stop, err = tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: collector.URL, ServiceName: "bench", SampleRatio: 1})
			if err != nil {
				b.Fatal(err)
			}
		}
		h := withRequest(withRoute(mux), logger, newProxyTrust(false, nil), m)
		b.Run(name, func(b *testing.B) {
			// A busy loop makes spans faster than a server would, and
			// would starve the exporter: it would drop spans, and tracing
			// would look cheap. So the loop flushes every 256 requests
			// and waits, which puts the export into the time per request.
			req := httptest.NewRequest(http.MethodGet, "/api/users/me", nil)
			_, dropped0 := tracing.Stats()
			flush := func() {}
			if tp, ok := otel.GetTracerProvider().(interface{ ForceFlush(context.Context) error }); ok {
				flush = func() {
					if err := tp.ForceFlush(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.ServeHTTP(httptest.NewRecorder(), req)
				if i%256 == 255 {
					flush()
				}
			}
			flush()
			if _, dropped := tracing.Stats(); dropped > dropped0 {
				b.Fatalf("%d spans dropped: the figure would leave their export out", dropped-dropped0)
			}
		})
		if err := stop(context.Background()); err != nil {
			b.Error(err)
		}
	}
	otel.SetTracerProvider(tracenoop.NewTracerProvider())
}
