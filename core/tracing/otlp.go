package tracing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Exporter sends spans to an OTLP/HTTP collector as protobuf. It encodes
// each batch straight from the SDK's read-only spans into one reused
// buffer. OpenTelemetry's exporter first builds a tree of protobuf objects
// for every span and then marshals it: about 1.7 KB of garbage and 4 µs
// per span, which with a span per request was a large part of what tracing
// cost a request. What goes over the wire is the same message
// (TestExporterEncodesAsOpenTelemetry compares the two).
//
// Retryable answers (429, 502, 503, 504, and network errors) are retried
// with a backoff, honouring Retry-After, until the export's context ends.
type Exporter struct {
	url       string
	client    *http.Client
	headers   http.Header
	backoff   time.Duration
	bufs      sync.Pool // *payload
	mu        sync.Mutex
	enc       encoder
	shut      atomic.Bool
	userAgent string
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// ExporterOptions configure an Exporter.
type ExporterOptions struct {
	// Headers go with every export (a collector's API key, say).
	Headers http.Header
	// Backoff is the first wait before a retry (1 s); it doubles up to 30 s.
	Backoff time.Duration
	// Version names this build in the User-Agent.
	Version string
}

// NewExporter exports to the collector's traces URL (such as
// http://127.0.0.1:4318/v1/traces).
func NewExporter(tracesURL string, opts ExporterOptions) *Exporter {
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	ua := "consilium"
	if opts.Version != "" {
		ua += "/" + opts.Version
	}
	return &Exporter{
		url:       tracesURL,
		client:    &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		headers:   opts.Headers.Clone(),
		backoff:   opts.Backoff,
		userAgent: ua,
	}
}

// RejectedError is a collector's partial success: it took the export but
// refused Rejected of its spans.
type RejectedError struct {
	Rejected int64
	Message  string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("tracing: the collector rejected %d spans: %s", e.Rejected, e.Message)
}

// payload is one encoded export. The HTTP transport may still hold a
// request's body after Do returns, so the buffer goes back to the pool
// only when every body made from it has been closed.
type payload struct {
	b    []byte
	refs atomic.Int32
	pool *sync.Pool
}

func (p *payload) release() {
	if p.refs.Add(-1) == 0 {
		p.b = p.b[:0]
		p.pool.Put(p)
	}
}

type payloadBody struct {
	*bytes.Reader
	p    *payload
	once sync.Once
}

func (b *payloadBody) Close() error {
	b.once.Do(b.p.release)
	return nil
}

// ExportSpans encodes spans and posts them, retrying while the collector
// answers that it may take them later.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if e.shut.Load() {
		return errors.New("tracing: the exporter is shut down")
	}
	p, _ := e.bufs.Get().(*payload)
	if p == nil {
		p = &payload{pool: &e.bufs}
	}
	p.refs.Store(1)
	defer p.release()
	e.mu.Lock()
	p.b = e.enc.request(p.b[:0], spans)
	e.enc.b = nil
	e.mu.Unlock()

	wait := e.backoff
	for {
		retry, after, err := e.post(ctx, p)
		if err == nil || !retry {
			return err
		}
		if after > 0 {
			wait = after
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// post sends one attempt and says whether a failure may be retried, and
// after how long when the collector said so.
func (e *Exporter) post(ctx context.Context, p *payload) (retry bool, after time.Duration, err error) {
	p.refs.Add(1)
	body := &payloadBody{Reader: bytes.NewReader(p.b), p: p}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, body)
	if err != nil {
		_ = body.Close()
		return false, 0, fmt.Errorf("tracing: %w", err)
	}
	req.ContentLength = int64(len(p.b))
	for k, v := range e.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", e.userAgent)
	resp, err := e.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, 0, fmt.Errorf("tracing: export to %s: %w", e.url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		if err != nil || len(data) == 0 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
			return false, 0, nil // the spans were taken; the body only reports partial success
		}
		var answer collectortrace.ExportTraceServiceResponse
		if proto.Unmarshal(data, &answer) == nil {
			if ps := answer.GetPartialSuccess(); ps != nil && (ps.GetRejectedSpans() != 0 || ps.GetErrorMessage() != "") {
				return false, 0, &RejectedError{Rejected: ps.GetRejectedSpans(), Message: ps.GetErrorMessage()}
			}
		}
		return false, 0, nil
	}
	msg := strings.TrimSpace(string(data))
	if msg == "" {
		msg = "(empty body)"
	}
	err = fmt.Errorf("tracing: export to %s: %s: %s", e.url, resp.Status, msg)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return true, after, err
	}
	return false, 0, err
}

