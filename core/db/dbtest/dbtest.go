// Package dbtest gives each test package its own real Postgres database,
// cloned from a template that is migrated once per set of migrations.
//
// The server comes from TEST_DATABASE_URL (a role that may create
// databases); when it is unset, the repository's private cluster is started
// with scripts/devdb.sh, exactly as `make test` does.
package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/migrations"
)

// lockKey serialises template creation and cloning across test packages
// that run in parallel.
const lockKey = 7_342_001_118

var (
	once    sync.Once
	dbURL   string
	dbName  string
	setupEr error
	pools   sync.Map // url -> *pgxpool.Pool
)

// Main runs the package's tests and drops the package database afterwards.
// Call it from TestMain: func TestMain(m *testing.M) { dbtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	atExit.mu.Lock()
	for _, fn := range atExit.fns {
		fn()
	}
	atExit.mu.Unlock()
	if dbName != "" {
		pools.Range(func(_, v any) bool { v.(*pgxpool.Pool).Close(); return true })
		if err := dropDatabase(dbName); err != nil {
			fmt.Fprintf(os.Stderr, "dbtest: drop %s: %v\n", dbName, err)
		}
	}
	os.Exit(code)
}

var atExit struct {
	mu  sync.Mutex
	fns []func()
}

// AtExit registers fn to run once the package's tests are done (before Main
// exits): cleanup of what helpers build once per test binary.
func AtExit(fn func()) {
	atExit.mu.Lock()
	defer atExit.mu.Unlock()
	atExit.fns = append(atExit.fns, fn)
}

// URL returns the connection URL of this test package's migrated database.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { dbURL, setupEr = setup() })
	if setupEr != nil {
		t.Fatalf("dbtest: %v", setupEr)
	}
	return dbURL
}

// Pool returns a pool on this package's database, shared by its tests.
// Pass vector=true to register pgvector types.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := URL(t)
	if p, ok := pools.Load(url); ok {
		return p.(*pgxpool.Pool)
	}
	p, err := db.Open(context.Background(), url, db.PoolOptions{MaxConns: 16, Vector: true})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	actual, loaded := pools.LoadOrStore(url, p)
	if loaded {
		p.Close()
	}
	return actual.(*pgxpool.Pool)
}

// AdminURL returns the server URL used to create databases.
func AdminURL() (string, error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "devdb.sh"), "url")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("TEST_DATABASE_URL is not set and scripts/devdb.sh url failed: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func setup() (string, error) {
	admin, err := AdminURL()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", admin, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck

	tmpl, err := templateName()
	if err != nil {
		return "", err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if err := createTemplate(ctx, conn, admin, tmpl); err != nil {
			return "", err
		}
	}
	dbName = fmt.Sprintf("consilium_test_%s_%d", packageSlug(), os.Getpid())
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s", pgx.Identifier{dbName}.Sanitize())); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{dbName}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())); err != nil {
		return "", fmt.Errorf("clone template: %w", err)
	}
	return withDatabase(admin, dbName)
}

func createTemplate(ctx context.Context, conn *pgx.Conn, admin, tmpl string) error {
	building := tmpl + "_building"
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s", pgx.Identifier{building}.Sanitize())); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", pgx.Identifier{building}.Sanitize())); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	url, err := withDatabase(admin, building)
	if err != nil {
		return err
	}
	pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 4})
	if err != nil {
		return err
	}
	err = db.NewMigrator(pool, slog.New(slog.DiscardHandler)).Up(ctx)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	// Renaming last means a half-built template is never cloned.
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{building}.Sanitize(), pgx.Identifier{tmpl}.Sanitize()))
	return err
}

func dropDatabase(name string) error {
	admin, err := AdminURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize()))
	return err
}

// templateName changes whenever a migration file changes, so a stale
// template is never used.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\n%d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return "consilium_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(raw, name string) (string, error) {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL, got %q", raw)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func packageSlug() string {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	s := nonWord.ReplaceAllString(strings.ToLower(base), "_")
	if len(s) > 24 {
		s = s[:24]
	}
	return s
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "devdb.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("TEST_DATABASE_URL is not set and no scripts/devdb.sh was found above the working directory")
		}
		dir = parent
	}
}

// EmptyDatabase creates a database with no schema at all (for migration
// tests) and drops it when the test ends. It returns its URL.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	admin, err := AdminURL()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	name := fmt.Sprintf("consilium_empty_%s_%d_%d", packageSlug(), os.Getpid(), time.Now().UnixNano()%1_000_000_000)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("dbtest: create %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(name); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	url, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return url
}
