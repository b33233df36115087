// Package sharedfixtures finds the third-party test data that the
// repository may not hold: documents and recordings written by others
// (BlockNote snapshots, a BlockNote corpus, ...), kept in a folder beside
// the clone, ../shared/fixtures from the repository root, whose README
// gives each file's source and licence. CI always has it.
//
// $CONSILIUM_FIXTURES, when set, names that folder instead (relative to the
// repository root unless absolute); set to a folder that does not exist it
// hides the fixtures. Tests that need them skip with one line naming the
// folder when it is absent; tests that must run everywhere use the
// project's own documents (core/blocknote/testdata).
package sharedfixtures

import (
	"os"
	"path/filepath"
	"testing"
)

// Env names the variable that overrides the folder.
const Env = "CONSILIUM_FIXTURES"

// Lookup returns the folder sub of the shared fixtures and whether it is
// there. When it is not, dir is where it was expected. Without
// $CONSILIUM_FIXTURES the folder is shared/fixtures beside the repository
// root or beside one of its ancestors (a git worktree nested deeper than
// the clone finds it further up).
func Lookup(sub string) (dir string, ok bool) {
	root := repoRoot()
	if env := os.Getenv(Env); env != "" {
		if !filepath.IsAbs(env) {
			env = filepath.Join(root, env)
		}
		dir = filepath.Join(env, sub)
		return dir, isDir(dir)
	}
	want := filepath.Join(filepath.Dir(root), "shared", "fixtures", sub)
	for up := filepath.Dir(root); ; up = filepath.Dir(up) {
		if d := filepath.Join(up, "shared", "fixtures", sub); isDir(d) {
			return d, true
		}
		if filepath.Dir(up) == up {
			return want, false
		}
	}
}

// Dir returns the folder sub of the shared fixtures, or skips the test with
// one line naming the folder when it is absent.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	dir, ok := Lookup(sub)
	if !ok {
		t.Skipf("third-party fixtures folder %s is absent (it sits beside the clone; $%s overrides it)", dir, Env)
	}
	return dir
}

// Read returns the file name of the folder sub, skipping the test as Dir
// does when the folder is absent. A file missing from a present folder
// fails the test.
func Read(t testing.TB, sub, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t, sub), name))
	if err != nil {
		t.Fatalf("shared fixture: %v", err)
	}
	return b
}

// repoRoot is the folder holding go.mod above the working directory (the
// test's package folder), or the working directory when there is none.
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
