// Package scaffold writes a new plugin project: a Go module with a plugin
// built on the SDK, a conformance test and a README with the config snippet
// an admin adds. `consilium plugins init` uses it.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/consilium-hq/consilium/sdk"
)

//go:embed templates
var templates embed.FS

// Params say what to write.
type Params struct {
	// Name of the plugin: lower case letters, digits, '-' or '_'.
	Name string
	// Dir to create; it must not exist or be empty.
	Dir string
	// Module path of the new Go module (default: example.com/NAME).
	Module string
	// Kind is sdk.KindIntegration (default) or sdk.KindLLM.
	Kind sdk.Kind
	// SDKPath, when set, adds a replace directive pointing the SDK module at
	// a local checkout (needed until the SDK is published).
	SDKPath string
}

// Write creates the project and returns the paths written.
func Write(p Params) ([]string, error) {
	if !sdk.ValidName(p.Name) {
		return nil, fmt.Errorf("name %q must be %s", p.Name, sdk.NameRule)
	}
	if p.Kind == "" {
		p.Kind = sdk.KindIntegration
	}
	if p.Kind != sdk.KindIntegration && p.Kind != sdk.KindLLM {
		return nil, fmt.Errorf("kind must be integration or llm, got %q", p.Kind)
	}
	if p.Module == "" {
		p.Module = "example.com/" + p.Name
	}
	if p.Dir == "" {
		p.Dir = p.Name
	}
	if p.SDKPath != "" {
		abs, err := filepath.Abs(p.SDKPath)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return nil, fmt.Errorf("--sdk %s: no go.mod there", p.SDKPath)
		}
		p.SDKPath = abs
	}
	if entries, err := os.ReadDir(p.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", p.Dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	data := map[string]any{
		"Name": p.Name, "Module": p.Module, "SDKPath": p.SDKPath, "Kind": string(p.Kind),
		"Title": title(p.Name), "GoName": goName(p.Name), "SDKVersion": sdk.Version,
	}
	root := "templates/" + string(p.Kind)
	var written []string
	err := fs.WalkDir(templates, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(templates, path)
		if err != nil {
			return err
		}
		t, err := template.New(path).Parse(string(src))
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		out := buf.Bytes()
		rel := strings.TrimSuffix(strings.TrimPrefix(path, root+"/"), ".tmpl")
		if strings.HasSuffix(rel, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		dst := filepath.Join(p.Dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
		written = append(written, dst)
		return nil
	})
	return written, err
}

func title(name string) string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' })
	for i, s := range parts {
		parts[i] = strings.ToUpper(s[:1]) + s[1:]
	}
	return strings.Join(parts, " ")
}

func goName(name string) string {
	t := strings.ReplaceAll(title(name), " ", "")
	return strings.ToLower(t[:1]) + t[1:]
}
