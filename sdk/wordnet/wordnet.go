// Package wordnet reads the WordNet lexical database (version 3.0's dict
// folder: index.*, data.* and *.exc, as Debian's wordnet-base installs in
// /usr/share/wordnet) for programs that work offline: the base forms of a
// word ("taxes" → "tax", "went" → "go"), its regular inflections, and the
// words WordNet relates to it (synonyms, derivationally related forms such
// as "pay" and "payment", pertainyms). Plugins may use it to match words
// that differ in form; Consilium's local plugin and its full-text search do.
//
// Open reads the index and exception files (about 6 MB, well under a second)
// and keeps the data files open; synsets are read from them on demand and
// what a word relates to is remembered. A Lexicon is safe for concurrent
// use. Load opens a folder once per process and shares the Lexicon.
package wordnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// POS is a part of speech.
type POS int

const (
	Noun POS = iota
	Verb
	Adj
	Adv
	numPOS
)

var posNames = [numPOS]string{"noun", "verb", "adj", "adv"}

func (p POS) String() string {
	if p < 0 || p >= numPOS {
		return "pos(" + strconv.Itoa(int(p)) + ")"
	}
	return posNames[p]
}

// posOf maps the letters of data and pointer fields (n, v, a, s, r).
func posOf(c byte) (POS, bool) {
	switch c {
	case 'n':
		return Noun, true
	case 'v':
		return Verb, true
	case 'a', 's':
		return Adj, true
	case 'r':
		return Adv, true
	}
	return 0, false
}

// Relation says how a related word is related.
type Relation int

const (
	// Synonym: in one of the word's first senses' synsets.
	Synonym Relation = iota
	// Derived: a derivationally related form ("pay" and "payment") or a
	// pertainym ("annual" and "year").
	Derived
)

// Related is a word WordNet relates to another.
type Related struct {
	Word     string
	Relation Relation
}

// Lexicon is an opened WordNet database.
type Lexicon struct {
	dir string
	// index: lemma → per part of speech, the offsets of its synsets in the
	// data file, most frequent sense first.
	index map[string]*[numPOS][]int64
	// tagged: per lemma and part of speech, how often its senses were
	// tagged in WordNet's corpus (how common that use of the word is).
	tagged map[string]*[numPOS]int32
	// exc: inflected form → base forms, per part of speech; forms: base →
	// irregular inflected forms, per part of speech.
	exc   [numPOS]map[string][]string
	forms [numPOS]map[string][]string
	data  [numPOS]*os.File

	mu      sync.Mutex
	related map[string][]Related
}

// MaxSenses is how many of a word's senses (most frequent first, per part
// of speech) Related follows: rarer senses mostly add noise.
const MaxSenses = 3

// maxSynonyms: the words of a synset with more are not taken as synonyms
// (such synsets gather loose, often slangy, uses: "sick" and "puke").
const maxSynonyms = 8

// Open reads the database in dir.
func Open(dir string) (*Lexicon, error) {
	l := &Lexicon{dir: dir, index: make(map[string]*[numPOS][]int64, 160_000), tagged: map[string]*[numPOS]int32{}, related: map[string][]Related{}}
	for p := range numPOS {
		if err := l.readIndex(p); err != nil {
			l.Close()
			return nil, err
		}
		if err := l.readExc(p); err != nil {
			l.Close()
			return nil, err
		}
		f, err := os.Open(filepath.Join(dir, "data."+posNames[p]))
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("wordnet: %w", err)
		}
		l.data[p] = f
	}
	return l, nil
}

// Close closes the data files.
func (l *Lexicon) Close() error {
	var errs []error
	for i, f := range l.data {
		if f != nil {
			errs = append(errs, f.Close())
			l.data[i] = nil
		}
	}
	return errors.Join(errs...)
}

// Dir is the folder the database was read from.
func (l *Lexicon) Dir() string { return l.dir }

var (
	loadMu sync.Mutex
	loaded = map[string]loadResult{}
)

