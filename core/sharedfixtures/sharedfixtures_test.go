package sharedfixtures_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/sharedfixtures"
)

// repoAt makes a repository (a go.mod) at dir/rel with a package folder
// inside, and runs the test from that folder.
func repoAt(t *testing.T, dir, rel string) string {
	t.Helper()
	repo := filepath.Join(dir, rel)
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "core", "pkg"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644))
	t.Chdir(filepath.Join(repo, "core", "pkg"))
	return repo
}

func TestLookup(t *testing.T) {
	t.Run("beside the clone", func(t *testing.T) {
		t.Setenv(sharedfixtures.Env, "")
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "shared", "fixtures", "blocknote"), 0o755))
		repoAt(t, dir, "consilium")
		got, ok := sharedfixtures.Lookup("blocknote")
		require.True(t, ok)
		require.Equal(t, filepath.Join(dir, "shared", "fixtures", "blocknote"), got)
	})
	t.Run("from a worktree nested deeper", func(t *testing.T) {
		t.Setenv(sharedfixtures.Env, "")
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "shared", "fixtures", "llm"), 0o755))
		repoAt(t, dir, filepath.Join("wt", "branch"))
		got, ok := sharedfixtures.Lookup("llm")
		require.True(t, ok)
		require.Equal(t, filepath.Join(dir, "shared", "fixtures", "llm"), got)
	})
	t.Run("absent", func(t *testing.T) {
		t.Setenv(sharedfixtures.Env, "")
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "shared", "fixtures"), 0o755)) // no blocknote/ in it
		repo := repoAt(t, dir, "consilium")
		got, ok := sharedfixtures.Lookup("blocknote")
		require.False(t, ok)
		require.Equal(t, filepath.Join(filepath.Dir(repo), "shared", "fixtures", "blocknote"), got, "names where it is expected")
	})
	t.Run("env overrides", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "shared", "fixtures", "blocknote"), 0o755))
		other := filepath.Join(dir, "elsewhere")
		require.NoError(t, os.MkdirAll(filepath.Join(other, "blocknote"), 0o755))
		repo := repoAt(t, dir, "consilium")

		t.Setenv(sharedfixtures.Env, other)
		got, ok := sharedfixtures.Lookup("blocknote")
		require.True(t, ok)
		require.Equal(t, filepath.Join(other, "blocknote"), got)

		t.Setenv(sharedfixtures.Env, "../elsewhere") // relative to the repository root
		got, ok = sharedfixtures.Lookup("blocknote")
		require.True(t, ok)
		require.Equal(t, filepath.Join(filepath.Dir(repo), "elsewhere", "blocknote"), got)

		t.Setenv(sharedfixtures.Env, filepath.Join(dir, "missing")) // set but missing hides the fixtures
		got, ok = sharedfixtures.Lookup("blocknote")
		require.False(t, ok)
		require.Equal(t, filepath.Join(dir, "missing", "blocknote"), got)
	})
}

func TestDirSkipsWhenAbsent(t *testing.T) {
	t.Setenv(sharedfixtures.Env, filepath.Join(t.TempDir(), "missing"))
	ran := false
	t.Run("needs fixtures", func(t *testing.T) {
		sharedfixtures.Dir(t, "blocknote")
		ran = true
	})
	require.False(t, ran, "the subtest stopped at Dir")
}
