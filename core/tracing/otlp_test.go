package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/consilium-hq/consilium/core/tracing"
)

// bodies is a collector that keeps every export's body and answers with
// the status its answer function gives (200 when nil).
type bodies struct {
	mu      sync.Mutex
	got     [][]byte
	headers []http.Header
	answer  func(n int, w http.ResponseWriter) bool // true: it answered
}

func (c *bodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.got = append(c.got, body)
	c.headers = append(c.headers, r.Header.Clone())
	n := len(c.got)
	c.mu.Unlock()
	if c.answer != nil && c.answer(n, w) {
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func (c *bodies) requests(t *testing.T) []*collectortrace.ExportTraceServiceRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*collectortrace.ExportTraceServiceRequest
	for _, b := range c.got {
		var req collectortrace.ExportTraceServiceRequest
		require.NoError(t, proto.Unmarshal(b, &req))
		out = append(out, &req)
	}
	return out
}

// richSpans are spans with every kind of field and attribute value, from
// two resources and three scopes, interleaved; one attribute is long
// enough that its lengths take three bytes.
func richSpans() []sdktrace.ReadOnlySpan {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid := func(b byte) trace.SpanID { return trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, b} }
	ts, err := trace.ParseTraceState("vendor=abc,other=x-y")
	if err != nil {
		panic(err)
	}
	remoteParent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(1), TraceFlags: trace.FlagsSampled, Remote: true})
	resA := resource.NewSchemaless(attribute.String("service.name", "a"), attribute.String("service.version", "1.2.3"))
	resB := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "b"), attribute.Int("pid", 42))
	scope1 := instrumentation.Scope{Name: "github.com/consilium-hq/consilium", Version: "v1", SchemaURL: "https://opentelemetry.io/schemas/1.26.0",
		Attributes: attribute.NewSet(attribute.Bool("own", true))}
	scope2 := instrumentation.Scope{Name: "github.com/riverqueue/river"}
	start := time.Date(2026, 12, 6, 0, 1, 2, 345678901, time.UTC)
	everyValue := []attribute.KeyValue{
		attribute.String("s", "text"), attribute.String("empty", ""), attribute.Bool("t", true), attribute.Bool("f", false),
		attribute.Int64("i", -7), attribute.Int64("zero", 0), attribute.Float64("pi", 3.14159), attribute.Float64("fzero", 0),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -2, 1 << 40}),
		attribute.Float64Slice("fs", []float64{0.5, -1}), attribute.StringSlice("ss", []string{"x", "", "z"}),
		attribute.String("long", strings.Repeat("0123456789", 2000)),
		{Key: "nothing"},
	}
	stubs := []tracetest.SpanStub{
		{
			Name: "GET /api/users/me", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(2), TraceFlags: trace.FlagsSampled, TraceState: ts}),
			Parent: remoteParent, SpanKind: trace.SpanKindServer, StartTime: start, EndTime: start.Add(1500 * time.Microsecond),
			Attributes: everyValue, DroppedAttributes: 3,
			Events:        []sdktrace.Event{{Name: "retry", Time: start.Add(time.Millisecond), Attributes: []attribute.KeyValue{attribute.Int("attempt", 2)}, DroppedAttributeCount: 1}},
			DroppedEvents: 2,
			Links: []sdktrace.Link{{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8}, TraceFlags: trace.FlagsSampled, Remote: true}),
				Attributes: []attribute.KeyValue{attribute.String("why", "queued by")}, DroppedAttributeCount: 4}},
			DroppedLinks: 5,
			Status:       sdktrace.Status{Code: codes.Error, Description: "Internal Server Error"},
			Resource:     resA, InstrumentationScope: scope1,
		},
		{
			Name: "river.work/ai.embed_note", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(3)}),
			SpanKind: trace.SpanKindConsumer, StartTime: start, EndTime: start.Add(time.Second),
			Status: sdktrace.Status{Code: codes.Ok}, Resource: resA, InstrumentationScope: scope2,
		},
		{
			Name: "plugin local Embed", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(4), TraceFlags: trace.FlagsSampled}),
			Parent: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(3), TraceFlags: trace.FlagsSampled}), SpanKind: trace.SpanKindClient,
			StartTime: start, EndTime: start.Add(time.Millisecond), Attributes: []attribute.KeyValue{attribute.String("plugin", "local")},
			Resource: resB, InstrumentationScope: scope1,
		},
		{Name: "internal", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(5)}), SpanKind: trace.SpanKindInternal,
			StartTime: start, EndTime: start, Resource: resA, InstrumentationScope: scope1},
		{Name: "", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid(6)}), Resource: resB},
	}
	spans := make([]sdktrace.ReadOnlySpan, len(stubs))
	for i, s := range stubs {
		spans[i] = s.Snapshot()
	}
	return spans
}

