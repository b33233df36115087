// Package blocknotetest generates realistic BlockNote documents for tests,
// fuzzing seeds and benchmarks: headings, paragraphs with styled text and
// links, nested bullet lists, checklists and Consilium task blocks, in the
// editor's output form.
package blocknotetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Options shape a generated document.
type Options struct {
	// Blocks is the total number of blocks, at all depths.
	Blocks int
	// Tasks is how many of them are task blocks (checkListItem or task).
	Tasks int
	// Seed makes the document reproducible; ids are derived from it.
	Seed uint64
	// DueFrom and DueDays spread due dates over DueDays days from DueFrom
	// (YYYY-MM-DD); zero DueDays gives no due dates.
	DueFrom string
	DueDays int
}

var words = strings.Fields(`plan review draft call email budget team launch report meeting design
 notes follow up research write read quarterly weekly sprint goal habit gym doctor groceries
 invoice contract client feedback release roadmap interview hire onboard refactor deploy test
 backup travel book ticket visa birthday gift garden paint fix update migrate archive clean`)

// Document returns a generated document as JSON.
func Document(o Options) []byte {
	b, _ := json.Marshal(Blocks(o))
	return b
}

// Blocks returns a generated document as Go values.
func Blocks(o Options) []map[string]any {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	g := &gen{r: r, o: o, seed: o.Seed}
	var doc []map[string]any
	// Spread task blocks evenly through the document; some in nested lists.
	taskEvery := 0
	if o.Tasks > 0 {
		taskEvery = max(1, o.Blocks/o.Tasks)
	}
	for g.made < o.Blocks {
		i := g.made
		switch {
		case taskEvery > 0 && g.tasks < o.Tasks && i%taskEvery == taskEvery-1:
			t := g.task()
			// One task in four gets a subtask, when the budget allows.
			if g.tasks < o.Tasks && g.made < o.Blocks && r.IntN(4) == 0 {
				t["children"] = []map[string]any{g.task()}
			}
			doc = append(doc, t)
		case i%25 == 0:
			doc = append(doc, g.block("heading", map[string]any{"level": 1 + r.IntN(3), "isToggleable": false}, g.inline(3)))
		case i%7 == 3 && g.made+2 <= o.Blocks:
			parent := g.block("bulletListItem", nil, g.inline(8))
			parent["children"] = []map[string]any{g.block("bulletListItem", nil, g.inline(10))}
			doc = append(doc, parent)
		default:
			doc = append(doc, g.block("paragraph", nil, g.inline(25+r.IntN(20))))
		}
	}
	return doc
}

type gen struct {
	r     *rand.Rand
	o     Options
	seed  uint64
	made  int
	tasks int
}

func (g *gen) id() string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(g.seed), g.made)
}

func defaultProps(extra map[string]any) map[string]any {
	p := map[string]any{"backgroundColor": "default", "textColor": "default", "textAlignment": "left"}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func (g *gen) block(typ string, props map[string]any, content []map[string]any) map[string]any {
	b := map[string]any{"id": g.id(), "type": typ, "props": defaultProps(props), "content": content, "children": []map[string]any{}}
	g.made++
	return b
}

func (g *gen) sentence(n int) string {
	var s strings.Builder
	for i := range n {
		if i > 0 {
			s.WriteByte(' ')
		}
		s.WriteString(words[g.r.IntN(len(words))])
	}
	return s.String()
}

func (g *gen) inline(n int) []map[string]any {
	text := func(s string, styles map[string]any) map[string]any {
		return map[string]any{"type": "text", "text": s, "styles": styles}
	}
	if n < 6 || g.r.IntN(3) != 0 {
		return []map[string]any{text(g.sentence(n), map[string]any{})}
	}
	a := n / 3
	return []map[string]any{
		text(g.sentence(a)+" ", map[string]any{}),
		text(g.sentence(2), map[string]any{"bold": true}),
		text(" "+g.sentence(a)+" ", map[string]any{}),
		{"type": "link", "href": "https://example.com/" + words[g.r.IntN(len(words))], "content": []map[string]any{text(g.sentence(2), map[string]any{})}},
		text(" "+g.sentence(n-2*a-4)+".", map[string]any{}),
	}
}

var statuses = []string{"not_started", "not_started", "in_progress", "completed", "deferred"}
var priorities = []string{"", "high", "medium", "low"}

// task makes a task block: two in three are Consilium task blocks with
// props, the rest checklists.
func (g *gen) task() map[string]any {
	g.tasks++
	if g.r.IntN(3) == 0 {
		return g.block("checkListItem", map[string]any{"checked": g.r.IntN(3) == 0}, g.inline(4+g.r.IntN(6)))
	}
	props := map[string]any{
		"status": statuses[g.r.IntN(len(statuses))], "priority": priorities[g.r.IntN(len(priorities))],
		"dueDate": "", "dueTime": "", "description": "", "source": "note", "sourceReference": "",
	}
	if g.o.DueDays > 0 && g.r.IntN(5) != 0 {
		props["dueDate"] = addDays(g.o.DueFrom, g.r.IntN(g.o.DueDays))
		if g.r.IntN(3) == 0 {
			props["dueTime"] = fmt.Sprintf("%02d:%02d", 8+g.r.IntN(10), 15*g.r.IntN(4))
		}
	}
	if g.r.IntN(2) == 0 {
		props["size"] = 1 + g.r.IntN(8)
	}
	if g.r.IntN(4) == 0 {
		props["description"] = g.sentence(12)
	}
	return g.block("task", props, g.inline(4+g.r.IntN(6)))
}

// addDays returns the date (YYYY-MM-DD) n days after from.
func addDays(from string, n int) string {
	t, err := time.Parse(time.DateOnly, from)
	if err != nil {
		panic(fmt.Sprintf("blocknotetest: DueFrom %q: %v", from, err))
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}
