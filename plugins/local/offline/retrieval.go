package offline

import (
	"cmp"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/sdk"
)

// The host passes retrieved passages inside messages (system, user or tool)
// as elements
//
//	<passage source="Weekly plan › Groceries" ref="note:5f0c…#block-3">
//	Buy milk and eggs on the way home.
//	</passage>
//
// with the text and attribute values HTML-escaped (html.EscapeString).
// source names the passage for a person; ref, optional, identifies it for a
// program. The same markup suits a language model, so the host can build one
// context for every provider. The question is the last user message, without
// any passages it carries.

// Passage is a piece of the user's notes or documents the host retrieved.
type Passage struct {
	Source string
	Ref    string
	Text   string
}

var (
	openTagRE = regexp.MustCompile(`<passage\b([^>]*)>`)
	attrRE    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*"([^"]*)"`)
)

const closeTag = "</passage>"

// FormatPassage writes a passage in the markup Chat reads; hosts and tests
// can use it.
func FormatPassage(p Passage) string {
	attrs := fmt.Sprintf(` source="%s"`, html.EscapeString(p.Source))
	if p.Ref != "" {
		attrs += fmt.Sprintf(` ref="%s"`, html.EscapeString(p.Ref))
	}
	return "<passage" + attrs + ">\n" + html.EscapeString(p.Text) + "\n</passage>"
}

// parsePassages returns the passages in s and s without them. A passage is
// the text between a closing tag and the last opening tag before it, so
// that a mention of the markup in prose ("passages are given as <passage>
// elements") is left as text rather than swallowing the passage after it.
func parsePassages(s string) ([]Passage, string) {
	var out []Passage
	var rest strings.Builder
	for {
		end := strings.Index(s, closeTag)
		if end < 0 {
			break
		}
		opens := openTagRE.FindAllStringSubmatchIndex(s[:end], -1)
		if len(opens) == 0 {
			// A closing tag with nothing to close is text.
			rest.WriteString(s[:end+len(closeTag)])
			s = s[end+len(closeTag):]
			continue
		}
		open := opens[len(opens)-1]
		rest.WriteString(s[:open[0]])
		p := Passage{Text: strings.TrimSpace(html.UnescapeString(s[open[1]:end]))}
		for _, a := range attrRE.FindAllStringSubmatch(s[open[2]:open[3]], -1) {
			switch a[1] {
			case "source":
				p.Source = html.UnescapeString(a[2])
			case "ref":
				p.Ref = html.UnescapeString(a[2])
			}
		}
		if p.Text != "" {
			out = append(out, p)
		}
		s = s[end+len(closeTag):]
	}
	rest.WriteString(s)
	return out, strings.TrimSpace(rest.String())
}

// conversation is what a chat request gives the retrieval answer.
type conversation struct {
	question string
	passages []Passage
}

func readConversation(msgs []sdk.Message) conversation {
	var c conversation
	seen := map[string]bool{}
	for _, m := range msgs {
		ps, rest := parsePassages(m.Content)
		for _, p := range ps {
			key := p.Source + "\x00" + p.Ref + "\x00" + p.Text
			if !seen[key] {
				seen[key] = true
				c.passages = append(c.passages, p)
			}
		}
		if m.Role == sdk.RoleUser && rest != "" {
			c.question = rest
		}
	}
	return c
}

// scored is a passage with its similarity to the question.
type scored struct {
	Passage
	score float64
}

// minScore is the cosine similarity below which a passage is not taken to
// match. Unrelated texts score around 0 with a spread of about
// 1/sqrt(Dimension) ≈ 0.05 from hash collisions; shared words lift a pair
// well above it.
const minScore = 0.15

// rank orders the passages by lexical similarity to the question and keeps
// up to n that match.
func rank(question string, passages []Passage, n int) []scored {
	q := Embed(question)
	var out []scored
	for _, p := range passages {
		if s := Cosine(q, Embed(p.Text)); s >= minScore {
			out = append(out, scored{p, s})
		}
	}
	slices.SortStableFunc(out, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	return out[:min(len(out), n)]
}

// maxQuote is the longest quote, in characters; longer passages are cut to
// the sentences that best match the question.
const maxQuote = 320

var sentenceEnd = regexp.MustCompile(`[.!?]+\s+|\n+`)

// quote returns the part of text worth quoting for the question.
func quote(text, question string) string {
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) <= maxQuote {
		return text
	}
	// Split into sentences, keeping their ends.
	var sentences []string
	last := 0
	for _, loc := range sentenceEnd.FindAllStringIndex(text, -1) {
		sentences = append(sentences, strings.TrimSpace(text[last:loc[1]]))
		last = loc[1]
	}
	if last < len(text) {
		sentences = append(sentences, strings.TrimSpace(text[last:]))
	}
	q := Embed(question)
	best, bestScore := 0, -2.0
	for i, s := range sentences {
		if sc := Cosine(q, Embed(s)); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	// Grow around the best sentence while it fits.
	from, to := best, best+1
	length := func(a, b int) int { return utf8.RuneCountInString(strings.Join(sentences[a:b], " ")) }
	for {
		grew := false
		if to < len(sentences) && length(from, to+1) <= maxQuote {
			to, grew = to+1, true
		}
		if from > 0 && length(from-1, to) <= maxQuote {
			from, grew = from-1, true
		}
		if !grew {
			break
		}
	}
	out, cut := strings.Join(sentences[from:to], " "), false
	if r := []rune(out); len(r) > maxQuote {
		// One sentence longer than a quote.
		out, cut = strings.TrimSpace(string(r[:maxQuote])), true
	}
	if from > 0 {
		out = "… " + out
	}
	if cut || to < len(sentences) {
		out += " …"
	}
	return out
}

const (
	noModel = "No language model is configured, so I can only quote what you wrote, not answer in my own words."
	advice  = "To get written answers, an administrator can enable a model provider " +
		"(OpenAI, Anthropic, xAI, OpenRouter or Ollama) in Consilium's config."
)

// answer writes the retrieval-only reply in Markdown: the best passages as
// quotes, each followed by its source.
func answer(c conversation, maxPassages int) string {
	var b strings.Builder
	b.WriteString(noModel + "\n\n")
	best := rank(c.question, c.passages, maxPassages)
	switch {
	case c.question == "":
		b.WriteString("I found no question to look up.\n\n")
	case len(c.passages) == 0:
		b.WriteString("No passages from your notes or documents came with this question, so I have nothing to quote.\n\n")
	case len(best) == 0:
		b.WriteString("None of the passages I was given match your question closely enough to quote.\n\n")
	default:
		if len(best) == 1 {
			b.WriteString("This passage matches your question best:\n\n")
		} else {
			fmt.Fprintf(&b, "These %d passages match your question best:\n\n", len(best))
		}
		for _, p := range best {
			for _, line := range strings.Split(quote(p.Text, c.question), "\n") {
				b.WriteString("> " + line + "\n")
			}
			b.WriteString("\n— " + cmp.Or(p.Source, "(no source given)"))
			if p.Ref != "" {
				b.WriteString(" (" + p.Ref + ")")
			}
			b.WriteString("\n\n")
		}
	}
	b.WriteString(advice)
	return b.String()
}