// Shutdown refuses further exports and closes idle connections.
func (e *Exporter) Shutdown(context.Context) error {
	e.shut.Store(true)
	e.client.CloseIdleConnections()
	return nil
}

// headersFromEnv reads OpenTelemetry's OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_EXPORTER_OTLP_TRACES_HEADERS ("key=value,key2=value2", values
// URL-encoded); the second wins where both name a header.
func headersFromEnv() (http.Header, error) {
	h := http.Header{}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		v := strings.TrimSpace(os.Getenv(name))
		if v == "" {
			continue
		}
		for _, pair := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("%s: %q is not key=value", name, strings.TrimSpace(pair))
			}
			dec, err := url.PathUnescape(strings.TrimSpace(val))
			if err != nil {
				return nil, fmt.Errorf("%s: the value of %s: %w", name, k, err)
			}
			h.Set(k, dec)
		}
	}
	return h, nil
}

// encoder writes an ExportTraceServiceRequest (opentelemetry-proto,
// collector/trace/v1) for a batch of spans, grouped by resource and then
// instrumentation scope in the order they first appear.
type encoder struct {
	b      []byte
	groups []spanGroup
	order  []int
}

type spanGroup struct {
	res   *resource.Resource
	key   attribute.Distinct
	scope instrumentation.Scope
	n     int
}

// Field numbers of opentelemetry-proto's messages.
const (
	fRequestResourceSpans = 1

	fResourceSpansResource   = 1
	fResourceSpansScopeSpans = 2
	fResourceSpansSchemaURL  = 3
	fResourceAttributes      = 1

	fScopeSpansScope     = 1
	fScopeSpansSpans     = 2
	fScopeSpansSchemaURL = 3
	fScopeName           = 1
	fScopeVersion        = 2
	fScopeAttributes     = 3

	fSpanTraceID           = 1
	fSpanSpanID            = 2
	fSpanTraceState        = 3
	fSpanParentSpanID      = 4
	fSpanName              = 5
	fSpanKind              = 6
	fSpanStart             = 7
	fSpanEnd               = 8
	fSpanAttributes        = 9
	fSpanDroppedAttributes = 10
	fSpanEvents            = 11
	fSpanDroppedEvents     = 12
	fSpanLinks             = 13
	fSpanDroppedLinks      = 14
	fSpanStatus            = 15
	fSpanFlags             = 16

	fEventTime              = 1
	fEventName              = 2
	fEventAttributes        = 3
	fEventDroppedAttributes = 4

	fLinkTraceID           = 1
	fLinkSpanID            = 2
	fLinkAttributes        = 4
	fLinkDroppedAttributes = 5
	fLinkFlags             = 6

	fStatusMessage = 2
	fStatusCode    = 3

	fKeyValueKey   = 1
	fKeyValueValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fAnyKVList = 6
	fAnyBytes  = 7

	fArrayValues  = 1
	fKVListValues = 1

	// SpanFlags: the parent's remoteness is known, and it is remote.
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200

	statusOK    = 1
	statusError = 2
)

