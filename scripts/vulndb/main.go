// Command vulndb writes a Go vulnerability database that govulncheck reads
// with -db file://DIR, from a folder of OSV entries (the data/osv folder of
// the golang.org/x/vulndb module, which the Go module proxy serves). It
// writes the v1 layout that golang.org/x/vuln's client reads:
//
//	index/db.json       {"modified": latest modified time of any entry}
//	index/modules.json  [{"path", "vulns": [{"id", "modified"}]}] sorted by path, then id
//	index/vulns.json    [{"id", "modified", "aliases"}] sorted by id
//	ID/<id>.json        each entry as it is
//
// The optional "fixed" of modules.json is left out: it only lets the
// client skip reading an entry, and without it every entry of a used
// module is read and matched against the version in use.
//
// Usage: go run ./scripts/vulndb -osv DIR -out DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// entry is what the index needs of an OSV entry.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		// OSV calls a Go module a package; its name is the module path.
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

var validID = regexp.MustCompile(`^GO-\d{4}-\d{4,}$`)

func main() {
	osvDir := flag.String("osv", "", "folder of OSV JSON entries (GO-YYYY-NNNN.json)")
	out := flag.String("out", "", "folder to write the database to (replaced)")
	flag.Parse()
	if *osvDir == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: vulndb -osv DIR -out DIR")
		os.Exit(2)
	}
	n, err := build(*osvDir, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "vulndb: %d entries indexed into %s\n", n, *out)
}

func build(osvDir, out string) (int, error) {
	names, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, fmt.Errorf("no OSV entries in %s", osvDir)
	}
	tmp := out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "ID"), 0o755); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "index"), 0o755); err != nil {
		return 0, err
	}
	var (
		latest  time.Time
		modules = map[string]*module{}
		vulns   []vuln
		seen    = map[string]bool{}
	)
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if !validID.MatchString(e.ID) || strings.TrimSuffix(filepath.Base(name), ".json") != e.ID {
			return 0, fmt.Errorf("%s: id %q does not match the file name", name, e.ID)
		}
		if seen[e.ID] {
			return 0, fmt.Errorf("%s: id %q appears twice", name, e.ID)
		}
		seen[e.ID] = true
		if e.Modified.After(latest) {
			latest = e.Modified
		}
		vulns = append(vulns, vuln{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			p := a.Package.Name
			if p == "" {
				return 0, fmt.Errorf("%s: an affected module has no path", name)
			}
			m := modules[p]
			if m == nil {
				m = &module{Path: p}
				modules[p] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return 0, err
		}
	}
	slices.SortFunc(vulns, func(a, b vuln) int { return strings.Compare(a.ID, b.ID) })
	mods := make([]*module, 0, len(modules))
	for _, m := range modules {
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.Path, b.Path) })
	for file, v := range map[string]any{
		"db.json": struct {
			Modified time.Time `json:"modified"`
		}{latest},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", file), b, 0o644); err != nil {
			return 0, err
		}
	}
	if err := os.RemoveAll(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	return len(names), os.Rename(tmp, out)
}
