package tracing_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/db/dbtest"
	"github.com/consilium-hq/consilium/core/tracing"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// One trace follows a note from the API through the River job that embeds
// it to the plugin call that does: the request continues the caller's
// trace, the job's span links to the request's trace, and the plugin call
// is a child of the job's span.
func TestTraceFromAPIThroughJobToPlugin(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	shutdown := tracing.Install(rec, tracing.Options{ServiceName: "consilium-test", SampleRatio: 1, Version: "test"})
	t.Cleanup(func() { _ = shutdown(context.Background()) })

	e := apitest.New(t, apitest.Options{Models: aitest.LocalHost(t), Workers: true})
	u := e.NewUser()
	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	res := e.Do(http.MethodPost, "/api/notes", `{"title":"Trace me","content":[{"type":"paragraph","content":"follow this note"}]}`,
		u.Bearer(), "traceparent: 00-"+caller+"-00f067aa0ba902b7-01")
	require.Equal(t, http.StatusCreated, res.Status, res.String())

	find := func(pred func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
		for _, s := range rec.Ended() {
			if pred(s) {
				return s
			}
		}
		return nil
	}
	var work, embed sdktrace.ReadOnlySpan
	deadline := time.Now().Add(30 * time.Second)
	for (work == nil || embed == nil) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		work = find(func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == "river.work/ai.embed_note" && len(s.Links()) > 0 && s.Links()[0].SpanContext.TraceID().String() == caller
		})
		if work != nil {
			embed = find(func(s sdktrace.ReadOnlySpan) bool {
				return s.Name() == "plugin local Embed" && s.Parent().SpanID() == work.SpanContext().SpanID()
			})
		}
	}
	request := find(func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "POST /api/notes" })
	require.NotNil(t, request, "the request's span")
	require.Equal(t, caller, request.SpanContext().TraceID().String(), "the request continues the caller's trace")
	require.Equal(t, trace.SpanKindServer, request.SpanKind())
	insert := find(func(s sdktrace.ReadOnlySpan) bool {
		return s.SpanContext().TraceID().String() == caller && s.Name() == "river.insert_many"
	})
	require.NotNil(t, insert, "queuing the embedding job is part of the request's trace")
	require.NotNil(t, work, "the job's span links to the request's trace")
	require.NotNil(t, embed, "the plugin call is a child of the job's span")
	require.Equal(t, trace.SpanKindClient, embed.SpanKind())
}
