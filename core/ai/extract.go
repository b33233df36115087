package ai

import (
	"bytes"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/consilium-hq/consilium/core/apperr"
)

// Media types of documents.
const (
	MediaText     = "text/plain"
	MediaMarkdown = "text/markdown"
	MediaHTML     = "text/html"
	MediaPDF      = "application/pdf"
)

// MediaTypes are the document types that can be processed.
var MediaTypes = []string{MediaText, MediaMarkdown, MediaHTML, MediaPDF}

// DetectMediaType decides what an upload is from its declared type, its
// file name and its first bytes. It answers "" for anything else (images,
// office files, binary data).
func DetectMediaType(declared, filename string, data []byte) string {
	declared = strings.ToLower(strings.TrimSpace(strings.Split(declared, ";")[0]))
	ext := strings.ToLower(path.Ext(filename))
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return MediaPDF
	case declared == MediaPDF || ext == ".pdf":
		return "" // says PDF, is not one
	}
	if !utf8.Valid(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))) || bytes.IndexByte(data, 0) >= 0 {
		return ""
	}
	switch {
	case declared == MediaMarkdown || declared == "text/x-markdown" || ext == ".md" || ext == ".markdown":
		return MediaMarkdown
	case declared == MediaHTML || declared == "application/xhtml+xml" || ext == ".html" || ext == ".htm" || ext == ".xhtml":
		return MediaHTML
	case declared == "" || declared == "application/octet-stream" || strings.HasPrefix(declared, "text/"):
		head := strings.ToLower(strings.TrimSpace(string(data[:min(len(data), 512)])))
		if strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") {
			return MediaHTML
		}
		return MediaText
	}
	return ""
}

// Extracted is the text of a document.
type Extracted struct {
	// Title is the document's own title (an HTML <title>, a Markdown
	// heading, the PDF's Title), empty when it has none.
	Title    string
	Sections []Section
}

// Extract reads the text of a document. Errors are *apperr.Error (invalid)
// with a message for the user: the same input always fails the same way.
func Extract(mediaType string, data []byte) (ex *Extracted, err error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	switch mediaType {
	case MediaText:
		ex = &Extracted{Sections: []Section{{Paragraphs: paragraphs(string(data))}}}
	case MediaMarkdown:
		ex = extractMarkdown(string(data))
	case MediaHTML:
		ex, err = extractHTML(data)
	case MediaPDF:
		ex, err = extractPDF(data)
	default:
		return nil, apperr.New(apperr.Invalid, "documents of type %q cannot be read; send plain text, Markdown, HTML or a PDF with a text layer", mediaType)
	}
	if err != nil {
		return nil, err
	}
	empty := true
	for _, s := range ex.Sections {
		for _, p := range s.Paragraphs {
			empty = empty && strings.TrimSpace(p) == ""
		}
	}
	if empty {
		if mediaType == MediaPDF {
			return nil, apperr.New(apperr.Invalid, "the PDF has no text layer (scanned pages are not read): export it with text, or send its pages as images to transcription")
		}
		return nil, apperr.New(apperr.Invalid, "the document contains no text")
	}
	return ex, nil
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n+`)

// paragraphs splits text at blank lines.
func paragraphs(text string) []string {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	var out []string
	for _, p := range blankLines.Split(text, -1) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var (
	mdHeading   = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$`)
	mdSetext    = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	mdFence     = regexp.MustCompile("^ {0,3}(```|~~~)")
	mdImage     = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink      = regexp.MustCompile(`\[([^\]]+)\]\([^)]*\)`)
	mdEmphasis  = regexp.MustCompile(`(\*\*|__|\*|_|~~|` + "`" + `)([^*_~` + "`" + `\n]+?)(\*\*|__|\*|_|~~|` + "`" + `)`)
	mdListMark  = regexp.MustCompile(`^(\s*)([-*+]|\d+[.)])\s+(\[[ xX]\]\s+)?`)
	mdQuoteMark = regexp.MustCompile(`^\s*>\s?`)
)

