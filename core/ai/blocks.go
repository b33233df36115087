package ai

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Block is a BlockNote block as transcription writes it: what the editor's
// editor.document holds, with the editor's default props.
type Block struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Props    map[string]any `json:"props"`
	Content  []InlineText   `json:"content"`
	Children []Block        `json:"children"`
}

// InlineText is a run of unstyled text.
type InlineText struct {
	Type   string         `json:"type"`
	Text   string         `json:"text"`
	Styles map[string]any `json:"styles"`
}

// PlainText is the block's text.
func (b Block) PlainText() string {
	var s strings.Builder
	for _, c := range b.Content {
		s.WriteString(c.Text)
	}
	return s.String()
}

// Checked reports whether a checkListItem is ticked.
func (b Block) Checked() bool { v, _ := b.Props["checked"].(bool); return v }

// Level is a heading's level.
func (b Block) Level() int { v, _ := b.Props["level"].(int); return v }

// MarshalBlocks writes blocks as a BlockNote document.
func MarshalBlocks(blocks []Block) json.RawMessage {
	if blocks == nil {
		blocks = []Block{}
	}
	raw, _ := json.Marshal(blocks)
	return raw
}

func newBlock(typ, text string, props map[string]any) Block {
	p := map[string]any{"textColor": "default", "backgroundColor": "default", "textAlignment": "left"}
	for k, v := range props {
		p[k] = v
	}
	var content []InlineText
	if text != "" {
		content = []InlineText{{Type: "text", Text: text, Styles: map[string]any{}}}
	} else {
		content = []InlineText{}
	}
	return Block{ID: uuid.NewString(), Type: typ, Props: p, Content: content, Children: []Block{}}
}

var (
	// Checklist markers at the start of a line: [ ], [x], - [ ], * [x],
	// ☐, ☑, ☒, ✅, TODO.
	// A list mark before them may be any dash (OCR reads "- [ ]" as
	// "—[]") or bullet, with or without a space.
	taskBox       = regexp.MustCompile(`^(?:[-–—*+•·]\s*)?\[\s*([xX✓✔vV]?)\s*\]\s*(.*)$`)
	taskGlyph     = regexp.MustCompile(`^(?:[-–—*+•·]\s*)?([☐□❏❑☑☒✅✓✔])\s*(.*)$`)
	taskTodo      = regexp.MustCompile(`^(?:[-–—*+•·]\s*)?(?:TODO\b|(?i:to-?do)\s*[:\-–—])\s*[:\-–—]?\s*(.*)$`)
	bulletMark    = regexp.MustCompile(`^[-–—*+•·]\s+(.+)$`)
	numberedMark  = regexp.MustCompile(`^\d{1,3}[.)]\s+(.+)$`)
	markdownTitle = regexp.MustCompile(`^(#{1,3})\s+(.+?)\s*#*$`)
)

// lineKind is what a line of transcribed text looks like.
type lineKind int

const (
	kindText lineKind = iota
	kindTask
	kindBullet
	kindNumbered
	kindHeading
)

type line struct {
	kind    lineKind
	text    string
	checked bool
	level   int
}

// readLine classifies one non-empty line.
func readLine(s string) line {
	if m := taskBox.FindStringSubmatch(s); m != nil {
		return line{kind: kindTask, text: strings.TrimSpace(m[2]), checked: m[1] != ""}
	}
	if m := taskGlyph.FindStringSubmatch(s); m != nil {
		return line{kind: kindTask, text: strings.TrimSpace(m[2]), checked: m[1] != "☐" && m[1] != "□" && m[1] != "❏" && m[1] != "❑"}
	}
	if m := taskTodo.FindStringSubmatch(s); m != nil && strings.TrimSpace(m[1]) != "" {
		return line{kind: kindTask, text: strings.TrimSpace(m[1])}
	}
	if m := markdownTitle.FindStringSubmatch(s); m != nil {
		return line{kind: kindHeading, text: m[2], level: len(m[1])}
	}
	if m := bulletMark.FindStringSubmatch(s); m != nil {
		return line{kind: kindBullet, text: strings.TrimSpace(m[1])}
	}
	if m := numberedMark.FindStringSubmatch(s); m != nil {
		return line{kind: kindNumbered, text: strings.TrimSpace(m[1])}
	}
	return line{kind: kindText, text: s}
}

