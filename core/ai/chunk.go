package ai

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/core/blocknote"
)

// Chunk sizes, in characters. A chunk collects whole blocks (or document
// paragraphs) up to TargetChunkChars; a heading starts a new one; a block
// longer than MaxChunkChars is cut between sentences (or, failing that,
// words) into pieces that each keep the block's id.
const (
	TargetChunkChars = 700
	MaxChunkChars    = 1500
	// MaxChunksPerSource bounds what one note or document may add to the
	// index (about 1.5 MB of text).
	MaxChunksPerSource = 2000
)

// Chunk is a passage of a note or document as it is indexed.
type Chunk struct {
	Position int
	// BlockIDs are the ids of the note blocks the passage comes from, in
	// document order (empty for documents).
	BlockIDs []string
	// Heading is the path of headings above the passage ("Trip › Packing"),
	// or the page of a PDF ("page 3").
	Heading string
	Text    string
}

// EmbedText is what gets embedded for a chunk: the passage with the title
// and heading it sits under, so that a passage is found by what its note
// is about and not only by its own words.
func EmbedText(title, heading, text string) string {
	var b strings.Builder
	b.WriteString(title)
	if heading != "" {
		if b.Len() > 0 {
			b.WriteString(" › ")
		}
		b.WriteString(heading)
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(text)
	return b.String()
}

// unit is a piece of text that goes into a chunk whole.
type unit struct {
	text    string
	blockID string
	heading string
	// breakBefore starts a new chunk at this unit (a heading).
	breakBefore bool
}

// ChunkNote cuts a note's document into chunks that follow its blocks. A
// note with a title and no text gives one chunk holding the title, so that
// it can still be found.
func ChunkNote(title string, doc *blocknote.Document) []Chunk {
	var units []unit
	var path []headingLevel
	doc.Walk(func(b *blocknote.Block, depth int) bool {
		text := strings.TrimSpace(b.Text())
		if b.Type() == "heading" && depth == 1 {
			level := headingLevelOf(b)
			for len(path) > 0 && path[len(path)-1].level >= level {
				path = path[:len(path)-1]
			}
			if text != "" {
				path = append(path, headingLevel{level, text})
			}
			if text != "" {
				units = append(units, unit{text: text, blockID: b.ID(), heading: headingPath(path), breakBefore: true})
			}
			return true
		}
		if text != "" {
			units = append(units, unit{text: text, blockID: b.ID(), heading: headingPath(path)})
		}
		return true
	})
	chunks := pack(units)
	if len(chunks) == 0 && strings.TrimSpace(title) != "" {
		chunks = []Chunk{{Text: strings.TrimSpace(title), BlockIDs: []string{}}}
	}
	return chunks
}

type headingLevel struct {
	level int
	text  string
}

func headingLevelOf(b *blocknote.Block) int {
	if n, err := strconv.Atoi(strings.Trim(string(b.Prop("level")), `"`)); err == nil && n >= 1 && n <= 6 {
		return n
	}
	return 1
}

func headingPath(path []headingLevel) string {
	parts := make([]string, len(path))
	for i, h := range path {
		parts[i] = h.text
	}
	return strings.Join(parts, " › ")
}

// Section is a run of paragraphs of a document under one heading (or on
// one page of a PDF).
type Section struct {
	Heading    string
	Paragraphs []string
}

// ChunkSections cuts a document's sections into chunks.
func ChunkSections(sections []Section) []Chunk {
	var units []unit
	for _, s := range sections {
		first := true
		for _, p := range s.Paragraphs {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			units = append(units, unit{text: p, heading: s.Heading, breakBefore: first})
			first = false
		}
	}
	return pack(units)
}

// pack groups units into chunks.
func pack(units []unit) []Chunk {
	var out []Chunk
	var cur *Chunk
	var n int // characters in cur
	flush := func() {
		if cur != nil && cur.Text != "" {
			cur.Position = len(out)
			out = append(out, *cur)
		}
		cur, n = nil, 0
	}
	for _, u := range units {
		for _, piece := range split(u.text, MaxChunkChars) {
			size := utf8.RuneCountInString(piece)
			if cur != nil && (u.breakBefore || u.heading != cur.Heading || n+1+size > TargetChunkChars) {
				flush()
			}
			u.breakBefore = false
			if cur == nil {
				cur = &Chunk{Heading: u.heading, BlockIDs: []string{}}
			} else {
				cur.Text += "\n"
				n++
			}
			cur.Text += piece
			n += size
			if u.blockID != "" && (len(cur.BlockIDs) == 0 || cur.BlockIDs[len(cur.BlockIDs)-1] != u.blockID) {
				cur.BlockIDs = append(cur.BlockIDs, u.blockID)
			}
			if len(out) >= MaxChunksPerSource {
				return out
			}
		}
	}
	flush()
	if len(out) > MaxChunksPerSource {
		out = out[:MaxChunksPerSource]
	}
	return out
}

// split cuts text into pieces of at most max characters, between sentences
// where it can, else between words, else anywhere.
func split(text string, max int) []string {
	if utf8.RuneCountInString(text) <= max {
		return []string{text}
	}
	var out []string
	var cur strings.Builder
	curLen := 0
	add := func(s string) {
		l := utf8.RuneCountInString(s)
		if curLen > 0 && curLen+l > max {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			curLen = 0
		}
		cur.WriteString(s)
		curLen += l
	}
	for _, sentence := range sentences(text) {
		if utf8.RuneCountInString(sentence) <= max {
			add(sentence)
			continue
		}
		for _, word := range wordsKeepSpace(sentence) {
			for utf8.RuneCountInString(word) > max {
				r := []rune(word)
				add(string(r[:max]))
				word = string(r[max:])
			}
			add(word)
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// sentences splits after ., ! or ? followed by a space, and after
// newlines; the pieces keep their trailing spaces so they join back.
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		end := false
		switch rs[i] {
		case '\n':
			end = true
		case '.', '!', '?', '。':
			end = i+1 < len(rs) && unicode.IsSpace(rs[i+1])
		}
		if end {
			j := i + 1
			for j < len(rs) && unicode.IsSpace(rs[j]) {
				j++
			}
			out = append(out, string(rs[start:j]))
			start = j
			i = j - 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}

func wordsKeepSpace(s string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range s {
		sp := unicode.IsSpace(r)
		if !sp && inSpace {
			out = append(out, s[start:i])
			start = i
		}
		inSpace = sp
	}
	return append(out, s[start:])
}
