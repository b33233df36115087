package wordnet

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeDict writes a small database in WordNet's format (written for this
// test): synsets are given per part of speech as "words|pointers", a
// pointer as "symbol target-key source-target" where target-key names
// another synset of the test.
func writeDict(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	type syn struct {
		key, pos string
		words    []string
		ptrs     [][3]string // symbol, target key, source/target (hex)
	}
	syns := []syn{
		{"pay.v", "v", []string{"pay"}, [][3]string{{"+", "payment.n", "0101"}, {"+", "payer.n", "0101"}}},
		{"payment.n", "n", []string{"payment"}, [][3]string{{"+", "pay.v", "0101"}}},
		{"payer.n", "n", []string{"payer", "remunerator"}, [][3]string{{"+", "pay.v", "0101"}}},
		{"tax.n", "n", []string{"tax", "taxation", "revenue_enhancement"}, nil},
		{"cellar.n", "n", []string{"basement", "cellar"}, nil},
		{"go.v", "v", []string{"go", "travel", "move", "locomote"}, nil},
		{"adam.n", "n", []string{"Adam", "go"}, nil},
		{"annual.a", "a", []string{"annual", "yearly"}, [][3]string{{`\`, "year.n", "0101"}}},
		{"year.n", "n", []string{"year", "twelvemonth", "yr"}, nil},
		{"big.s", "s", []string{"big(a)", "large"}, nil},
	}
	files := map[string]string{"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
	// Offsets: each file starts with a licence line; the synsets follow
	// in order. Lines are padded to a fixed width so that offsets can be
	// known before the pointers are written.
	const width = 200
	header := "  1 This is a test database in WordNet's format.\n"
	offset := map[string]int64{}
	next := map[string]int64{}
	for _, s := range syns {
		f := files[s.pos]
		if next[f] == 0 {
			next[f] = int64(len(header))
		}
		offset[s.key] = next[f]
		next[f] += width + 1
	}
	data := map[string]*strings.Builder{}
	index := map[string]map[string][]int64{}
	for _, s := range syns {
		f := files[s.pos]
		if data[f] == nil {
			data[f] = &strings.Builder{}
			data[f].WriteString(header)
		}
		line := fmt.Sprintf("%08d 00 %s %02x", offset[s.key], s.pos, len(s.words))
		for _, w := range s.words {
			line += " " + w + " 0"
			lemma := strings.ToLower(strings.SplitN(w, "(", 2)[0])
			if index[f] == nil {
				index[f] = map[string][]int64{}
			}
			index[f][lemma] = append(index[f][lemma], offset[s.key])
		}
		line += fmt.Sprintf(" %03d", len(s.ptrs))
		for _, p := range s.ptrs {
			tpos := strings.SplitN(p[1], ".", 2)[1]
			line += fmt.Sprintf(" %s %08d %s %s", p[0], offset[p[1]], tpos, p[2])
		}
		line += " | a test synset"
		if len(line) > width {
			t.Fatalf("synset %s: line longer than %d", s.key, width)
		}
		data[f].WriteString(line + strings.Repeat(" ", width-len(line)) + "\n")
	}
	pos := map[string]string{"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
	for _, f := range []string{"noun", "verb", "adj", "adv"} {
		d := header
		if data[f] != nil {
			d = data[f].String()
		}
		var idx strings.Builder
		idx.WriteString(header)
		lemmas := make([]string, 0, len(index[f]))
		for l := range index[f] {
			lemmas = append(lemmas, l)
		}
		slices.Sort(lemmas)
		for _, l := range lemmas {
			offs := index[f][l]
			fmt.Fprintf(&idx, "%s %s %d 0 %d 1", l, pos[f], len(offs), len(offs))
			for _, o := range offs {
				fmt.Fprintf(&idx, " %08d", o)
			}
			idx.WriteString("  \n")
		}
		for name, text := range map[string]string{"data." + f: d, "index." + f: idx.String()} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	exc := map[string]string{"noun": "taxes tax\n", "verb": "goes go\nwent go\ngone go\npaid pay\n", "adj": "bigger big\n", "adv": ""}
	for f, text := range exc {
		if err := os.WriteFile(filepath.Join(dir, f+".exc"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLexicon(t *testing.T) {
	t.Parallel()
	l, err := Open(writeDict(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lemmas := map[string][]string{
		"taxes":    {"tax"},
		"paying":   {"pay"},
		"paid":     {"pay"},
		"went":     {"go"},
		"cellars":  {"cellar"},
		"payments": {"payment"},
		"bigger":   {"big"},
		"pay":      {"pay"},
		"unknown":  nil,
		"":         nil,
	}
	for w, want := range lemmas {
		if got := l.Lemmas(w); !slices.Equal(got, want) {
			t.Errorf("Lemmas(%q) = %q, want %q", w, got, want)
		}
	}
	infl := map[string][]string{
		"pay":     {"pays", "paid", "paying"}, // noun-less verb with an irregular past
		"go":      {"goes", "went", "gone", "going"},
		"payment": {"payments"},
		"big":     {"bigger"},
		"tax":     {"taxes"},
	}
	for w, want := range infl {
		got := l.Inflections(w)
		for _, f := range want {
			if !slices.Contains(got, f) {
				t.Errorf("Inflections(%q) = %q, want %q among them", w, got, f)
			}
		}
		if slices.Contains(got, w) {
			t.Errorf("Inflections(%q) = %q holds the lemma", w, got)
		}
	}
	if got := l.Inflections("go"); slices.Contains(got, "goed") {
		t.Errorf("Inflections(go) = %q: a regular past beside the irregular one", got)
	}
	related := map[string][]Related{
		// Derived forms through "+" pointers, synonyms from the synset.
		"pay":     {{"payment", Derived}, {"payer", Derived}},
		"payer":   {{"remunerator", Synonym}, {"pay", Derived}},
		"cellar":  {{"basement", Synonym}},
		"tax":     {{"taxation", Synonym}}, // "revenue_enhancement" is several words
		"annual":  {{"yearly", Synonym}, {"year", Derived}},
		"yearly":  {{"annual", Synonym}}, // the pertainym is annual's (source word 1)
		"go":      {{"travel", Synonym}, {"move", Synonym}, {"locomote", Synonym}},
		"big":     {{"large", Synonym}}, // the adjective marker is dropped
		"unknown": nil,
	}
	for w, want := range related {
		if got := l.Related(w); !slices.Equal(got, want) {
			t.Errorf("Related(%q) = %v, want %v", w, got, want)
		}
	}
	if !l.Has("basement") || l.Has("basements") {
		t.Error("Has: want basement, not basements")
	}
}

func TestOpenMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "index.noun") {
		t.Fatalf("Open(empty folder) = %v, want an error naming index.noun", err)
	}
	a, errA := Load(dir)
	b, errB := Load(dir + "/")
	if a != nil || b != nil || errA == nil || errA != errB {
		t.Fatalf("Load of a missing database twice: %v %v, want the same error", errA, errB)
	}
}

// TestDebianWordNet reads the real database where it is installed
// (scripts/install-wordnet.sh; CI has it).
func TestDebianWordNet(t *testing.T) {
	t.Parallel()
	const dir = "/usr/share/wordnet"
	if _, err := os.Stat(filepath.Join(dir, "index.noun")); err != nil {
		t.Skipf("WordNet is not in %s (scripts/install-wordnet.sh installs it)", dir)
	}
	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Lemmas("taxes"); !slices.Contains(got, "tax") {
		t.Errorf("Lemmas(taxes) = %q", got)
	}
	if got := l.Lemmas("went"); !slices.Equal(got, []string{"go"}) {
		t.Errorf("Lemmas(went) = %q", got)
	}
	has := func(rs []Related, w string, rel Relation) bool {
		return slices.Contains(rs, Related{w, rel})
	}
	if rs := l.Related("pay"); !has(rs, "payment", Derived) {
		t.Errorf("Related(pay) = %v, want payment among the derived forms", rs)
	}
	if rs := l.Related("basement"); !has(rs, "cellar", Synonym) {
		t.Errorf("Related(basement) = %v, want cellar", rs)
	}
	if rs := l.Related("sick"); has(rs, "puke", Synonym) {
		t.Errorf("Related(sick) = %v: a loose synset's words are not synonyms", rs)
	}
}
