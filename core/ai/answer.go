package ai

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/sdk"
)

// QueryParams is a RAG query: a search, and optionally an answer written
// from the passages found.
type QueryParams struct {
	SearchParams
	Answer bool
}

// Answer is what the chat model wrote from the passages.
type Answer struct {
	Text     string
	Provider string
	Model    string
	// Citations are the 1-based indexes of the passages the text cites as
	// [n], in order of first citation.
	Citations []int
}

// QueryResult is the passages, and the answer when one was asked for.
type QueryResult struct {
	Passages []Passage
	Answer   *Answer
	// Warnings say what was left out, such as vector search while the
	// embedding model is unavailable.
	Warnings []string
}

const answerPrompt = `You answer the user's question from passages of their own notes and documents, given below as <passage> elements numbered [1], [2], ... in their source attribute.
Use only what the passages say. Cite every passage you use by its number in square brackets, like [2]. If the passages do not answer the question, say so plainly.`

// Query searches and, when asked, has the chat model answer from the
// passages found.
func (s *Service) Query(ctx context.Context, userID uuid.UUID, p *QueryParams) (*QueryResult, error) {
	p.Ranking = RankFused
	passages, warning, err := s.Search(ctx, userID, &p.SearchParams)
	if err != nil {
		return nil, err
	}
	res := &QueryResult{Passages: passages, Warnings: []string{}}
	if warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	if !p.Answer {
		return res, nil
	}
	c, err := s.llm(s.providers.Chat, "answers")
	if err != nil {
		return nil, userError("Answering", err)
	}
	var ctxText strings.Builder
	for i, ps := range passages {
		if i > 0 {
			ctxText.WriteString("\n\n")
		}
		ctxText.WriteString(FormatPassage(i+1, ps))
	}
	if len(passages) == 0 {
		ctxText.WriteString("(No passages of the user's notes or documents match the question.)")
	}
	resp, err := c.Chat(ctx, &sdk.ChatRequest{
		Model: s.cfg.ChatModel,
		Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: answerPrompt + "\n\n" + ctxText.String()},
			{Role: sdk.RoleUser, Content: p.Query},
		},
	}, nil)
	if err != nil {
		return nil, userError("Answering", err)
	}
	res.Answer = &Answer{Text: resp.Message.Content, Provider: s.providers.Chat, Model: resp.Model,
		Citations: Citations(resp.Message.Content, len(passages))}
	return res, nil
}

// FormatPassage writes a passage the way model plugins read them (see
// plugins/local/README.md): source is "[i] Title › Heading", ref the note
// and its blocks or the document.
func FormatPassage(index int, p Passage) string {
	source := fmt.Sprintf("[%d] %s", index, p.Title)
	if p.Heading != "" {
		source += " › " + p.Heading
	}
	ref := p.SourceType + ":" + p.SourceID.String()
	if len(p.BlockIDs) > 0 {
		ref += "#" + strings.Join(p.BlockIDs, ",")
	}
	return fmt.Sprintf("<passage source=\"%s\" ref=\"%s\">\n%s\n</passage>",
		html.EscapeString(source), html.EscapeString(ref), html.EscapeString(p.Text))
}

var citationRE = regexp.MustCompile(`\[(\d{1,3})\]`)

// Citations returns the passage numbers cited as [n] in text, each once, in
// order, ignoring numbers beyond the passages given.
func Citations(text string, passages int) []int {
	out := []int{}
	for _, m := range citationRE.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		if n >= 1 && n <= passages && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
