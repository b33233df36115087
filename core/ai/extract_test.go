package ai_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/apperr"
)

func TestDetectMediaType(t *testing.T) {
	t.Parallel()
	pdf := aitest.PDF("x", [][]string{{"hello"}})
	cases := map[string]struct {
		declared, filename string
		data               []byte
		want               string
	}{
		"plain text":              {"text/plain; charset=utf-8", "a.txt", []byte("hello"), ai.MediaText},
		"no type, no name":        {"", "", []byte("hello"), ai.MediaText},
		"octet-stream text":       {"application/octet-stream", "notes", []byte("hello"), ai.MediaText},
		"markdown by name":        {"", "README.md", []byte("# hi"), ai.MediaMarkdown},
		"markdown declared":       {"text/markdown", "", []byte("# hi"), ai.MediaMarkdown},
		"html by name":            {"", "page.html", []byte("<p>hi"), ai.MediaHTML},
		"html sniffed":            {"text/plain", "", []byte("<!DOCTYPE html><p>hi"), ai.MediaHTML},
		"pdf":                     {"application/pdf", "a.pdf", pdf, ai.MediaPDF},
		"pdf whatever it says":    {"text/plain", "a.txt", pdf, ai.MediaPDF},
		"says pdf, is not":        {"application/pdf", "a.pdf", []byte("hello"), ""},
		"not utf-8":               {"text/plain", "a.txt", []byte{0xff, 0xfe, 'a'}, ""},
		"binary with NUL":         {"", "", []byte("ab\x00cd"), ""},
		"an image":                {"image/png", "a.png", []byte("\x89PNG\r\n\x1a\n...."), ""},
		"office file":             {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", []byte("PK\x03\x04"), ""},
		"utf-8 BOM is plain text": {"", "", []byte("\xef\xbb\xbfhello"), ai.MediaText},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ai.DetectMediaType(tc.declared, tc.filename, tc.data))
		})
	}
}

func TestExtract(t *testing.T) {
	t.Parallel()
	type section struct{ heading, text string }
	flat := func(ex *ai.Extracted) []section {
		var out []section
		for _, s := range ex.Sections {
			out = append(out, section{s.Heading, strings.Join(s.Paragraphs, " | ")})
		}
		return out
	}
	cases := map[string]struct {
		media string
		data  []byte
		title string
		want  []section
	}{
		"text": {ai.MediaText, []byte("\xef\xbb\xbfFirst para\nline two.\r\n\r\n\n  Second para.  \n"), "",
			[]section{{"", "First para\nline two. | Second para."}}},
		"markdown": {ai.MediaMarkdown, []byte("# Garden plan\n\nPlant **tomatoes** in [May](https://x).\n\n## Tools\n\n- spade\n- [ ] gloves\n\n```\ncode  stays\n```\n\nSetext\n------\nbody ![a hose](h.png)\n"),
			"Garden plan",
			[]section{{"Garden plan", "Garden plan | Plant tomatoes in May."}, {"Garden plan › Tools", "Tools | spade\ngloves | code  stays"}, {"Garden plan › Setext", "Setext | body a hose"}}},
		"html": {ai.MediaHTML, []byte(`<!doctype html><html><head><title> Recipe  box </title><style>p{color:red}</style></head>
			<body><nav>Home</nav><h1>Soup</h1><p>Boil   <b>water</b>.<br>Add salt.</p><script>alert(1)</script>
			<h2>Serving</h2><ul><li>Bowls</li><li>Spoons &amp; bread</li></ul></body></html>`),
			"Recipe box",
			[]section{{"", "Home"}, {"Soup", "Soup | Boil water. Add salt."}, {"Soup › Serving", "Serving | Bowls | Spoons & bread"}}},
		"pdf": {ai.MediaPDF, aitest.PDF("Quarterly report", [][]string{
			{"Revenue grew in the third quarter.", "Costs stayed flat.", "", "Hiring (two engineers) starts in May."},
			{"Appendix: the Zorblatt account."}}),
			"Quarterly report",
			[]section{{"page 1", "Revenue grew in the third quarter.\nCosts stayed flat. | Hiring (two engineers) starts in May."}, {"page 2", "Appendix: the Zorblatt account."}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ex, err := ai.Extract(tc.media, tc.data)
			require.NoError(t, err)
			require.Equal(t, tc.title, ex.Title)
			require.Equal(t, tc.want, flat(ex))
		})
	}
}

func TestExtractErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		media string
		data  []byte
		msg   string
	}{
		"pdf without text layer": {ai.MediaPDF, aitest.PDF("scan", [][]string{{}}), "no text layer"},
		"broken pdf":             {ai.MediaPDF, []byte("%PDF-1.4\nthis is not really a pdf"), "cannot be read"},
		"empty text":             {ai.MediaText, []byte("  \n\n "), "no text"},
		"html without text":      {ai.MediaHTML, []byte("<script>x()</script>"), "no text"},
		"unknown type":           {"image/png", []byte("x"), "cannot be read"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ai.Extract(tc.media, tc.data)
			require.Error(t, err)
			require.True(t, apperr.Is(err, apperr.Invalid), "%v", err)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}