// request appends the encoded batch to b.
func (e *encoder) request(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	e.b = b
	e.groups = e.groups[:0]
	e.order = e.order[:0]
	for _, s := range spans {
		if s == nil {
			e.order = append(e.order, -1)
			continue
		}
		res, scope := s.Resource(), s.InstrumentationScope()
		key := res.Equivalent()
		g := -1
		for i := range e.groups {
			if e.groups[i].key == key && e.groups[i].scope == scope {
				g = i
				break
			}
		}
		if g < 0 {
			g = len(e.groups)
			e.groups = append(e.groups, spanGroup{res: res, key: key, scope: scope})
		}
		e.groups[g].n++
		e.order = append(e.order, g)
	}
	for r := range e.groups {
		if e.groups[r].n < 0 {
			continue // its resource was written with an earlier group
		}
		key, res := e.groups[r].key, e.groups[r].res
		rs := e.begin(fRequestResourceSpans)
		if res != nil {
			m := e.begin(fResourceSpansResource)
			for it := res.Iter(); it.Next(); {
				e.keyValue(fResourceAttributes, it.Attribute())
			}
			e.end(m)
		}
		for g := r; g < len(e.groups); g++ {
			if e.groups[g].key != key || e.groups[g].n < 0 {
				continue
			}
			e.scopeSpans(g, spans)
			e.groups[g].n = -1
		}
		if res != nil {
			e.string(fResourceSpansSchemaURL, res.SchemaURL())
		}
		e.end(rs)
	}
	return e.b
}

func (e *encoder) scopeSpans(g int, spans []sdktrace.ReadOnlySpan) {
	scope := e.groups[g].scope
	ss := e.begin(fResourceSpansScopeSpans)
	if scope != (instrumentation.Scope{}) {
		m := e.begin(fScopeSpansScope)
		e.string(fScopeName, scope.Name)
		e.string(fScopeVersion, scope.Version)
		for it := scope.Attributes.Iter(); it.Next(); {
			e.keyValue(fScopeAttributes, it.Attribute())
		}
		e.end(m)
	}
	for i, s := range spans {
		if e.order[i] == g {
			e.span(s)
		}
	}
	e.string(fScopeSpansSchemaURL, scope.SchemaURL)
	e.end(ss)
}

func (e *encoder) span(s sdktrace.ReadOnlySpan) {
	m := e.begin(fScopeSpansSpans)
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	e.bytes(fSpanTraceID, tid[:])
	e.bytes(fSpanSpanID, sid[:])
	if sc.TraceState().Len() > 0 {
		e.string(fSpanTraceState, sc.TraceState().String())
	}
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		e.bytes(fSpanParentSpanID, psid[:])
	}
	e.string(fSpanName, s.Name())
	if k := spanKind(s.SpanKind()); k != 0 {
		e.varint(fSpanKind, k)
	}
	e.fixed64(fSpanStart, unixNano(s.StartTime()))
	e.fixed64(fSpanEnd, unixNano(s.EndTime()))
	for _, kv := range s.Attributes() {
		e.keyValue(fSpanAttributes, kv)
	}
	e.varint(fSpanDroppedAttributes, clampUint32(s.DroppedAttributes()))
	for _, ev := range s.Events() {
		em := e.begin(fSpanEvents)
		e.fixed64(fEventTime, unixNano(ev.Time))
		e.string(fEventName, ev.Name)
		for _, kv := range ev.Attributes {
			e.keyValue(fEventAttributes, kv)
		}
		e.varint(fEventDroppedAttributes, clampUint32(ev.DroppedAttributeCount))
		e.end(em)
	}
	e.varint(fSpanDroppedEvents, clampUint32(s.DroppedEvents()))
	for _, l := range s.Links() {
		lm := e.begin(fSpanLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		e.bytes(fLinkTraceID, ltid[:])
		e.bytes(fLinkSpanID, lsid[:])
		for _, kv := range l.Attributes {
			e.keyValue(fLinkAttributes, kv)
		}
		e.varint(fLinkDroppedAttributes, clampUint32(l.DroppedAttributeCount))
		e.fixed32(fLinkFlags, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
		e.end(lm)
	}
	e.varint(fSpanDroppedLinks, clampUint32(s.DroppedLinks()))
	st := s.Status()
	sm := e.begin(fSpanStatus)
	e.string(fStatusMessage, st.Description)
	switch st.Code {
	case codes.Ok:
		e.varint(fStatusCode, statusOK)
	case codes.Error:
		e.varint(fStatusCode, statusError)
	}
	e.end(sm)
	e.fixed32(fSpanFlags, spanFlags(sc.TraceFlags(), parent))
	e.end(m)
}

// spanFlags are the W3C trace flags, and whether the parent is remote.
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | flagHasIsRemote
	if parent.IsRemote() {
		f |= flagIsRemote
	}
	return f
}