type loadResult struct {
	lex *Lexicon
	err error
}

// Load opens the database in dir once per process: later calls with the
// same dir return the same Lexicon (or the same error). The Lexicon stays
// open.
func Load(dir string) (*Lexicon, error) {
	dir = filepath.Clean(dir)
	loadMu.Lock()
	defer loadMu.Unlock()
	if r, ok := loaded[dir]; ok {
		return r.lex, r.err
	}
	lex, err := Open(dir)
	loaded[dir] = loadResult{lex, err}
	return lex, err
}

func (l *Lexicon) readIndex(p POS) error {
	f, err := os.Open(filepath.Join(l.dir, "index."+posNames[p]))
	if err != nil {
		return fmt.Errorf("wordnet: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == ' ' { // the licence at the top
			continue
		}
		// lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
		fs := bytes.Fields(line)
		if len(fs) < 6 {
			continue
		}
		nSyn, err1 := strconv.Atoi(string(fs[2]))
		nPtr, err2 := strconv.Atoi(string(fs[3]))
		first := 4 + nPtr + 2
		if err1 != nil || err2 != nil || nSyn < 1 || len(fs) < first+nSyn {
			return fmt.Errorf("wordnet: index.%s: malformed line %.60q", posNames[p], line)
		}
		offs := make([]int64, 0, nSyn)
		for _, o := range fs[first : first+nSyn] {
			n, err := strconv.ParseInt(string(o), 10, 64)
			if err != nil {
				return fmt.Errorf("wordnet: index.%s: malformed offset %q", posNames[p], o)
			}
			offs = append(offs, n)
		}
		lemma := string(fs[0])
		e := l.index[lemma]
		if e == nil {
			e = new([numPOS][]int64)
			l.index[lemma] = e
		}
		e[p] = offs
		if n, err := strconv.Atoi(string(fs[first-1])); err == nil && n > 0 {
			t := l.tagged[lemma]
			if t == nil {
				t = new([numPOS]int32)
				l.tagged[lemma] = t
			}
			t[p] = int32(n)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("wordnet: index.%s: %w", posNames[p], err)
	}
	return nil
}

func (l *Lexicon) readExc(p POS) error {
	l.exc[p] = map[string][]string{}
	l.forms[p] = map[string][]string{}
	f, err := os.Open(filepath.Join(l.dir, posNames[p]+".exc"))
	if err != nil {
		return fmt.Errorf("wordnet: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		l.exc[p][fs[0]] = append(l.exc[p][fs[0]], fs[1:]...)
		for _, b := range fs[1:] {
			if !slices.Contains(l.forms[p][b], fs[0]) {
				l.forms[p][b] = append(l.forms[p][b], fs[0])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("wordnet: %s.exc: %w", posNames[p], err)
	}
	return nil
}

// Has reports whether word is a lemma of WordNet (in any part of speech).
// Words are lower case; several words are joined with "_".
func (l *Lexicon) Has(word string) bool {
	_, ok := l.index[word]
	return ok
}

// detachment rules of WordNet's morphy: suffix → replacement.
var rules = [numPOS][][2]string{
	Noun: {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	Verb: {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	Adj:  {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
}

// Lemmas returns the base forms of word that WordNet knows, in any part of
// speech, as WordNet's morphy finds them: the word itself when it is a
// lemma, the exception lists' bases ("went" → "go"), and the regular
// detachments ("taxes" → "tax", "cracking" → "crack"). Nil when WordNet
// knows no form of it.
func (l *Lexicon) Lemmas(word string) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if l.Has(word) {
		add(word)
	}
	for p := range numPOS {
		for _, b := range l.exc[p][word] {
			if l.index[b] != nil && len(l.index[b][p]) > 0 {
				add(b)
			}
		}
		if len(l.exc[p][word]) > 0 {
			continue // an irregular form is not also detached
		}
		for _, r := range rules[p] {
			if base, ok := strings.CutSuffix(word, r[0]); ok && base != "" {
				base += r[1]
				if e := l.index[base]; e != nil && len(e[p]) > 0 {
					add(base)
				}
			}
		}
	}
	return out
}

// Inflections returns the regular inflected forms of a lemma (plural,
// third person, past, participles, comparatives, by WordNet's rules in
// reverse, for the parts of speech it is a lemma of) and its irregular
// forms from the exception lists, without the lemma. Some regular forms
// may not be words: it is meant for matching text, where they cost nothing.
func (l *Lexicon) Inflections(lemma string) []string {
	e := l.index[lemma]
	if e == nil || strings.Contains(lemma, "_") {
		return nil
	}
	var out []string
	add := func(s string) {
		if s != lemma && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sibilant := strings.HasSuffix(lemma, "ss") || strings.HasSuffix(lemma, "x") || strings.HasSuffix(lemma, "z") ||
		strings.HasSuffix(lemma, "ch") || strings.HasSuffix(lemma, "sh")
	consY := len(lemma) > 1 && lemma[len(lemma)-1] == 'y' && !strings.ContainsRune("aeiou", rune(lemma[len(lemma)-2]))
	stem := strings.TrimSuffix(lemma, "y")
	plural := func() { // also a verb's third person
		switch {
		case strings.HasSuffix(lemma, "s") && !sibilant: // "glasses", "news"
		case sibilant:
			add(lemma + "es")
		case consY:
			add(stem + "ies")
		default:
			add(lemma + "s")
		}
	}
	for p := range numPOS {
		if len(e[p]) == 0 {
			continue
		}
		// The exception lists hold the irregular forms only: a noun's or
		// an adjective's replace the regular ones ("men", "better"), a
		// verb's replace its past ("paid") but not its -s and -ing forms
		// ("pays", "paying") unless they list them ("winning").
		irr := l.forms[p][lemma]
		for _, f := range irr {
			add(f)
		}
		switch {
		case p == Noun && len(irr) == 0:
			plural()
		case p == Verb:
			plural()
			if !slices.ContainsFunc(irr, func(f string) bool { return strings.HasSuffix(f, "ing") }) {
				if strings.HasSuffix(lemma, "e") && !strings.HasSuffix(lemma, "ee") {
					add(strings.TrimSuffix(lemma, "e") + "ing")
				} else {
					add(lemma + "ing")
				}
			}
			if len(irr) == 0 {
				switch {
				case strings.HasSuffix(lemma, "e"):
					add(lemma + "d")
				case consY:
					add(stem + "ied")
				default:
					add(lemma + "ed")
				}
			}
		case p == Adj && len(irr) == 0 && len(lemma) <= 5: // longer adjectives take more and most
			switch {
			case strings.HasSuffix(lemma, "e"):
				add(lemma + "r")
				add(lemma + "st")
			case consY:
				add(stem + "ier")
				add(stem + "iest")
			default:
				add(lemma + "er")
				add(lemma + "est")
			}
		}
	}
	return out
}

// Related returns the single words WordNet relates to a lemma through its
// commonest senses (the first MaxSenses of the part of speech it is most
// often used as, the first of each other one): the other words of those
// synsets (Synonym) and the lemma's derivationally related forms and
// pertainyms there (Derived), each word once (as its closest relation), in
// a fixed order, without the lemma itself. The result is remembered;
// callers must not change it.
func (l *Lexicon) Related(lemma string) []Related {
	l.mu.Lock()
	r, ok := l.related[lemma]
	l.mu.Unlock()
	if ok {
		return r
	}
	r = l.findRelated(lemma)
	l.mu.Lock()
	l.related[lemma] = r
	l.mu.Unlock()
	return r
}

func (l *Lexicon) findRelated(lemma string) []Related {
	e := l.index[lemma]
	if e == nil {
		return nil
	}
	var out []Related
	add := func(w string, rel Relation) {
		if w == lemma || strings.ContainsAny(w, "_-") {
			return
		}
		for i := range out {
			if out[i].Word == w {
				if rel == Derived {
					out[i].Relation = Derived
				}
				return
			}
		}
		out = append(out, Related{w, rel})
	}
	main := Noun
	if t := l.tagged[lemma]; t != nil {
		for p := range numPOS {
			if t[p] > t[main] {
				main = p
			}
		}
	} else {
		for p := numPOS - 1; p >= 0; p-- {
			if len(e[p]) > 0 && len(e[p]) >= len(e[main]) {
				main = p
			}
		}
	}
	for p := range numPOS {
		offs := e[p]
		if n := map[bool]int{true: MaxSenses, false: 1}[p == main]; len(offs) > n {
			offs = offs[:n]
		}
		for _, off := range offs {
			s, err := l.synset(p, off)
			if err != nil {
				continue
			}
			self := 0 // the lemma's word number in the synset, 1-based
			for i, w := range s.words {
				if strings.ToLower(w) == lemma {
					self = i + 1
				}
			}
			if len(s.words) <= maxSynonyms+1 { // a big synset is a loose one
				for _, w := range s.words {
					if w == strings.ToLower(w) { // names are left out
						add(w, Synonym)
					}
				}
			}
			for _, ptr := range s.ptrs {
				if (ptr.symbol != "+" && ptr.symbol != `\`) || (ptr.source != 0 && ptr.source != self) {
					continue
				}
				t, err := l.synset(ptr.pos, ptr.offset)
				if err != nil || ptr.target < 1 || ptr.target > len(t.words) {
					continue
				}
				if w := t.words[ptr.target-1]; w == strings.ToLower(w) {
					add(w, Derived)
				}
			}
		}
	}
	return out
}

type pointer struct {
	symbol         string
	pos            POS
	offset         int64
	source, target int
}

type synset struct {
	words []string
	ptrs  []pointer
}

// synset reads the synset at off in the data file of p.
func (l *Lexicon) synset(p POS, off int64) (*synset, error) {
	f := l.data[p]
	if f == nil {
		return nil, errors.New("wordnet: closed")
	}
	buf := make([]byte, 2048)
	var line []byte
	for {
		n, err := f.ReadAt(buf, off+int64(len(line)))
		line = append(line, buf[:n]...)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(line) > 1<<20 {
			return nil, fmt.Errorf("wordnet: data.%s: line at %d too long", posNames[p], off)
		}
	}
	if i := bytes.IndexByte(line, '|'); i >= 0 {
		line = line[:i] // the gloss
	}
	// synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] ...
	fs := strings.Fields(string(line))
	bad := fmt.Errorf("wordnet: data.%s: malformed synset at %d", posNames[p], off)
	if len(fs) < 4 || fs[0] != fmt.Sprintf("%08d", off) {
		return nil, bad
	}
	nw, err := strconv.ParseInt(fs[3], 16, 32)
	if err != nil || len(fs) < 4+2*int(nw)+1 {
		return nil, bad
	}
	s := &synset{}
	for i := range int(nw) {
		w := fs[4+2*i]
		if j := strings.IndexByte(w, '('); j > 0 { // adjective markers: (a), (p), (ip)
			w = w[:j]
		}
		s.words = append(s.words, w) // as written: "Adam" is a name
	}
	at := 4 + 2*int(nw)
	np, err := strconv.Atoi(fs[at])
	if err != nil || len(fs) < at+1+4*np {
		return nil, bad
	}
	for i := range np {
		f := fs[at+1+4*i : at+5+4*i]
		o, err1 := strconv.ParseInt(f[1], 10, 64)
		pp, ok := posOf(f[2][0])
		st, err2 := strconv.ParseUint(f[3], 16, 16)
		if err1 != nil || err2 != nil || !ok {
			return nil, bad
		}
		s.ptrs = append(s.ptrs, pointer{symbol: f[0], pos: pp, offset: o, source: int(st >> 8), target: int(st & 0xff)})
	}
	return s, nil
}
