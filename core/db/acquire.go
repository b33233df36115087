package db

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrAcquireTimeout is the error of a query or transaction that found no
// connection free in the pool within database.acquire_timeout: every
// connection is held by other work. The API answers it 503 (Unavailable),
// so that a full pool sheds load instead of queueing requests without end.
var ErrAcquireTimeout = errors.New("no database connection became free in time")

// acquireTimeout bounds how long a pool's Acquire waits for a free
// connection. pgxpool has no such setting, but it uses the context an
// AcquireTracer returns for the wait (and only for the wait: the query
// runs on the caller's context). That context's Err names the cause, which
// the pool hands back as its error.
type acquireTimeout struct{ d time.Duration }

var (
	_ pgxpool.AcquireTracer = acquireTimeout{}
	_ pgx.QueryTracer       = acquireTimeout{}
)

func (a acquireTimeout) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	wait, cancel := context.WithTimeout(ctx, a.d)
	return &acquireCtx{Context: wait, parent: ctx, cancel: cancel}
}

func (acquireTimeout) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	if c, ok := ctx.(*acquireCtx); ok {
		c.cancel()
	}
}

// A pool's ConnConfig.Tracer must be a QueryTracer; this one traces nothing.
func (acquireTimeout) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (acquireTimeout) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// acquireCtx is the wait's context: when the wait's own deadline ended it
// (the caller's context still live), Err is ErrAcquireTimeout.
type acquireCtx struct {
	context.Context
	parent context.Context
	cancel context.CancelFunc
}

func (c *acquireCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.parent.Err() == nil {
		return acquireError{}
	}
	return err
}

// acquireError is ErrAcquireTimeout, also matching context.DeadlineExceeded
// for code that checks for a timeout.
type acquireError struct{}

func (acquireError) Error() string { return ErrAcquireTimeout.Error() }
func (acquireError) Is(target error) bool {
	return target == ErrAcquireTimeout || target == context.DeadlineExceeded
}