// What our exporter sends is the message OpenTelemetry's own OTLP/HTTP
// exporter sends for the same spans, field for field.
func TestExporterEncodesAsOpenTelemetry(t *testing.T) {
	ours, theirs := &bodies{}, &bodies{}
	oursSrv, theirsSrv := httptest.NewServer(ours), httptest.NewServer(theirs)
	defer oursSrv.Close()
	defer theirsSrv.Close()
	spans := richSpans()

	ctx := context.Background()
	exp := tracing.NewExporter(oursSrv.URL+"/v1/traces", tracing.ExporterOptions{})
	require.NoError(t, exp.ExportSpans(ctx, spans))
	require.NoError(t, exp.ExportSpans(ctx, spans[2:3]), "a second export reuses the buffer")
	require.NoError(t, exp.Shutdown(ctx))
	otlp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(theirsSrv.URL+"/v1/traces"))
	require.NoError(t, err)
	require.NoError(t, otlp.ExportSpans(ctx, spans))
	require.NoError(t, otlp.ExportSpans(ctx, spans[2:3]))
	require.NoError(t, otlp.Shutdown(ctx))

	got, want := ours.requests(t), theirs.requests(t)
	require.Len(t, got, 2)
	require.Len(t, want, 2)
	// Resources and scopes come in the order they first appear, and the
	// spans of a scope in the order they ended.
	var names []string
	for _, rs := range got[0].ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				names = append(names, s.Name)
			}
		}
	}
	require.Equal(t, []string{"GET /api/users/me", "internal", "river.work/ai.embed_note", "plugin local Embed", ""}, names)
	for i := range got {
		sortRequest(want[i])
		sortRequest(got[i])
		if !proto.Equal(want[i], got[i]) {
			t.Fatalf("export %d differs from OpenTelemetry's:\nours:   %s\ntheirs: %s", i+1,
				protojson.Format(got[i]), protojson.Format(want[i]))
		}
	}
}

// sortRequest orders a request's resources by service.name and each
// resource's scopes by name: OpenTelemetry's exporter groups spans through
// maps, so its order of resources is not fixed (ours is the order in which
// they first appear).
func sortRequest(req *collectortrace.ExportTraceServiceRequest) {
	service := func(rs *tracepb.ResourceSpans) string {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				return a.GetValue().GetStringValue()
			}
		}
		return ""
	}
	slices.SortStableFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int {
		return strings.Compare(service(a), service(b))
	})
	for _, rs := range req.ResourceSpans {
		slices.SortStableFunc(rs.ScopeSpans, func(a, b *tracepb.ScopeSpans) int {
			return strings.Compare(a.GetScope().GetName(), b.GetScope().GetName())
		})
	}
}

