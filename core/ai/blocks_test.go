package ai

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote"
)

// shape writes blocks compactly: "h1:Title", "p:text", "[ ]:task",
// "[x]:done", "-:bullet", "1.:item".
func shape(blocks []Block) []string {
	var out []string
	for _, b := range blocks {
		switch b.Type {
		case "heading":
			out = append(out, fmt.Sprintf("h%d:%s", b.Level(), b.PlainText()))
		case "paragraph":
			out = append(out, "p:"+b.PlainText())
		case "checkListItem":
			box := "[ ]"
			if b.Checked() {
				box = "[x]"
			}
			out = append(out, box+":"+b.PlainText())
		case "bulletListItem":
			out = append(out, "-:"+b.PlainText())
		case "numberedListItem":
			out = append(out, "1.:"+b.PlainText())
		default:
			out = append(out, b.Type+":"+b.PlainText())
		}
	}
	return out
}

func TestTextToBlocks(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		text string
		want []string
	}{
		"empty":            {"", nil},
		"only blank lines": {"\n \n\t\n", nil},
		"one paragraph": {"Dentist on Friday at 3pm.",
			[]string{"p:Dentist on Friday at 3pm."}},
		"lines of a paragraph stay together, blank lines separate": {
			"Met Anna for coffee.\nShe moves to Lyon in May.\n\nCall the bank.",
			[]string{"p:Met Anna for coffee.\nShe moves to Lyon in May.", "p:Call the bank."}},
		"brackets": {"[ ] buy milk\n[x] call mom\n[X] pay rent\n[] water plants",
			[]string{"[ ]:buy milk", "[x]:call mom", "[x]:pay rent", "[ ]:water plants"}},
		"markdown task list": {"- [ ] pack bags\n- [x] book train\n* [ ] charge phone",
			[]string{"[ ]:pack bags", "[x]:book train", "[ ]:charge phone"}},
		"task list as OCR reads it": {"—[] book the dentist\n–[x] pay rent\n• [ ] water plants",
			[]string{"[ ]:book the dentist", "[x]:pay rent", "[ ]:water plants"}},
		"ballot boxes": {"☐ renew passport\n☑ send invoice\n☒ cancel gym",
			[]string{"[ ]:renew passport", "[x]:send invoice", "[x]:cancel gym"}},
		"TODO lines": {"TODO buy stamps\nTODO: fix the bike\ntodo - email Sam",
			[]string{"[ ]:buy stamps", "[ ]:fix the bike", "[ ]:email Sam"}},
		"a sentence about todos is not a task": {"Todo lists help me think.",
			[]string{"p:Todo lists help me think."}},
		"title, then tasks": {"Weekly plan\n[ ] buy milk\n[x] call mom\nDentist on Friday at 3pm",
			[]string{"h1:Weekly plan", "[ ]:buy milk", "[x]:call mom", "p:Dentist on Friday at 3pm"}},
		"title standing alone": {"Trip to Lisbon\n\nFlights are booked.\nHotel near the river.",
			[]string{"h1:Trip to Lisbon", "p:Flights are booked.\nHotel near the river."}},
		"a sentence first is no title": {"We should leave early.\n\nThe train is at 8.",
			[]string{"p:We should leave early.", "p:The train is at 8."}},
		"heading with a colon heads a list": {"Notes\n\nGroceries:\n- eggs\n- bread\n\nCalls:\n[ ] plumber",
			[]string{"h1:Notes", "h2:Groceries", "-:eggs", "-:bread", "h2:Calls", "[ ]:plumber"}},
		"capitals": {"MONDAY\n\nGym at seven.",
			[]string{"h1:MONDAY", "p:Gym at seven."}},
		"markdown headings": {"# Plan\n## Work\nShip the release.",
			[]string{"h1:Plan", "h2:Work", "p:Ship the release."}},
		"numbered list": {"1. wake up\n2) stretch",
			[]string{"1.:wake up", "1.:stretch"}},
		"long line is not a heading": {"This line is much too long to be a heading because it goes on and on\n\nmore",
			[]string{"p:This line is much too long to be a heading because it goes on and on", "p:more"}},
		"CRLF and tabs": {"[ ]\tbuy milk\r\n[x] done it\r\n",
			[]string{"[ ]:buy milk", "[x]:done it"}},
		"indented OCR lines": {"   [ ] water plants  \n   call dad",
			[]string{"[ ]:water plants", "p:call dad"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := TextToBlocks(tc.text)
			require.Equal(t, tc.want, shape(got))
			// Whatever comes out is a document the notes service accepts,
			// with its tasks in the task index.
			doc, err := blocknote.Parse(MarshalBlocks(got), nil)
			require.NoError(t, err)
			tasks := 0
			doc.Walk(func(b *blocknote.Block, _ int) bool {
				if b.IsTask() {
					tasks++
				}
				return true
			})
			require.Equal(t, strings.Count(strings.Join(tc.want, "\n"), "[ ]:")+strings.Count(strings.Join(tc.want, "\n"), "[x]:"), tasks)
		})
	}
}

func TestMarshalBlocksShape(t *testing.T) {
	t.Parallel()
	raw := MarshalBlocks(TextToBlocks("[x] call mom"))
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(raw, &blocks))
	require.Len(t, blocks, 1)
	b := blocks[0]
	require.Equal(t, "checkListItem", b["type"])
	require.Equal(t, true, b["props"].(map[string]any)["checked"])
	require.NotEmpty(t, b["id"])
	require.Equal(t, []any{map[string]any{"type": "text", "text": "call mom", "styles": map[string]any{}}}, b["content"])
	require.Equal(t, []any{}, b["children"])
	require.JSONEq(t, `[]`, string(MarshalBlocks(nil)))
}

func TestCitations(t *testing.T) {
	t.Parallel()
	require.Equal(t, []int{2, 1}, Citations("As [2] says, and [1], and again [2]; [7] is not a passage, [0] neither.", 3))
	require.Equal(t, []int{}, Citations("no citations", 3))
}