// extractMarkdown keeps the text of a Markdown document and its heading
// structure: headings start sections, blank lines end paragraphs, inline
// markup goes, code blocks stay as they are.
func extractMarkdown(src string) *Extracted {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	ex := &Extracted{}
	var path []headingLevel
	cur := Section{}
	var para []string
	endPara := func() {
		if len(para) > 0 {
			cur.Paragraphs = append(cur.Paragraphs, strings.Join(para, "\n"))
			para = nil
		}
	}
	startSection := func(level int, text string) {
		endPara()
		if len(cur.Paragraphs) > 0 {
			ex.Sections = append(ex.Sections, cur)
		}
		for len(path) > 0 && path[len(path)-1].level >= level {
			path = path[:len(path)-1]
		}
		path = append(path, headingLevel{level, text})
		cur = Section{Heading: headingPath(path), Paragraphs: []string{text}}
		if ex.Title == "" && level == 1 {
			ex.Title = text
		}
	}
	lines := strings.Split(src, "\n")
	inFence := ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := mdFence.FindStringSubmatch(line); m != nil {
			if inFence == "" {
				endPara()
				inFence = m[1]
				continue
			}
			if m[1] == inFence {
				inFence = ""
				endPara()
				continue
			}
		}
		if inFence != "" {
			para = append(para, line)
			continue
		}
		if m := mdHeading.FindStringSubmatch(line); m != nil {
			startSection(len(m[1]), inlineMarkdown(m[2]))
			continue
		}
		if strings.TrimSpace(line) == "" {
			endPara()
			continue
		}
		// A setext heading: a line of text underlined by === or ---.
		if len(para) == 0 && i+1 < len(lines) && strings.TrimSpace(line) != "" {
			if m := mdSetext.FindStringSubmatch(lines[i+1]); m != nil {
				level := 1
				if m[1][0] == '-' {
					level = 2
				}
				startSection(level, inlineMarkdown(strings.TrimSpace(line)))
				i++
				continue
			}
		}
		line = mdQuoteMark.ReplaceAllString(line, "")
		line = mdListMark.ReplaceAllString(line, "$1")
		para = append(para, inlineMarkdown(strings.TrimRight(line, " \t")))
	}
	endPara()
	if len(cur.Paragraphs) > 0 {
		ex.Sections = append(ex.Sections, cur)
	}
	return ex
}

func inlineMarkdown(s string) string {
	s = mdImage.ReplaceAllString(s, "$1")
	s = mdLink.ReplaceAllString(s, "$1")
	for range 3 { // nested emphasis
		s = mdEmphasis.ReplaceAllString(s, "$2")
	}
	return strings.TrimSpace(s)
}

// extractHTML keeps the visible text of an HTML page: block elements end
// paragraphs, h1-h6 start sections; scripts, styles and the head (but for
// its title) are skipped.
func extractHTML(data []byte) (*Extracted, error) {
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the HTML cannot be read: %v", err)
	}
	ex := &Extracted{}
	var path []headingLevel
	cur := Section{}
	var para strings.Builder
	endPara := func() {
		if t := collapseSpace(para.String()); t != "" {
			cur.Paragraphs = append(cur.Paragraphs, t)
		}
		para.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			para.WriteString(n.Data)
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Svg, atom.Iframe, atom.Object, atom.Canvas:
				return
			case atom.Title:
				if ex.Title == "" {
					ex.Title = collapseSpace(nodeText(n))
				}
				return
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				endPara()
				text := collapseSpace(nodeText(n))
				if text == "" {
					return
				}
				if len(cur.Paragraphs) > 0 {
					ex.Sections = append(ex.Sections, cur)
				}
				level := int(n.Data[1] - '0')
				for len(path) > 0 && path[len(path)-1].level >= level {
					path = path[:len(path)-1]
				}
				path = append(path, headingLevel{level, text})
				cur = Section{Heading: headingPath(path), Paragraphs: []string{text}}
				return
			case atom.Br:
				para.WriteString("\n")
				return
			}
			if htmlBlock[n.DataAtom] {
				endPara()
				defer endPara()
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	endPara()
	if len(cur.Paragraphs) > 0 {
		ex.Sections = append(ex.Sections, cur)
	}
	return ex, nil
}

