// Command secretscan checks that no secret the test suite registered (see
// core/testsecrets) appears in any log the suite wrote: every *.log file
// of the folder is searched for every secret in the secrets-*.tsv files,
// as written and as JSON would escape it. A secret found fails the run,
// naming its kind and the log file, never the value. So that the check
// cannot pass by seeing nothing, it also fails when no secret or no log
// line was collected.
//
// Usage: go run ./scripts/secretscan -dir "$CONSILIUM_SECRETS_LOG"
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// minLength matches testsecrets.MinLength (the scanner imports nothing of
// the project so that it checks what the files say).
const minLength = 8

type secret struct{ kind, value string }

// finding is one kind of secret in one log file, with how many times.
type finding struct {
	kind, file string
	n          int
}

type result struct {
	secrets, files, lines int
	findings              []finding
}

func main() {
	dir := flag.String("dir", os.Getenv("CONSILIUM_SECRETS_LOG"), "the folder of secrets-*.tsv and *.log files")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "secretscan: no folder (-dir or CONSILIUM_SECRETS_LOG)")
		os.Exit(2)
	}
	r, err := scan(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secretscan:", err)
		os.Exit(1)
	}
	fmt.Print(r.report())
	if !r.ok() {
		os.Exit(1)
	}
}

func (r *result) ok() bool { return r.secrets > 0 && r.lines > 0 && len(r.findings) == 0 }

func (r *result) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secretscan: %d secrets registered, %d log lines in %d files\n", r.secrets, r.lines, r.files)
	if r.secrets == 0 {
		b.WriteString("secretscan: FAILED: no secret was registered: the check saw nothing (is CONSILIUM_SECRETS_LOG passed to the tests?)\n")
	}
	if r.lines == 0 {
		b.WriteString("secretscan: FAILED: no log line was written: the check saw nothing (do the test loggers write to the folder?)\n")
	}
	for _, f := range r.findings {
		fmt.Fprintf(&b, "secretscan: FAILED: a secret of kind %s is in %s (%d times)\n", f.kind, f.file, f.n)
	}
	return b.String()
}

func scan(dir string) (*result, error) {
	r := &result{}
	secrets, err := readSecrets(dir)
	if err != nil {
		return nil, err
	}
	r.secrets = len(secrets)
	// Each secret as written and as JSON writes it, indexed by its first
	// minLength bytes: one pass over each log finds them all.
	byPrefix := map[string][]*secret{}
	seen := map[string]bool{}
	for i := range secrets {
		s := &secrets[i]
		forms := []string{s.value}
		if j, _ := json.Marshal(s.value); len(j) > 2 && string(j[1:len(j)-1]) != s.value {
			forms = append(forms, string(j[1:len(j)-1]))
		}
		for _, v := range forms {
			if seen[s.kind+"\x00"+v] {
				continue
			}
			seen[s.kind+"\x00"+v] = true
			byPrefix[v[:minLength]] = append(byPrefix[v[:minLength]], &secret{kind: s.kind, value: v})
		}
	}
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(logs)
	for _, name := range logs {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		r.files++
		r.lines += bytes.Count(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] != '\n' {
			r.lines++
		}
		counts := map[string]int{}
		for i := 0; i+minLength <= len(data); i++ {
			cands := byPrefix[string(data[i:i+minLength])]
			for _, s := range cands {
				if bytes.HasPrefix(data[i:], []byte(s.value)) {
					counts[s.kind]++
				}
			}
		}
		kinds := make([]string, 0, len(counts))
		for k := range counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			r.findings = append(r.findings, finding{kind: k, file: filepath.Base(name), n: counts[k]})
		}
	}
	return r, nil
}

func readSecrets(dir string) ([]secret, error) {
	files, err := filepath.Glob(filepath.Join(dir, "secrets-*.tsv"))
	if err != nil {
		return nil, err
	}
	var out []secret
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 256<<20) // a line is one secret, base64: tests send oversize ones
		for sc.Scan() {
			kind, enc, ok := strings.Cut(sc.Text(), "\t")
			if !ok {
				f.Close()
				return nil, fmt.Errorf("%s: a line without a tab", filepath.Base(name))
			}
			v, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %v", filepath.Base(name), err)
			}
			if len(v) >= minLength {
				out = append(out, secret{kind: kind, value: string(v)})
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return out, nil
}
