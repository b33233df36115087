package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/db/dbtest"
)

// TestCLIFindsTheDevCluster runs the built binary as a newcomer does in a
// second terminal beside make run: no --config, no CONSILIUM_CONFIG, no
// DATABASE_URL, only the .data/dev.env that scripts/devdb.sh writes in the
// checkout. The commands find the database and the secret there, from the
// checkout and from elsewhere, and say so; a DATABASE_URL of one's own wins
// over the file, and the file sets nothing but those two settings.
func TestCLIFindsTheDevCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	pool := dbtest.Pool(t)

	checkout := t.TempDir()
	bin := filepath.Join(checkout, "bin", "consilium")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build consilium: %v\n%s", err, out)
	}
	devEnv := filepath.Join(checkout, ".data", "dev.env")
	require.NoError(t, os.MkdirAll(filepath.Dir(devEnv), 0o755))
	require.NoError(t, os.WriteFile(devEnv, []byte("# Written by scripts/devdb.sh\n"+
		"DATABASE_URL="+url+"\n"+
		"CONSILIUM_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef\n"+
		"CONSILIUM_HTTP_ADDR=not an address\n"), 0o600))

	// The newcomer's shell: none of our settings.
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSILIUM_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			clean = append(clean, kv)
		}
	}
	run := func(dir string, env []string, args ...string) (stdout, stderr string, err error) {
		t.Helper()
		var o, e bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(append([]string{}, clean...), env...)
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	superuser := func(email string) bool {
		var v bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT is_superuser FROM users WHERE email = $1`, email).Scan(&v))
		return v
	}
	const said = "using the development cluster of this checkout"
	email := "newcomer-" + uuid.NewString() + "@example.com"

	out, errOut, err := run(checkout, []string{"CONSILIUM_NEW_PASSWORD=correct horse"}, "user", "create", email, "--superuser")
	require.NoError(t, err, errOut)
	require.Contains(t, out, "created user ")
	require.Contains(t, errOut, said)
	require.Contains(t, errOut, devEnv, "the log line names the file")
	require.True(t, superuser(email))

	// From another directory, bin/consilium finds its own checkout's file.
	out, errOut, err = run(t.TempDir(), nil, "user", "set-superuser", email, "false")
	require.NoError(t, err, errOut)
	require.Equal(t, email+": is_superuser = false\n", out)
	require.Contains(t, errOut, devEnv)
	require.False(t, superuser(email))

	// plugins list needs the secret too (it loads the whole config); the
	// file's other line (an invalid http.addr) is not read.
	out, errOut, err = run(checkout, nil, "plugins", "list")
	require.NoError(t, err, errOut)
	require.Contains(t, out, "no plugins configured")

	// With bin/plugins/local in place it lists what serve runs: the offline
	// local plugin, here one that fails its handshake, so it exits non-zero.
	local := filepath.Join(checkout, "bin", "plugins", "local")
	require.NoError(t, os.MkdirAll(filepath.Dir(local), 0o755))
	require.NoError(t, os.WriteFile(local, []byte("#!/bin/sh\necho 'no handshake here' >&2\nexit 3\n"), 0o755))
	out, errOut, err = run(checkout, []string{"CONSILIUM_PLUGINS_START_TIMEOUT=20s"}, "plugins", "list")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, errOut)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, out, "local")
	require.Contains(t, out, "failed")
	require.Contains(t, errOut, "plugin local has failed")

	// A DATABASE_URL of one's own wins: the file is not read at all.
	_, errOut, err = run(checkout, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=5"}, "user", "set-superuser", email, "true")
	require.Error(t, err)
	require.NotContains(t, errOut, said)
	require.False(t, superuser(email), "the dev cluster's database was not touched")
}
