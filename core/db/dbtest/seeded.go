package dbtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/core/db"
)

// seedLockKey serialises the creation of seeded databases.
const seedLockKey = 7_342_001_119

var seedKey = regexp.MustCompile(`^[a-z0-9_]{1,24}$`)

// Seeded returns a pool on a persistent database for benchmarks: a clone of
// the migrated template filled once by seed and kept between runs, so a
// large data set is built only when its key or the migrations change. key
// names the data set and its version (e.g. "tasks1m_v1"): change it when
// seed changes. A marker row written after seed returns tells a complete
// database from an interrupted one, which is rebuilt. Databases of the
// same data set built for other migrations are dropped.
//
// The database is not dropped at the end of the run; drop it with
// DROP DATABASE, or stop the private cluster with make db-stop.
func Seeded(t testing.TB, key string, seed func(ctx context.Context, pool *pgxpool.Pool) error) *pgxpool.Pool {
	t.Helper()
	if !seedKey.MatchString(key) {
		t.Fatalf("dbtest: seed key %q must match %s", key, seedKey)
	}
	URL(t) // makes sure the migrated template exists
	admin, err := AdminURL()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	tmpl, err := templateName()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	prefix := "consilium_seed_" + key + "_"
	name := prefix + strings.TrimPrefix(tmpl, "consilium_tmpl_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", seedLockKey); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", seedLockKey) //nolint:errcheck

	url, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	if !seedComplete(ctx, conn, name, url) {
		start := time.Now()
		fmt.Fprintf(os.Stderr, "dbtest: seeding %s (once; later runs reuse it)\n", name)
		if err := buildSeeded(ctx, conn, tmpl, name, url, seed); err != nil {
			t.Fatalf("dbtest: seed %s: %v", name, err)
		}
		fmt.Fprintf(os.Stderr, "dbtest: seeded %s in %s\n", name, time.Since(start).Round(time.Second))
	}
	// Data sets built for older migrations only take disk space.
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2`, prefix, name)
	if err == nil {
		stale, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, s := range stale {
			_, _ = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{s}.Sanitize()))
		}
	}
	if p, ok := pools.Load(url); ok {
		return p.(*pgxpool.Pool)
	}
	p, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 16, Vector: true})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	actual, loaded := pools.LoadOrStore(url, p)
	if loaded {
		p.Close()
	}
	return actual.(*pgxpool.Pool)
}

func seedComplete(ctx context.Context, conn *pgx.Conn, name, url string) bool {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil || !exists {
		return false
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer c.Close(ctx)
	var done bool
	err = c.QueryRow(ctx, `SELECT true FROM dbtest_seed WHERE complete`).Scan(&done)
	return err == nil && done
}

func buildSeeded(ctx context.Context, conn *pgx.Conn, tmpl, name, url string, seed func(context.Context, *pgxpool.Pool) error) error {
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())); err != nil {
		return fmt.Errorf("clone template: %w", err)
	}
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 8, Vector: true})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := seed(ctx, pool); err != nil {
		return err
	}
	// VACUUM ANALYZE sets the visibility map (index-only scans) and the
	// planner statistics the benchmarks rely on.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	_, err = pool.Exec(ctx, `CREATE TABLE dbtest_seed (complete boolean NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO dbtest_seed (complete) VALUES (true)`)
	return err
}
