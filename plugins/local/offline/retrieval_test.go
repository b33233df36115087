package offline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
)

var notes = []Passage{
	{Source: "Weekly plan › Groceries", Ref: "note:11#b2", Text: "Buy milk, eggs and bread at the grocery store on the way home."},
	{Source: "Health", Ref: "note:12#b1", Text: "Dentist appointment moved to Friday at 3pm; bring the insurance card."},
	{Source: "Work › Q3", Ref: "note:13#b4", Text: "The quarterly report for the board is due on Monday."},
	{Source: "Family", Text: "Call mom on Sunday about the summer holiday plans."},
}

func contextMessage(ps ...Passage) sdk.Message {
	var b strings.Builder
	b.WriteString("Passages from the user's notes:\n")
	for _, p := range ps {
		b.WriteString(FormatPassage(p) + "\n")
	}
	return sdk.Message{Role: sdk.RoleSystem, Content: b.String()}
}

func chat(t *testing.T, req sdk.ChatRequest) (*sdk.ChatResponse, string) {
	t.Helper()
	var streamed strings.Builder
	resp, err := (&Plugin{}).Chat(context.Background(), &req, sdk.ChatStreamFunc(func(ev *sdk.ChatEvent) error {
		streamed.WriteString(ev.Text)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return resp, streamed.String()
}

func TestChatQuotesBestPassages(t *testing.T) {
	t.Parallel()
	resp, streamed := chat(t, sdk.ChatRequest{Stream: true, Messages: []sdk.Message{
		{Role: sdk.RoleSystem, Content: "You are a planning assistant."},
		contextMessage(notes...),
		{Role: sdk.RoleUser, Content: "When is my dentist appointment?"},
	}})
	got := resp.Message.Content
	if streamed != got {
		t.Errorf("streamed text differs from the answer:\n%s\n---\n%s", streamed, got)
	}
	if resp.Message.Role != sdk.RoleAssistant || resp.Model != ModelRetrieval || resp.StopReason != "stop" {
		t.Errorf("response %+v", resp)
	}
	for _, want := range []string{"No language model is configured",
		"> Dentist appointment moved to Friday at 3pm; bring the insurance card.", "— Health (note:12#b1)"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"grocery", "quarterly", "Call mom"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("answer quotes an unrelated passage (%q):\n%s", unwanted, got)
		}
	}
}

func TestChatRanksPassages(t *testing.T) {
	t.Parallel()
	resp, _ := chat(t, sdk.ChatRequest{Messages: []sdk.Message{contextMessage(notes...),
		{Role: sdk.RoleUser, Content: "what should I buy at the grocery store, milk?"},
		// Passages may also come back from a tool, after the question.
		{Role: sdk.RoleTool, ToolCallID: "1", Content: FormatPassage(Passage{Source: "Shopping list", Text: "Milk (oat milk if they have it) & coffee <decaf>."})},
	}})
	got := resp.Message.Content
	groceries, shopping := strings.Index(got, "Weekly plan › Groceries"), strings.Index(got, "— Shopping list")
	if groceries < 0 || shopping < 0 || groceries > shopping {
		t.Errorf("want the grocery note first, then the shopping list:\n%s", got)
	}
	if !strings.Contains(got, "> Milk (oat milk if they have it) & coffee <decaf>.") {
		t.Errorf("escaped text not restored:\n%s", got)
	}
	if !strings.Contains(got, "These 2 passages") {
		t.Errorf("answer:\n%s", got)
	}
}

func TestChatWithoutMatches(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		msgs []sdk.Message
		want string
	}{
		"no passages":  {[]sdk.Message{{Role: sdk.RoleUser, Content: "Say hello."}}, "nothing to quote"},
		"none match":   {[]sdk.Message{contextMessage(notes...), {Role: sdk.RoleUser, Content: "How do I renew my passport?"}}, "None of the passages"},
		"no question":  {[]sdk.Message{contextMessage(notes...)}, "no question"},
		"max passages": {[]sdk.Message{contextMessage(notes...), {Role: sdk.RoleUser, Content: "milk"}}, "This passage matches"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, _ := chat(t, sdk.ChatRequest{Messages: tt.msgs})
			if !strings.Contains(resp.Message.Content, tt.want) || !strings.Contains(resp.Message.Content, "No language model is configured") {
				t.Errorf("answer:\n%s", resp.Message.Content)
			}
			if strings.Contains(resp.Message.Content, "> ") != (name == "max passages") {
				t.Errorf("quotes or not:\n%s", resp.Message.Content)
			}
		})
	}
}