func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer:
		return uint64(k) // the same numbers as opentelemetry-proto's SpanKind
	}
	return 0
}

func unixNano(t time.Time) uint64 { return uint64(max(0, t.UnixNano())) } //nolint:gosec // clamped at 0

func clampUint32(v int) uint64 { return uint64(min(max(v, 0), math.MaxUint32)) } //nolint:gosec // clamped

func (e *encoder) keyValue(field protowire.Number, kv attribute.KeyValue) {
	m := e.begin(field)
	e.string(fKeyValueKey, string(kv.Key))
	v := e.begin(fKeyValueValue)
	e.anyValue(kv.Value)
	e.end(v)
	e.end(m)
}

// anyValue writes the fields of an AnyValue. Its value is a oneof, so a
// zero value is written too (a false bool is not an absent one).
func (e *encoder) anyValue(v attribute.Value) {
	switch v.Type() {
	case attribute.EMPTY:
	case attribute.BOOL:
		e.b = protowire.AppendTag(e.b, fAnyBool, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		e.b = protowire.AppendTag(e.b, fAnyInt, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, uint64(v.AsInt64())) //nolint:gosec // two's complement, as protobuf's int64
	case attribute.FLOAT64:
		e.b = protowire.AppendTag(e.b, fAnyDouble, protowire.Fixed64Type)
		e.b = protowire.AppendFixed64(e.b, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		e.b = protowire.AppendTag(e.b, fAnyString, protowire.BytesType)
		e.b = protowire.AppendString(e.b, v.AsString())
	case attribute.BYTESLICE:
		e.b = protowire.AppendTag(e.b, fAnyBytes, protowire.BytesType)
		e.b = protowire.AppendBytes(e.b, v.AsByteSlice())
	case attribute.BOOLSLICE:
		array(e, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		array(e, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		array(e, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		array(e, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		array(e, v.AsSlice(), func(x attribute.Value) attribute.Value { return x })
	case attribute.MAP:
		l := e.begin(fAnyKVList)
		for _, kv := range v.AsMap() {
			e.keyValue(fKVListValues, kv)
		}
		e.end(l)
	default:
		e.b = protowire.AppendTag(e.b, fAnyString, protowire.BytesType)
		e.b = protowire.AppendString(e.b, "INVALID")
	}
}

// array writes an ArrayValue of xs.
func array[T any](e *encoder, xs []T, value func(T) attribute.Value) {
	a := e.begin(fAnyArray)
	for _, x := range xs {
		m := e.begin(fArrayValues)
		e.anyValue(value(x))
		e.end(m)
	}
	e.end(a)
}

// begin starts a length-delimited field with a one-byte length, and
// returns where its contents start; end writes the length.
func (e *encoder) begin(field protowire.Number) int {
	e.b = protowire.AppendTag(e.b, field, protowire.BytesType)
	e.b = append(e.b, 0)
	return len(e.b)
}

// end writes the length of the field begun at start, moving its contents
// when the length needs more than the one byte begin left for it.
func (e *encoder) end(start int) {
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	for range extra {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+extra:], e.b[start:start+n])
	protowire.AppendVarint(e.b[:start-1], uint64(n))
}

// The scalar fields below are left out at their zero value, as proto3
// does.

func (e *encoder) string(field protowire.Number, s string) {
	if s == "" {
		return
	}
	e.b = protowire.AppendTag(e.b, field, protowire.BytesType)
	e.b = protowire.AppendString(e.b, s)
}

func (e *encoder) bytes(field protowire.Number, b []byte) {
	e.b = protowire.AppendTag(e.b, field, protowire.BytesType)
	e.b = protowire.AppendBytes(e.b, b)
}

func (e *encoder) varint(field protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, field, protowire.VarintType)
	e.b = protowire.AppendVarint(e.b, v)
}

func (e *encoder) fixed64(field protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, field, protowire.Fixed64Type)
	e.b = protowire.AppendFixed64(e.b, v)
}

func (e *encoder) fixed32(field protowire.Number, v uint32) {
	if v == 0 {
		return
	}
	e.b = protowire.AppendTag(e.b, field, protowire.Fixed32Type)
	e.b = protowire.AppendFixed32(e.b, v)
}
