package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// pgCluster is a PostgreSQL cluster of the test's own, on a free loopback
// port, that the test may stop and start (the shared test server must
// never be). It runs as the postgres OS user when the test runs as root,
// as PostgreSQL refuses root.
type pgCluster struct {
	t    *testing.T
	bin  string
	dir  string // data directory
	log  string
	port int
	cred *syscall.Credential
}

// startCluster initialises and starts a cluster with a database
// "consilium", and returns it with that database's URL. Without the
// PostgreSQL server binaries or pgvector the test is skipped.
func startCluster(t *testing.T) (*pgCluster, string) {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			if _, serr := os.Stat(filepath.Join(bin, "pg_ctl")); serr != nil {
				bin = strings.TrimSpace(string(out))
			}
		}
	}
	for _, tool := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			t.Skipf("a private Postgres needs the server binaries (%s not found; set PG_BIN)", filepath.Join(bin, tool))
		}
	}
	if out, err := exec.Command("pg_config", "--sharedir").Output(); err == nil {
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(out)), "extension", "vector.control")); err != nil {
			t.Skipf("a private Postgres needs pgvector (scripts/pgvector.sh installs it)")
		}
	}
	// Not t.TempDir: its parent is the test user's alone, and the server
	// may run as another user.
	root, err := os.MkdirTemp("", "consilium-pg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(root, 0o755))
	c := &pgCluster{t: t, bin: bin, dir: filepath.Join(root, "data"), log: filepath.Join(root, "pg.log")}
	t.Cleanup(func() {
		_ = c.run("pg_ctl", "stop", "-D", c.dir, "-m", "immediate", "-w", "-s")
		if t.Failed() {
			if b, err := os.ReadFile(c.log); err == nil {
				t.Logf("--- private Postgres log:\n%s", b)
			}
		}
		_ = os.RemoveAll(root)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres OS user to run a private Postgres as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(root, uid, gid))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.port = ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	require.NoError(t, c.run("initdb", "-D", c.dir, "--auth=trust", "-U", "postgres", "--encoding=UTF8", "--locale=C", "--no-instructions"))
	conf, err := os.OpenFile(filepath.Join(c.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	// Durable as a real server (fsync aside: the OS is not what fails
	// here); small, as several tests share the machine.
	_, err = fmt.Fprintf(conf, "\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 60\n"+
		"shared_buffers = 32MB\nfsync = off\nsynchronous_commit = on\n", c.port, root)
	require.NoError(t, err)
	require.NoError(t, conf.Close())
	c.Start()
	conn, err := pgx.Connect(context.Background(), c.url("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE DATABASE consilium")
	require.NoError(t, err)
	require.NoError(t, conn.Close(context.Background()))
	return c, c.url("consilium")
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

func (c *pgCluster) run(tool string, args ...string) error {
	cmd := exec.Command(filepath.Join(c.bin, tool), args...)
	cmd.Dir = "/"
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

// Start starts the server and returns once it accepts connections.
func (c *pgCluster) Start() {
	c.t.Helper()
	require.NoError(c.t, c.run("pg_ctl", "start", "-D", c.dir, "-l", c.log, "-w", "-t", "300", "-s"))
}

// Stop stops the server as an administrator's restart does (fast: open
// sessions are ended, what committed stays).
func (c *pgCluster) Stop() {
	c.t.Helper()
	require.NoError(c.t, c.run("pg_ctl", "stop", "-D", c.dir, "-m", "fast", "-w", "-t", "300", "-s"))
}