func TestChatUnknownModel(t *testing.T) {
	t.Parallel()
	_, err := (&Plugin{}).Chat(context.Background(), &sdk.ChatRequest{Model: "gpt-4o", Messages: []sdk.Message{{Role: sdk.RoleUser, Content: "hi"}}}, nil)
	if sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Errorf("%v, want not_found", err)
	}
}

func TestQuoteLongPassage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("This sentence is filler about nothing in particular. ", 8) +
		"The plumber comes on Tuesday at nine to fix the kitchen sink. " +
		strings.Repeat("More filler that says nothing much at all. ", 8)
	q := quote(long, "when does the plumber come?")
	if !strings.Contains(q, "The plumber comes on Tuesday at nine to fix the kitchen sink.") {
		t.Errorf("quote misses the matching sentence: %q", q)
	}
	if n := len([]rune(q)); n > maxQuote+4 {
		t.Errorf("quote is %d characters", n)
	}
	if !strings.HasPrefix(q, "… ") || !strings.HasSuffix(q, " …") {
		t.Errorf("quote does not mark its cuts: %q", q)
	}
	if short := "Short note."; quote(short, "x") != short {
		t.Error("a short passage is not quoted whole")
	}
}

func TestParsePassages(t *testing.T) {
	t.Parallel()
	in := "Context:\n" + FormatPassage(Passage{Source: `A "quoted" title`, Ref: "r1", Text: "x < y & z"}) +
		"\n<passage source=\"B\">\n\n</passage>\nQuestion?"
	ps, rest := parsePassages(in)
	if len(ps) != 1 || ps[0] != (Passage{Source: `A "quoted" title`, Ref: "r1", Text: "x < y & z"}) {
		t.Errorf("passages %+v", ps)
	}
	if rest != "Context:\n\n\nQuestion?" {
		t.Errorf("rest %q", rest)
	}

	// Prose that names the markup is text, not the start of a passage;
	// a closing tag with nothing open is text too.
	in = "Passages are given below as <passage> elements.\n\n" + FormatPassage(Passage{Source: "[1] House", Ref: "note:1", Text: "The plumber comes."}) +
		"\n" + FormatPassage(Passage{Source: "[2] Car", Text: "Tyres in May."}) + "\nA stray </passage> stays."
	ps, rest = parsePassages(in)
	want := []Passage{{Source: "[1] House", Ref: "note:1", Text: "The plumber comes."}, {Source: "[2] Car", Text: "Tyres in May."}}
	if !slices.Equal(ps, want) {
		t.Errorf("passages %+v, want %+v", ps, want)
	}
	if rest != "Passages are given below as <passage> elements.\n\n\n\nA stray </passage> stays." {
		t.Errorf("rest %q", rest)
	}
}

// The host's answer request (core/ai.Query) names the markup in its system
// prompt before the passages, and each passage's ref holds a random note
// id. The answer quotes the passage under its own source, whatever the id:
// a parser that took the prompt's "<passage>" for a tag quoted the prompt,
// with no source, and missed the passage when the id's characters pulled
// the similarity under minScore.
func TestChatReadsTheHostsAnswerRequest(t *testing.T) {
	t.Parallel()
	const prompt = "You answer the user's question from passages of their own notes and documents, " +
		"given below as <passage> elements numbered [1], [2], ... in their source attribute.\n" +
		"Use only what the passages say. Cite every passage you use by its number in square brackets, like [2]. " +
		"If the passages do not answer the question, say so plainly."
	for i := range 200 {
		ref := fmt.Sprintf("note:%08x-%04x-4%03x-a%03x-%012x#h,p1,t1", rand.Uint32(), rand.IntN(1<<16), rand.IntN(1<<12), rand.IntN(1<<12), rand.Int64N(1<<48))
		plumbing := Passage{Source: "[1] House › Plumbing", Ref: ref,
			Text: "Plumbing\nThe plumber Kowalczyk comes on Thursday at eight to fix the boiler.\nbuy a new radiator key"}
		resp, _ := chat(t, sdk.ChatRequest{Messages: []sdk.Message{
			{Role: sdk.RoleSystem, Content: prompt + "\n\n" + FormatPassage(plumbing) + "\n\n" +
				FormatPassage(Passage{Source: "[2] House", Ref: "note:x#intro", Text: "Things to fix before winter."})},
			{Role: sdk.RoleUser, Content: "When does Kowalczyk come for the boiler?"},
		}})
		got := resp.Message.Content
		want := "This passage matches your question best:\n\n> Plumbing\n> The plumber Kowalczyk comes on Thursday at eight to fix the boiler.\n" +
			"> buy a new radiator key\n\n— [1] House › Plumbing (" + ref + ")\n\n"
		if !strings.Contains(got, want) || strings.Contains(got, "say so plainly") {
			t.Fatalf("attempt %d, ref %s: answer:\n%s", i, ref, got)
		}
	}
}
