package scaffold_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/scaffold"
)

// A scaffolded project builds and passes its own conformance test.
func TestScaffoldBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy and go test on the generated module")
	}
	for _, kind := range []sdk.Kind{sdk.KindIntegration, sdk.KindLLM} {
		t.Run(string(kind), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "my-plugin")
			files, err := scaffold.Write(scaffold.Params{Name: "my-plugin", Dir: dir, Kind: kind, SDKPath: ".."})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 5 {
				t.Fatalf("wrote %v", files)
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if !strings.Contains(string(readme), "kind: "+string(kind)) || !strings.Contains(string(readme), "name: my-plugin") {
				t.Fatalf("README lacks the config snippet:\n%s", readme)
			}
			for _, args := range [][]string{{"mod", "tidy"}, {"vet", "./..."}, {"test", "-short", "-count=1", "./..."}} {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}

func TestScaffoldRefuses(t *testing.T) {
	if _, err := scaffold.Write(scaffold.Params{Name: "Bad Name", Dir: t.TempDir()}); err == nil {
		t.Fatal("accepted a bad name")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := scaffold.Write(scaffold.Params{Name: "ok", Dir: dir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("wrote into a non-empty directory: %v", err)
	}
	if _, err := scaffold.Write(scaffold.Params{Name: "ok", Dir: filepath.Join(dir, "x"), Kind: "storage"}); err == nil {
		t.Fatal("accepted an unknown kind")
	}
}
