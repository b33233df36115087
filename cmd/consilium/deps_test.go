package main

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The dependency direction of CONVENTIONS.md, checked over the source tree:
// core never imports api or jobs; a shipped plugin (plugins/NAME) imports
// nothing of ours but sdk and its own packages; sdk, a module of its own,
// imports nothing of the root module, tests included. The rules for core and
// plugins are about what ships, so test files are free (core/ai's tests run
// the real River workers of jobs; a plugin's tests may use the host). The
// imports are read with go/parser (imports only): no build, no network.

const modulePath = "github.com/consilium-hq/consilium"

// within reports whether import path p is prefix or a package below it.
func within(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// layerOf names the rule that applies to the package in dir (slash-separated,
// relative to the repository root): "core", "plugin" (with the plugin's
// name), "sdk", or "" for a package no rule here constrains.
func layerOf(dir string) (layer, plugin string) {
	first, rest, _ := strings.Cut(dir, "/")
	switch first {
	case "core", "sdk":
		return first, ""
	case "plugins":
		if rest == "" {
			return "", ""
		}
		name, _, _ := strings.Cut(rest, "/")
		return "plugin", name
	}
	return "", ""
}

// importViolation returns why the file at rel (slash-separated, relative to
// the repository root) may not import imp, or "" when it may.
func importViolation(rel, imp string) string {
	if !within(imp, modulePath) {
		return "" // standard library or a third-party module
	}
	test := strings.HasSuffix(rel, "_test.go")
	layer, plugin := layerOf(path.Dir(rel))
	switch layer {
	case "core":
		if test {
			return ""
		}
		for _, banned := range []string{"api", "jobs"} {
			if within(imp, modulePath+"/"+banned) {
				return "core must not import " + banned
			}
		}
	case "plugin":
		if test || within(imp, modulePath+"/sdk") || within(imp, modulePath+"/plugins/"+plugin) {
			return ""
		}
		return "plugin " + plugin + " may import only sdk and its own packages"
	case "sdk":
		if !within(imp, modulePath+"/sdk") {
			return "sdk must not import the root module"
		}
	}
	return ""
}

func TestImportViolation(t *testing.T) {
	t.Parallel()
	const m = modulePath
	tests := map[string]struct {
		file, imp string
		want      string // a substring of the violation; "" for none
	}{
		"core imports core":                {"core/note/service.go", m + "/core/db", ""},
		"core imports sdk":                 {"core/plugin/host.go", m + "/sdk", ""},
		"core imports api":                 {"core/note/service.go", m + "/api", "core must not import api"},
		"core imports below api":           {"core/note/service.go", m + "/api/apitest", "core must not import api"},
		"core imports jobs":                {"core/task/index.go", m + "/jobs", "core must not import jobs"},
		"core test imports jobs":           {"core/ai/env_test.go", m + "/jobs", ""},
		"core imports a name starting api": {"core/note/service.go", m + "/apix", ""},
		"core imports the standard lib":    {"core/note/service.go", "net/http", ""},
		"core imports another module":      {"core/note/service.go", "github.com/consilium-hq/consilium-extra/api", ""},
		"plugin imports sdk":               {"plugins/llm/main.go", m + "/sdk/plugintest", ""},
		"plugin imports itself":            {"plugins/llm/main.go", m + "/plugins/llm/provider", ""},
		"plugin imports itself, deep":      {"plugins/llm/provider/openai.go", m + "/plugins/llm/internal/replay", ""},
		"plugin imports core":              {"plugins/llm/main.go", m + "/core/plugin", "plugin llm may import only sdk"},
		"plugin imports api":               {"plugins/local/offline/embed.go", m + "/api", "plugin local may import only sdk"},
		"plugin imports another plugin":    {"plugins/local/main.go", m + "/plugins/llm/provider", "plugin local may import only sdk"},
		"plugin imports a plugin prefix":   {"plugins/llm/main.go", m + "/plugins/llmx", "plugin llm may import only sdk"},
		"plugin test imports core":         {"plugins/llm/main_test.go", m + "/core/plugin", ""},
		"plugin imports a third party":     {"plugins/llm/main.go", "github.com/tmc/langchaingo/llms", ""},
		"sdk imports sdk":                  {"sdk/serve.go", m + "/sdk/internal/proto", ""},
		"sdk imports core":                 {"sdk/serve.go", m + "/core/apperr", "sdk must not import the root module"},
		"sdk imports the root package":     {"sdk/serve.go", m, "sdk must not import the root module"},
		"sdk test imports core":            {"sdk/conformance/run_test.go", m + "/core/plugin", "sdk must not import the root module"},
		"sdk example imports plugins":      {"sdk/examples/hello/main.go", m + "/plugins/llm", "sdk must not import the root module"},
		"api imports jobs":                 {"api/notes.go", m + "/jobs", ""},
		"jobs imports core":                {"jobs/ai.go", m + "/core/ai", ""},
		"cmd imports everything":           {"cmd/consilium/app.go", m + "/plugins/llm", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := importViolation(tt.file, tt.imp)
			if tt.want == "" && got != "" {
				t.Fatalf("importViolation(%s, %s) = %q, want none", tt.file, tt.imp, got)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("importViolation(%s, %s) = %q, want %q", tt.file, tt.imp, got, tt.want)
			}
		})
	}
}

// TestDependencyDirection checks every Go file of the repository.
func TestDependencyDirection(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	fset := token.NewFileSet()
	pkgs := map[string]map[string]bool{} // layer -> package directories seen
	plugins := map[string]bool{}
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// What the go command ignores too, plus what the repository
			// keeps beside the code (bin/, the dev cluster in .data/).
			if p != root && (name == "testdata" || name == "vendor" || name == "bin" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		dir := path.Dir(rel)
		if layer, plugin := layerOf(dir); layer != "" {
			if pkgs[layer] == nil {
				pkgs[layer] = map[string]bool{}
			}
			pkgs[layer][dir] = true
			if plugin != "" {
				plugins[plugin] = true
			}
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", rel, spec.Path.Value, err)
			}
			if why := importViolation(rel, imp); why != "" {
				t.Errorf("%s imports %s: %s", rel, imp, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("checked %d files: %d core, %d plugin (%v), %d sdk packages",
		files, len(pkgs["core"]), len(pkgs["plugin"]), sortedKeys(plugins), len(pkgs["sdk"]))
	// Not vacuous: the walk saw the tree as it is laid out today.
	for layer, atLeast := range map[string]int{"core": 15, "plugin": 5, "sdk": 5} {
		if got := len(pkgs[layer]); got < atLeast {
			t.Errorf("saw %d %s packages, want at least %d: %v", got, layer, atLeast, sortedKeys(pkgs[layer]))
		}
	}
	for _, want := range []string{"llm", "local"} {
		if !plugins[want] {
			t.Errorf("did not see plugin %s; saw %v", want, sortedKeys(plugins))
		}
	}
	if files < 100 {
		t.Errorf("parsed %d Go files, want at least 100", files)
	}
}

// repoRoot returns the directory of the root module's go.mod, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if !s.Scan() || strings.TrimSpace(s.Text()) != "module "+modulePath {
		t.Fatalf("%s/go.mod does not start with module %s", root, modulePath)
	}
	return root
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
