package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/consilium-hq/consilium/migrations"
)

// migrationLockKey serialises migrations of several processes started at
// once; River's migrator takes no lock of its own, so this covers it too.
const migrationLockKey = 7_342_001_117

// ErrNotMigrated is returned by CheckMigrated when migrations are pending.
var ErrNotMigrated = errors.New("database is not migrated: run `consilium migrate up` (or set database.auto_migrate: true)")

// Migrator runs the embedded app migrations (goose) and River's migrations.
type Migrator struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// NewMigrator returns a migrator on pool. The pool must not register pgvector
// types (the extension may not exist yet).
func NewMigrator(pool *pgxpool.Pool, logger *slog.Logger) *Migrator {
	return &Migrator{pool: pool, logger: logger}
}

func (m *Migrator) goose() (*goose.Provider, func(), error) {
	sqlDB := stdlib.OpenDBFromPool(m.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, func() { _ = sqlDB.Close() }, nil
}

func (m *Migrator) river() (*rivermigrate.Migrator[pgxTx], error) {
	return rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{Logger: quietLogger(m.logger)})
}

// withLock holds the migration advisory lock on one connection while fn runs.
func (m *Migrator) withLock(ctx context.Context, fn func() error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
	}()
	return fn()
}

// Up applies every pending app and River migration.
func (m *Migrator) Up(ctx context.Context) error {
	return m.withLock(ctx, func() error {
		p, done, err := m.goose()
		if err != nil {
			return err
		}
		defer done()
		res, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("apply migrations: %w", explainMigrationError(err))
		}
		for _, r := range res {
			m.logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
		rm, err := m.river()
		if err != nil {
			return err
		}
		rres, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("apply river migrations: %w", err)
		}
		for _, v := range rres.Versions {
			m.logger.Info("applied river migration", "version", v.Version, "duration", v.Duration)
		}
		return nil
	})
}

// Down rolls back the most recent app migration. River's tables are left
// alone: roll them back with River's own CLI if you really mean to.
func (m *Migrator) Down(ctx context.Context) error {
	return m.withLock(ctx, func() error {
		p, done, err := m.goose()
		if err != nil {
			return err
		}
		defer done()
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("roll back migration: %w", err)
		}
		m.logger.Info("rolled back migration", "version", r.Source.Version, "file", r.Source.Path)
		return nil
	})
}

// Status writes one line per app migration and River's state to w.
func (m *Migrator) Status(ctx context.Context, w io.Writer) error {
	p, done, err := m.goose()
	if err != nil {
		return err
	}
	defer done()
	st, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	for _, s := range st {
		when := "pending"
		if s.State == goose.StateApplied {
			when = "applied " + s.AppliedAt.Format("2006-01-02 15:04:05Z07:00")
		}
		fmt.Fprintf(w, "%05d  %-40s %s\n", s.Source.Version, s.Source.Path, when)
	}
	rm, err := m.river()
	if err != nil {
		return err
	}
	v, err := rm.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("river migration status: %w", err)
	}
	if v.OK {
		fmt.Fprintln(w, "river  up to date")
	} else {
		fmt.Fprintf(w, "river  %s\n", strings.Join(v.Messages, "; "))
	}
	return nil
}

// Ready reports whether the database answers and is fully migrated; it is
// what /readyz checks.
func (m *Migrator) Ready(ctx context.Context) error {
	if err := m.pool.Ping(ctx); err != nil {
		return errors.New("database unreachable")
	}
	if err := m.CheckMigrated(ctx); err != nil {
		if errors.Is(err, ErrNotMigrated) {
			return err
		}
		return errors.New("database unreachable")
	}
	return nil
}

// CheckMigrated returns ErrNotMigrated when any migration is pending.
func (m *Migrator) CheckMigrated(ctx context.Context) error {
	p, done, err := m.goose()
	if err != nil {
		return err
	}
	defer done()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		return ErrNotMigrated
	}
	rm, err := m.river()
	if err != nil {
		return err
	}
	v, err := rm.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("check river migrations: %w", err)
	}
	if !v.OK {
		return fmt.Errorf("%w (%s)", ErrNotMigrated, strings.Join(v.Messages, "; "))
	}
	return nil
}

func explainMigrationError(err error) error {
	if strings.Contains(err.Error(), `extension "vector" is not available`) {
		return fmt.Errorf("%w\nthe pgvector extension is not installed on the database server: run scripts/pgvector.sh on that machine (as root), or use an image with pgvector 0.8.4+", err)
	}
	return err
}
