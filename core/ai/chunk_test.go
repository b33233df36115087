package ai

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote"
)

func block(id, typ, text string, props map[string]any, children ...map[string]any) map[string]any {
	b := map[string]any{"id": id, "type": typ, "props": props, "content": []any{map[string]any{"type": "text", "text": text, "styles": map[string]any{}}}, "children": children}
	if props == nil {
		b["props"] = map[string]any{}
	}
	if text == "" {
		b["content"] = []any{}
	}
	return b
}

func parse(t *testing.T, blocks ...map[string]any) *blocknote.Document {
	t.Helper()
	raw, err := json.Marshal(blocks)
	require.NoError(t, err)
	doc, err := blocknote.Parse(raw, nil)
	require.NoError(t, err)
	return doc
}

func TestChunkNoteFollowsBlocks(t *testing.T) {
	t.Parallel()
	doc := parse(t,
		block("b1", "paragraph", "Intro line.", nil),
		block("h1", "heading", "Trip", map[string]any{"level": 1}),
		block("b2", "paragraph", "Flights booked.", nil),
		block("h2", "heading", "Packing", map[string]any{"level": 2}),
		block("t1", "checkListItem", "sunscreen", map[string]any{"checked": false}),
		block("l1", "bulletListItem", "passport", nil, block("l2", "bulletListItem", "visa copy", nil)),
		block("img", "image", "", map[string]any{"url": "https://x/y.png"}),
		block("h3", "heading", "Budget", map[string]any{"level": 2}),
		block("b3", "paragraph", "About 900 euros.", nil),
	)
	chunks := ChunkNote("Lisbon", doc)
	type c struct {
		heading string
		ids     []string
		text    string
	}
	var got []c
	for i, ch := range chunks {
		require.Equal(t, i, ch.Position)
		got = append(got, c{ch.Heading, ch.BlockIDs, ch.Text})
	}
	require.Equal(t, []c{
		{"", []string{"b1"}, "Intro line."},
		{"Trip", []string{"h1", "b2"}, "Trip\nFlights booked."},
		{"Trip › Packing", []string{"h2", "t1", "l1", "l2"}, "Packing\nsunscreen\npassport\nvisa copy"},
		{"Trip › Budget", []string{"h3", "b3"}, "Budget\nAbout 900 euros."},
	}, got)
	require.Equal(t, "Lisbon › Trip › Packing\nPacking\nsunscreen\npassport\nvisa copy",
		EmbedText("Lisbon", chunks[2].Heading, chunks[2].Text))
}

func TestChunkNoteSizes(t *testing.T) {
	t.Parallel()
	t.Run("blocks pack up to the target", func(t *testing.T) {
		t.Parallel()
		var blocks []map[string]any
		for i := range 40 {
			blocks = append(blocks, block("p"+string(rune('a'+i%26))+string(rune('a'+i/26)), "paragraph", strings.Repeat("word ", 20)+"end.", nil))
		}
		chunks := ChunkNote("t", parse(t, blocks...))
		require.Greater(t, len(chunks), 1)
		seen := 0
		for _, c := range chunks {
			require.LessOrEqual(t, utf8.RuneCountInString(c.Text), TargetChunkChars)
			seen += len(c.BlockIDs)
		}
		require.Equal(t, 40, seen, "every block is in exactly one chunk")
	})
	t.Run("a long block is cut between sentences and keeps its id", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("This sentence is about forty characters. ", 100)
		chunks := ChunkNote("t", parse(t, block("big", "paragraph", long, nil)))
		require.Greater(t, len(chunks), 2)
		var joined []string
		for _, c := range chunks {
			require.Equal(t, []string{"big"}, c.BlockIDs)
			require.LessOrEqual(t, utf8.RuneCountInString(c.Text), MaxChunkChars)
			require.True(t, strings.HasSuffix(c.Text, "characters."), "cut at a sentence end: %q", c.Text[max(0, len(c.Text)-20):])
			joined = append(joined, c.Text)
		}
		require.Equal(t, strings.TrimSpace(long), strings.Join(joined, " "))
	})
	t.Run("a word longer than a chunk is cut anyway", func(t *testing.T) {
		t.Parallel()
		chunks := ChunkNote("t", parse(t, block("w", "paragraph", strings.Repeat("x", 4000), nil)))
		require.Len(t, chunks, 3)
	})
	t.Run("title only", func(t *testing.T) {
		t.Parallel()
		chunks := ChunkNote("  Ideas  ", blocknote.Empty())
		require.Equal(t, []Chunk{{Text: "Ideas", BlockIDs: []string{}}}, chunks)
		require.Empty(t, ChunkNote("", blocknote.Empty()))
	})
}

func TestChunkSections(t *testing.T) {
	t.Parallel()
	chunks := ChunkSections([]Section{
		{Heading: "", Paragraphs: []string{"Preface.", "  "}},
		{Heading: "page 1", Paragraphs: []string{"One.", "Two."}},
		{Heading: "page 2", Paragraphs: []string{"Three."}},
	})
	require.Len(t, chunks, 3)
	require.Equal(t, "page 1", chunks[1].Heading)
	require.Equal(t, "One.\nTwo.", chunks[1].Text)
	require.Empty(t, chunks[1].BlockIDs)
}
