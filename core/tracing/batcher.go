package tracing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BatchOptions size a Batcher; zero values take the defaults, which are
// OpenTelemetry's batch span processor's.
type BatchOptions struct {
	// MaxBatch is the number of spans in one export (512).
	MaxBatch int
	// MaxPending is the number of full batches that may wait for the
	// exporter (4, so 2,048 spans with MaxBatch); beyond it new spans are
	// dropped and counted, never waited for.
	MaxPending int
	// Interval exports a batch that has not filled in this long (5 s).
	Interval time.Duration
	// Timeout bounds one export (30 s).
	Timeout time.Duration
}

// Batcher is a span processor that exports ended spans in batches, like
// OpenTelemetry's batch span processor, but cheaper per span: ending a
// span appends it to the current batch under a lock, and the exporting
// goroutine is woken once per full batch (or at the interval). The SDK's
// processor sends each span over a channel to its goroutine, waking it for
// every span; at thousands of requests a second those wake-ups cost a
// traced request about as much as exporting its span.
type Batcher struct {
	exp  sdktrace.SpanExporter
	opts BatchOptions

	mu      sync.Mutex
	batch   []sdktrace.ReadOnlySpan
	stopped bool
	dropped int

	full    chan []sdktrace.ReadOnlySpan
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	expOnce sync.Once
}

var _ sdktrace.SpanProcessor = (*Batcher)(nil)

// NewBatcher starts a Batcher exporting to exp.
func NewBatcher(exp sdktrace.SpanExporter, opts BatchOptions) *Batcher {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = sdktrace.DefaultMaxExportBatchSize
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = sdktrace.DefaultMaxQueueSize / sdktrace.DefaultMaxExportBatchSize
	}
	if opts.Interval <= 0 {
		opts.Interval = sdktrace.DefaultScheduleDelay * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = sdktrace.DefaultExportTimeout * time.Millisecond
	}
	b := &Batcher{
		exp: exp, opts: opts,
		batch:   make([]sdktrace.ReadOnlySpan, 0, opts.MaxBatch),
		full:    make(chan []sdktrace.ReadOnlySpan, opts.MaxPending),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go b.run()
	return b
}

// Spans that this process's batchers have exported, and dropped (queue
// full, or the export failed), since it started.
var spansExported, spansDropped atomic.Int64

// Stats are the spans this process's batchers have exported, and dropped
// (the exporter fell behind or failed), since it started.
func Stats() (exported, dropped int64) { return spansExported.Load(), spansDropped.Load() }

// OnStart does nothing: only ended spans are exported.
func (b *Batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd adds a sampled span to the current batch and hands the batch to
// the exporting goroutine when it is full. It never blocks on the
// exporter: when MaxPending batches already wait, the batch is dropped.
func (b *Batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.batch = append(b.batch, s)
	if len(b.batch) < b.opts.MaxBatch {
		b.mu.Unlock()
		return
	}
	full := b.batch
	b.batch = make([]sdktrace.ReadOnlySpan, 0, b.opts.MaxBatch)
	select {
	case b.full <- full:
	default:
		b.dropped += len(full)
		spansDropped.Add(int64(len(full)))
	}
	b.mu.Unlock()
}

// take returns the current batch (possibly empty) and the count of spans
// dropped since the last call, and starts a new batch.
func (b *Batcher) take() ([]sdktrace.ReadOnlySpan, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch, dropped := b.batch, b.dropped
	b.batch, b.dropped = make([]sdktrace.ReadOnlySpan, 0, b.opts.MaxBatch), 0
	return batch, dropped
}

func (b *Batcher) run() {
	defer close(b.done)
	tick := time.NewTicker(b.opts.Interval)
	defer tick.Stop()
	// drain exports the waiting full batches and then the current one.
	drain := func() {
		for {
			select {
			case full := <-b.full:
				b.export(full)
			default:
				batch, dropped := b.take()
				if dropped > 0 {
					otel.Handle(fmt.Errorf("tracing: %d spans dropped: the exporter fell behind", dropped))
				}
				b.export(batch)
				return
			}
		}
	}
	for {
		select {
		case full := <-b.full:
			b.export(full)
		case <-tick.C:
			drain()
		case reply := <-b.flushes:
			drain()
			close(reply)
		case <-b.stop:
			drain()
			return
		}
	}
}

func (b *Batcher) export(spans []sdktrace.ReadOnlySpan) {
	if len(spans) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
	defer cancel()
	if err := b.exp.ExportSpans(ctx, spans); err != nil {
		var rejected *RejectedError
		if errors.As(err, &rejected) && rejected.Rejected >= 0 && rejected.Rejected <= int64(len(spans)) {
			spansExported.Add(int64(len(spans)) - rejected.Rejected)
			spansDropped.Add(rejected.Rejected)
		} else {
			spansDropped.Add(int64(len(spans)))
		}
		otel.Handle(fmt.Errorf("tracing: export of %d spans: %w", len(spans), err))
		return
	}
	spansExported.Add(int64(len(spans)))
}

// ForceFlush exports every span ended so far, and returns once the
// exporter has taken them or ctx ends.
func (b *Batcher) ForceFlush(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case b.flushes <- reply:
	case <-b.done:
		return nil // stopped: everything was exported on the way out
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is left, stops the goroutine and shuts the
// exporter down; spans that end afterwards are ignored.
func (b *Batcher) Shutdown(ctx context.Context) error {
	b.once.Do(func() {
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		close(b.stop)
	})
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	var err error
	b.expOnce.Do(func() { err = b.exp.Shutdown(ctx) })
	return err
}