// A collector that is briefly unavailable gets the export again after the
// backoff (or its Retry-After); a refusal is not retried.
func TestExporterRetries(t *testing.T) {
	spans := richSpans()[:1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// export sends spans to a collector that answers with answer, and
	// returns what it received and the export's error.
	export := func(answer func(n int, w http.ResponseWriter) bool) ([]*collectortrace.ExportTraceServiceRequest, error) {
		c := &bodies{answer: answer}
		srv := httptest.NewServer(c)
		defer srv.Close()
		err := tracing.NewExporter(srv.URL+"/v1/traces", tracing.ExporterOptions{Backoff: time.Millisecond}).ExportSpans(ctx, spans)
		return c.requests(t), err
	}
	t.Run("unavailable, then taken", func(t *testing.T) {
		got, err := export(func(n int, w http.ResponseWriter) bool {
			switch n {
			case 1:
				http.Error(w, "busy", http.StatusServiceUnavailable)
			case 2:
				http.Error(w, "slow down", http.StatusTooManyRequests)
			default:
				return false
			}
			return true
		})
		require.NoError(t, err)
		require.Len(t, got, 3, "two refusals and the export that was taken")
		require.True(t, proto.Equal(got[0], got[2]), "each attempt sends the same spans")
	})
	t.Run("refused", func(t *testing.T) {
		got, err := export(func(n int, w http.ResponseWriter) bool {
			http.Error(w, "no such tenant", http.StatusBadRequest)
			return true
		})
		require.ErrorContains(t, err, "400 Bad Request: no such tenant")
		require.Len(t, got, 1)
	})
	t.Run("the deadline comes first", func(t *testing.T) {
		got, err := export(func(n int, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		})
		require.ErrorContains(t, err, "503 Service Unavailable")
		require.Len(t, got, 1, "an hour's Retry-After is past the export's deadline: no second try")
	})
}

// A partial success counts the rejected spans as dropped and the rest as
// exported.
func TestExporterPartialSuccess(t *testing.T) {
	c := &bodies{answer: func(n int, w http.ResponseWriter) bool {
		b, err := proto.Marshal(&collectortrace.ExportTraceServiceResponse{
			PartialSuccess: &collectortrace.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "too old"}})
		if err != nil {
			panic(err)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
		return true
	}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	exp := tracing.NewExporter(srv.URL+"/v1/traces", tracing.ExporterOptions{})
	spans := richSpans()
	var rejected *tracing.RejectedError
	require.ErrorAs(t, exp.ExportSpans(context.Background(), spans), &rejected)
	require.Equal(t, int64(1), rejected.Rejected)
	require.Equal(t, "too old", rejected.Message)

	b := tracing.NewBatcher(exp, tracing.BatchOptions{})
	exported0, dropped0 := tracing.Stats()
	for _, s := range spans {
		b.OnEnd(s) // the batcher keeps the sampled ones: 2 of 5
	}
	require.NoError(t, b.Shutdown(context.Background()))
	exported, dropped := tracing.Stats()
	require.Equal(t, int64(1), exported-exported0)
	require.Equal(t, int64(1), dropped-dropped0)
}

// Setup sends the headers of OTEL_EXPORTER_OTLP_HEADERS (the traces
// variable winning), and refuses a malformed one.
func TestSetupSendsHeadersFromEnv(t *testing.T) {
	c := &bodies{}
	srv := httptest.NewServer(c)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=general,x-team=planning%20team")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=for%3Dtraces")
	stop, err := tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: srv.URL, ServiceName: "consilium-test", SampleRatio: 1, Version: "1.0.0"})
	require.NoError(t, err)
	_, s := tracing.Tracer().Start(context.Background(), "with headers")
	s.End()
	require.NoError(t, stop(context.Background()))
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.headers, 1)
	require.Equal(t, "for=traces", c.headers[0].Get("X-Api-Key"))
	require.Equal(t, "planning team", c.headers[0].Get("X-Team"))
	require.Equal(t, "consilium/1.0.0", c.headers[0].Get("User-Agent"))

	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key")
	_, err = tracing.Setup(context.Background(), tracing.Options{OTLPEndpoint: srv.URL, ServiceName: "consilium-test", SampleRatio: 1})
	require.ErrorContains(t, err, `OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-api-key" is not key=value`)
}