// looksLikeHeading: short, no sentence punctuation at the end, and either
// ending in a colon or written in capitals.
func looksLikeHeading(s string, first bool) (string, bool) {
	if utf8.RuneCountInString(s) > 60 || len(strings.Fields(s)) > 8 {
		return "", false
	}
	if strings.HasSuffix(s, ":") {
		t := strings.TrimSpace(strings.TrimSuffix(s, ":"))
		return t, t != ""
	}
	last, _ := utf8.DecodeLastRuneInString(s)
	if strings.ContainsRune(".,;!?…", last) {
		return "", false
	}
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters >= 2 && upper == letters {
		return s, true
	}
	// The first line of a page standing alone reads as its title.
	r, _ := utf8.DecodeRuneInString(s)
	return s, first && letters >= 2 && !unicode.IsLower(r)
}

// TextToBlocks turns transcribed text into BlockNote blocks: lines that look
// like tasks ("[ ]", "[x]", "- [ ]", "☐", "☑", "TODO") become checkListItem
// blocks ("[x]" and "☑" checked), "- " and "1." lines list items, short
// lines that stand alone and read like titles (a first line, one ending in
// a colon, one in capitals, or "# ...") headings, and the rest paragraphs:
// lines separated by a blank line are separate paragraphs, lines that follow
// each other are one paragraph with line breaks.
func TextToBlocks(text string) []Block {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	raw := strings.Split(text, "\n")
	// Groups of consecutive non-empty lines.
	var groups [][]string
	var g []string
	for _, l := range raw {
		l = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r == '\t' || r == '\f' || r == '\v' {
				return ' '
			}
			return r
		}, l))
		if l == "" {
			if len(g) > 0 {
				groups = append(groups, g)
				g = nil
			}
			continue
		}
		g = append(g, l)
	}
	if len(g) > 0 {
		groups = append(groups, g)
	}

	blocks := []Block{}
	var para []string
	endPara := func() {
		if len(para) > 0 {
			blocks = append(blocks, newBlock("paragraph", strings.Join(para, "\n"), nil))
			para = nil
		}
	}
	for gi, group := range groups {
		for li, s := range group {
			ln := readLine(s)
			if ln.kind == kindText && li == 0 {
				// A heading stands alone, or heads the lines of its group
				// that follow it when those are list items or tasks.
				alone := len(group) == 1
				headsList := len(group) > 1 && readLine(group[1]).kind != kindText
				if alone || headsList {
					first := gi == 0 && (len(groups) > 1 || headsList)
					if h, ok := looksLikeHeading(s, first); ok {
						ln = line{kind: kindHeading, text: h, level: 2}
						if gi == 0 && !strings.HasSuffix(s, ":") {
							ln.level = 1
						}
					}
				}
			}
			switch ln.kind {
			case kindText:
				para = append(para, ln.text)
				continue
			case kindHeading:
				endPara()
				blocks = append(blocks, newBlock("heading", ln.text, map[string]any{"level": ln.level}))
			case kindTask:
				endPara()
				blocks = append(blocks, newBlock("checkListItem", ln.text, map[string]any{"checked": ln.checked}))
			case kindBullet:
				endPara()
				blocks = append(blocks, newBlock("bulletListItem", ln.text, nil))
			case kindNumbered:
				endPara()
				blocks = append(blocks, newBlock("numberedListItem", ln.text, nil))
			}
		}
		endPara()
	}
	return blocks
}
