// Package tracing sets up OpenTelemetry traces: spans for HTTP requests,
// River jobs (linked to the request that queued them through the job's
// metadata) and plugin calls (whose W3C trace context travels to the plugin
// in the call's gRPC metadata). Off by default: without an OTLP endpoint the
// global tracer provider stays OpenTelemetry's no-op one, and every span
// costs a few nanoseconds.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options are the tracing.* config keys.
type Options struct {
	OTLPEndpoint string
	ServiceName  string
	SampleRatio  float64
	Version      string
}

// Name is the instrumentation scope of Consilium's own spans.
const Name = "github.com/consilium-hq/consilium"

// Tracer is Consilium's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Setup installs an OTLP/HTTP exporter (ours, see Exporter) as the global
// tracer provider when tracing.otlp_endpoint is set, and the W3C
// propagators always. Headers for the collector (an API key, say) come
// from OpenTelemetry's usual OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_EXPORTER_OTLP_TRACES_HEADERS. The returned function flushes and
// stops it.
func Setup(ctx context.Context, cfg Options) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if cfg.OTLPEndpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(cfg.OTLPEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing.otlp_endpoint: must be an http(s) URL such as http://127.0.0.1:4318, got %q", cfg.OTLPEndpoint)
	}
	headers, err := headersFromEnv()
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	exp := NewExporter(strings.TrimSuffix(cfg.OTLPEndpoint, "/")+"/v1/traces", ExporterOptions{Headers: headers, Version: cfg.Version})
	return Install(NewBatcher(exp, BatchOptions{}), cfg), nil
}

// Install makes a tracer provider over sp the global one (Setup does it
// with the OTLP exporter; tests with an in-memory one).
func Install(sp sdktrace.SpanProcessor, cfg Options) func(context.Context) error {
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
	}
}
