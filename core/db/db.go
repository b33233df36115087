// Package db opens Consilium's Postgres pool, runs migrations and provides the
// one transaction helper through which domain services write rows and insert
// River jobs atomically.
package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobInserter inserts River jobs inside a caller's transaction. Both the
// insert-only client of an API process and the full client of a worker
// satisfy it.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// DB is the pool plus the job inserter; domain services hold one.
type DB struct {
	Pool *pgxpool.Pool
	jobs JobInserter
}

// New wraps a pool. SetJobs must be called before any transaction inserts jobs.
func New(pool *pgxpool.Pool) *DB { return &DB{Pool: pool} }

// SetJobs sets the River client used by Tx.InsertJob. It is separate from New
// because the River client is built from workers that need the services that
// need the DB.
func (d *DB) SetJobs(j JobInserter) { d.jobs = j }

// Tx is a transaction that can also insert River jobs; they become visible to
// workers only when the transaction commits.
type Tx struct {
	pgx.Tx
	jobs JobInserter
}

// InsertJob inserts a River job in this transaction.
func (t Tx) InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if t.jobs == nil {
		return nil, fmt.Errorf("insert job %s: no River client configured", args.Kind())
	}
	return t.jobs.InsertTx(ctx, t.Tx, args, opts)
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise (River requires a rollback after a failed InsertTx).
//
// When ctx carries a transaction (WithTx), fn runs inside it instead, in a
// savepoint: an error rolls back what fn did, and nothing is committed until
// the caller commits its transaction. A service called that way becomes
// part of the caller's unit of work (the chat orchestrator runs a tool's
// write and its audit row in one transaction so).
func (d *DB) InTx(ctx context.Context, fn func(tx Tx) error) error {
	if outer, ok := ctx.Value(txKey{}).(Tx); ok {
		sp, err := outer.Begin(ctx)
		if err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		defer func() { _ = sp.Rollback(context.WithoutCancel(ctx)) }()
		jobs := outer.jobs
		if jobs == nil {
			jobs = d.jobs
		}
		if err := fn(Tx{Tx: sp, jobs: jobs}); err != nil {
			return err
		}
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
	}
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(Tx{Tx: tx, jobs: d.jobs}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type txKey struct{}

// WithTx returns a context whose InTx calls join tx (through a savepoint)
// instead of beginning transactions of their own. Reads a service makes on
// the pool directly do not see tx's uncommitted rows; the services' write
// paths all go through InTx. tx must not be used by two goroutines at once:
// do not hand the context to concurrent work.
func WithTx(ctx context.Context, tx Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// TxFrom returns the transaction ctx carries (WithTx), if any.
func TxFrom(ctx context.Context) (Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(Tx)
	return tx, ok
}

// PoolOptions tunes Open.
type PoolOptions struct {
	MaxConns int32
	// AcquireTimeout bounds the wait for a free connection when every one
	// is in use (database.acquire_timeout); the query or transaction then
	// fails with ErrAcquireTimeout. Zero: wait as long as the caller's
	// context allows.
	AcquireTimeout time.Duration
	// Vector registers pgvector's types on every connection. It needs the
	// vector extension, so migrations run on a pool without it.
	Vector bool
}

// Open connects a pool and checks that the database answers.
func Open(ctx context.Context, url string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database.url: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.AcquireTimeout > 0 {
		cfg.ConnConfig.Tracer = acquireTimeout{d: o.AcquireTimeout}
	}
	if o.Vector {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			if err := pgxvec.RegisterTypes(ctx, c); err != nil {
				return fmt.Errorf("register pgvector types (is the database migrated?): %w", err)
			}
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg.ConnConfig), err)
	}
	return pool, nil
}

func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// of the named constraint when constraint is not empty.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// Querier is what store code needs of a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Q is what a read should query: the transaction ctx carries (WithTx), so
// that a service reading back its own write inside a caller's transaction
// sees it, else the pool.
func (d *DB) Q(ctx context.Context) Querier {
	if tx, ok := TxFrom(ctx); ok {
		return tx
	}
	return d.Pool
}