var htmlBlock = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true,
	atom.Dd: true, atom.Pre: true, atom.Blockquote: true, atom.Table: true, atom.Tr: true, atom.Section: true,
	atom.Article: true, atom.Header: true, atom.Footer: true, atom.Nav: true, atom.Aside: true, atom.Main: true,
	atom.Figure: true, atom.Figcaption: true, atom.Hr: true, atom.Form: true, atom.Fieldset: true, atom.Address: true,
	atom.Details: true, atom.Summary: true, atom.Body: true, atom.Caption: true,
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style) {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

var spaceRun = regexp.MustCompile(`[ \t\f\v\x{00a0}]+`)

// collapseSpace folds runs of spaces (HTML whitespace) and trims lines.
func collapseSpace(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(spaceRun.ReplaceAllString(strings.ReplaceAll(l, "\r", " "), " "))
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, " ")
}

// MaxPDFPages bounds the pages read from one PDF.
const MaxPDFPages = 2000

// extractPDF reads the text layer of a PDF, page by page: glyphs are put
// together into lines by their position, a wide gap between lines ends a
// paragraph.
func extractPDF(data []byte) (ex *Extracted, err error) {
	defer func() {
		if r := recover(); r != nil {
			ex, err = nil, apperr.New(apperr.Invalid, "the PDF cannot be read: %v", r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		msg := err.Error()
		if strings.Contains(strings.ToLower(msg), "encrypt") || strings.Contains(strings.ToLower(msg), "password") {
			return nil, apperr.New(apperr.Invalid, "the PDF is encrypted; send it without a password")
		}
		return nil, apperr.New(apperr.Invalid, "the PDF cannot be read: %s", msg)
	}
	ex = &Extracted{}
	if t := r.Trailer().Key("Info").Key("Title"); t.Kind() == pdf.String {
		ex.Title = strings.TrimSpace(t.Text())
	}
	n := r.NumPage()
	if n > MaxPDFPages {
		return nil, apperr.New(apperr.Invalid, "the PDF has %d pages; at most %d are read", n, MaxPDFPages)
	}
	for i := 1; i <= n; i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		paras := pdfParagraphs(p.Content().Text)
		if len(paras) > 0 {
			ex.Sections = append(ex.Sections, Section{Heading: fmt.Sprintf("page %d", i), Paragraphs: paras})
		}
	}
	return ex, nil
}

// pdfParagraphs puts a page's glyphs (in content-stream order) together.
func pdfParagraphs(glyphs []pdf.Text) []string {
	type line struct {
		y, size float64
		text    strings.Builder
	}
	var lines []*line
	var cur *line
	var lastEnd float64
	for _, g := range glyphs {
		if g.S == "\n" || g.S == "\r" {
			continue
		}
		size := g.FontSize
		if size <= 0 {
			size = 10
		}
		if cur == nil || math.Abs(g.Y-cur.y) > size*0.5 {
			cur = &line{y: g.Y, size: size}
			lines = append(lines, cur)
		} else if g.S != " " {
			// A gap wider than a quarter of the font size is a space the
			// PDF draws by moving instead of with a space glyph.
			if g.X-lastEnd > size*0.25 && cur.text.Len() > 0 && !strings.HasSuffix(cur.text.String(), " ") {
				cur.text.WriteByte(' ')
			}
		}
		cur.text.WriteString(g.S)
		w := g.W
		if w <= 0 {
			w = size * 0.5 // fonts without widths (the standard 14)
		}
		lastEnd = g.X + w
	}
	var paras []string
	var para []string
	var prev *line
	for _, l := range lines {
		text := strings.TrimSpace(spaceRun.ReplaceAllString(l.text.String(), " "))
		if text == "" {
			continue
		}
		if prev != nil && math.Abs(prev.y-l.y) > 1.6*max(prev.size, l.size) && len(para) > 0 {
			paras = append(paras, strings.Join(para, "\n"))
			para = nil
		}
		para = append(para, text)
		prev = l
	}
	if len(para) > 0 {
		paras = append(paras, strings.Join(para, "\n"))
	}
	return paras
}
