package blocknote_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
)

// ownDocuments are the documents written for this project, in testdata/:
// the editor's output form, so the parser's tests run everywhere.
var ownDocuments = []string{"tasks-document.json", "checklist-flat.json", "checklist-tree.json", "nested-lists.json", "editor-document.json"}

// readFixture reads one of the project's own documents from testdata/ or,
// for any other name, a real BlockNote document from the shared fixtures
// (skipping the test when that folder is absent).
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if errors.Is(err, fs.ErrNotExist) {
		return sharedfixtures.Read(t, "blocknote", name)
	}
	require.NoError(t, err)
	return b
}

// sharedEditorFixtures are the real BlockNote documents of the shared
// fixtures as the editor emits them (full blocks); the test skips when the
// folder is absent.
func sharedEditorFixtures(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(sharedfixtures.Dir(t, "blocknote"), "*.json"))
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if base := filepath.Base(n); base != "partial-blocks-default-blocks-example.json" && base != "schema-specs-config.json" {
			out = append(out, base)
		}
	}
	require.Greater(t, len(out), 15)
	return out
}

func parse(t testing.TB, data []byte) *blocknote.Document {
	t.Helper()
	d, err := blocknote.Parse(data, nil)
	require.NoError(t, err)
	return d
}

func marshal(t testing.TB, d *blocknote.Document) []byte {
	t.Helper()
	out, err := d.MarshalJSON()
	require.NoError(t, err)
	require.True(t, json.Valid(out), "output is valid JSON: %s", out)
	return out
}

func requireJSONEqual(t testing.TB, want, got []byte) {
	t.Helper()
	var a, b any
	require.NoError(t, json.Unmarshal(want, &a))
	require.NoError(t, json.Unmarshal(got, &b))
	require.Equal(t, a, b)
}

func TestParseKeepsEditorDocumentsVerbatim(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, name string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := readFixture(t, name)
			d := parse(t, in)
			require.False(t, d.Normalized(), "an editor document needs no normalising")
			out := marshal(t, d)
			requireJSONEqual(t, in, out)
			// A second pass is byte-stable.
			require.Equal(t, string(out), string(marshal(t, parse(t, out))))
		})
	}
	for _, name := range ownDocuments {
		check(t, name)
	}
	t.Run("shared", func(t *testing.T) {
		t.Parallel()
		for _, name := range sharedEditorFixtures(t) {
			check(t, name)
		}
	})
}

func TestPartialBlocksAreNormalised(t *testing.T) {
	t.Parallel()
	d := parse(t, readFixture(t, "partial-blocks-default-blocks-example.json"))
	require.True(t, d.Normalized())
	out := marshal(t, d)
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(out, &blocks))
	ids := map[string]bool{}
	for i, b := range blocks {
		id, _ := b["id"].(string)
		require.NotEmpty(t, id, "block %d got an id", i)
		require.False(t, ids[id], "ids are unique")
		ids[id] = true
		require.Equal(t, []any{}, b["children"], "block %d got children", i)
	}
	require.Equal(t, "toggle-heading", blocks[5]["id"], "given ids are kept")
	require.Equal(t, []any{map[string]any{"type": "text", "text": "Welcome to this demo!", "styles": map[string]any{}}}, blocks[0]["content"])
	require.Equal(t, []any{}, blocks[1]["content"], "missing inline content becomes []")
	link := blocks[len(blocks)-1]["content"].([]any)[2].(map[string]any)
	require.Equal(t, []any{map[string]any{"type": "text", "text": "Link", "styles": map[string]any{}}}, link["content"], "string link content becomes text items")
	require.Equal(t, "https://www.blocknotejs.org", link["href"])
	require.Equal(t, "Table Cell", blocks[12]["content"].(map[string]any)["rows"].([]any)[0].(map[string]any)["cells"].([]any)[0], "tables are kept as sent")
	_, hasContent := blocks[14]["content"]
	require.False(t, hasContent, "a block without content keeps none")

	tasks := d.Tasks()
	require.Len(t, tasks, 1)
	require.Equal(t, "Check List Item", tasks[0].Title)
	require.Equal(t, blocknote.StatusNotStarted, tasks[0].Status)

	// The normalised output is stable.
	again := parse(t, out)
	require.False(t, again.Normalized())
	require.Equal(t, string(out), string(marshal(t, again)))
}

// TestOwnPartialDocumentIsNormalised: the project's own partial document
// (string content, missing ids, props and children) gets the editor's full
// form, as BlockNote's example in TestPartialBlocksAreNormalised does.
func TestOwnPartialDocumentIsNormalised(t *testing.T) {
	t.Parallel()
	in := readFixture(t, "partial-document.json")
	d := parse(t, in)
	require.True(t, d.Normalized())
	out := marshal(t, d)
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(out, &blocks))
	require.Len(t, blocks, 9)
	ids := map[string]bool{}
	for i, b := range blocks {
		id, _ := b["id"].(string)
		require.NotEmpty(t, id, "block %d got an id", i)
		require.False(t, ids[id], "ids are unique")
		ids[id] = true
		require.Equal(t, []any{}, b["children"], "block %d got children", i)
	}
	require.Equal(t, "kept-id", blocks[3]["id"], "given ids are kept")
	require.Equal(t, []any{map[string]any{"type": "text", "text": "Reading list", "styles": map[string]any{}}}, blocks[0]["content"])
	require.Equal(t, []any{}, blocks[1]["content"], "missing inline content becomes []")
	link := blocks[8]["content"].([]any)[1].(map[string]any)
	require.Equal(t, []any{map[string]any{"type": "text", "text": "the catalogue", "styles": map[string]any{}}}, link["content"], "string link content becomes text items")
	require.Equal(t, "https://example.org/catalogue", link["href"])
	require.Equal(t, "Title", blocks[6]["content"].(map[string]any)["rows"].([]any)[0].(map[string]any)["cells"].([]any)[0], "tables are kept as sent")
	_, hasContent := blocks[7]["content"]
	require.False(t, hasContent, "a block without content keeps none")

	tasks := d.Tasks()
	require.Len(t, tasks, 1)
	require.Equal(t, "Return the library book", tasks[0].Title)
	require.Equal(t, blocknote.StatusNotStarted, tasks[0].Status)

	again := parse(t, out)
	require.False(t, again.Normalized())
	require.Equal(t, string(out), string(marshal(t, again)))
}

func TestTasksAtEveryDepth(t *testing.T) {
	t.Parallel()
	type want struct{ id, title, parent string }
	cases := map[string]struct {
		tasks     []want
		completed []string
	}{
		"checklist-basic.json": {
			tasks: []want{{"1", "Unchecked item", ""}, {"2", "Checked item", ""}, {"3", "Another unchecked", ""}},
		},
		"checklist-nested.json": {
			tasks:     []want{{"1", "Parent item", ""}, {"2", "Child checked", "1"}, {"3", "Child unchecked", "1"}},
			completed: []string{"2"},
		},
		"checklist-empty-nested-from-html.json": {},
		"nested-lists-with-checklist.json":      {},
		"mixed-list-types.json":                 {},
		"all-default-blocks.json":               {},
		"complex-document.json":                 {tasks: []want{}},
		// The project's own documents, which run everywhere.
		"checklist-flat.json": {
			tasks:     []want{{"1", "Water the plants", ""}, {"2", "Pay the rent", ""}, {"3", "Call the plumber", ""}},
			completed: []string{"2"},
		},
		"checklist-tree.json": {
			tasks:     []want{{"1", "Pack for the trip", ""}, {"2", "Passport", "1"}, {"3", "Phone charger", "1"}},
			completed: []string{"2"},
		},
		"nested-lists.json":    {},
		"editor-document.json": {tasks: []want{}},
		"tasks-document.json": {
			tasks: []want{
				{"t1", "Write report", ""}, {"t1a", "Collect data", "t1"}, {"c1b", "Draft outline", "t1"},
				{"t1b1", "Find template", "c1b"}, {"c2", "Book dentist", ""}, {"t3", "Deep task", ""},
				{"c3", "Milk from shop", ""}, {"t4", "Inside custom", ""}, {"t5", "Reply to Ann", ""},
			},
			completed: []string{"t1a", "c2"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := readFixture(t, name)
			d := parse(t, in)
			got := d.Tasks()
			// Every checkListItem/task block at any depth is a task.
			var all []any
			require.NoError(t, json.Unmarshal(in, &all))
			require.Len(t, got, countTaskBlocks(all), "every task block is found")
			for i, task := range got {
				require.Equal(t, i, task.Position)
				require.NotEmpty(t, task.BlockID)
				require.Contains(t, []string{"checkListItem", "task"}, task.BlockType)
			}
			if c.tasks != nil {
				require.Len(t, got, len(c.tasks))
				for i, w := range c.tasks {
					require.Equal(t, w.id, got[i].BlockID)
					require.Equal(t, w.title, got[i].Title)
					require.Equal(t, w.parent, got[i].ParentBlockID, "parent of %s", w.id)
				}
			}
			for _, id := range c.completed {
				found := false
				for _, task := range got {
					if task.BlockID == id {
						found = true
						require.Equal(t, blocknote.StatusCompleted, task.Status)
					}
				}
				require.True(t, found, id)
			}
		})
	}
}

func countTaskBlocks(blocks []any) int {
	n := 0
	for _, b := range blocks {
		m := b.(map[string]any)
		if m["type"] == "checkListItem" || m["type"] == "task" {
			n++
		}
		if ch, ok := m["children"].([]any); ok {
			n += countTaskBlocks(ch)
		}
	}
	return n
}

func TestNestedChecklistParentsAndStatuses(t *testing.T) {
	t.Parallel()
	// nested-lists.json is the project's; the other is BlockNote's.
	for _, name := range []string{"nested-lists.json", "nested-lists-with-checklist.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := parse(t, readFixture(t, name))
			got := map[string]blocknote.Task{}
			for _, task := range d.Tasks() {
				got[task.BlockID] = task
			}
			require.Len(t, got, 5)
			require.Equal(t, "12", got["13"].ParentBlockID, "a checklist nested in a checklist is its subtask")
			require.Equal(t, "12", got["14"].ParentBlockID)
			require.Equal(t, "", got["11"].ParentBlockID)
		})
	}
}

func TestTaskBlockFields(t *testing.T) {
	t.Parallel()
	d := parse(t, readFixture(t, "tasks-document.json"))
	b := d.Block("t1")
	require.NotNil(t, b)
	f := b.TaskFields()
	size := 3.0
	require.Equal(t, &blocknote.TaskFields{
		Title: "Write report", Description: "Quarterly numbers", Status: blocknote.StatusInProgress,
		Priority: blocknote.PriorityHigh, DueDate: "2026-03-02", DueTime: "09:30", Size: &size,
		Metadata: json.RawMessage(`{"color":"blue"}`),
	}, f)
	t5 := d.Block("t5").TaskFields()
	require.Equal(t, blocknote.StatusDeferred, t5.Status)
	require.Equal(t, "email", t5.Source)
	require.Equal(t, "msg-123", t5.SourceReference)
	require.Equal(t, "5e0c1d8a-7b7e-4d53-9a55-2f1f4c1b9a10", t5.GoalID)
	require.Nil(t, t5.Size)
	require.Equal(t, blocknote.Priority(""), t5.Priority)
}

func TestPlainTextAndLinks(t *testing.T) {
	t.Parallel()
	plain := map[string][]string{
		"editor-document.json":  {"Garden journal 2026", "Soil was dry and the tomatoes need support.", "first line\nsecond line", "fmt.Println(\"hello \\\"garden\\\"\")", "Mulch", "Shop", "Inside a custom block", "Harvest log"},
		"complex-document.json": {"Main Title", "An introduction paragraph with bold and italic text.", "return \"world\";", "Feature Status", "Step three"},
		"table-with-links.json": {"Click"},
	}
	for name, want := range plain {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := parse(t, readFixture(t, name))
			text := d.PlainText()
			for _, s := range want {
				require.Contains(t, text, s)
			}
			require.Empty(t, d.LinkedNotes(), "web links are no note links")
		})
	}

	d := parse(t, readFixture(t, "tasks-document.json"))
	require.Equal(t, []uuid.UUID{uuid.MustParse("11111111-1111-4111-8111-111111111111")}, d.LinkedNotes())
	require.Contains(t, d.PlainText(), "See the roadmap and the site.")

	doc := `[{"id":"a","type":"paragraph","props":{},"content":[{"type":"link","href":"note://22222222-2222-4222-8222-222222222222","content":[{"type":"text","text":"x","styles":{}}]},{"type":"link","href":"note://not-a-uuid","content":[]}],"children":[
	  {"id":"b","type":"table","props":{},"content":{"type":"tableContent","rows":[{"cells":[{"type":"tableCell","props":{},"content":[{"type":"link","href":"note://33333333-3333-4333-8333-333333333333","content":[{"type":"text","text":"y","styles":{}}]}]}]}]},"children":[]},
	  {"id":"c","type":"myCustom","props":{},"content":[{"type":"link","href":"note://22222222-2222-4222-8222-222222222222","content":[{"type":"text","text":"z","styles":{}}]}],"children":[]}]}]`
	d = parse(t, []byte(doc))
	require.Equal(t, []uuid.UUID{
		uuid.MustParse("22222222-2222-4222-8222-222222222222"),
		uuid.MustParse("33333333-3333-4333-8333-333333333333"),
	}, d.LinkedNotes(), "links at any depth, in tables and custom blocks, once each")
}

func TestUnknownBlocksPropsAndFieldsAreKept(t *testing.T) {
	t.Parallel()
	in := []byte(`[{"id":"x","type":"kanban","props":{"cols":[1,{"a":null}],"deep":{"b":1.50}},"content":{"whatever":true},"children":[],"x-extra":{"k":"\u00e9\ud83d\ude00"}},
		{"id":"y","type":"paragraph","props":{"textColor":"red","future":7},"content":[{"type":"mention","props":{"user":"Steve"}},{"type":"text","text":"hi","styles":{"fontSize":"12px"},"extra":1}],"children":[],"meta":[]}]`)
	d := parse(t, in)
	require.False(t, d.Normalized())
	requireJSONEqual(t, in, marshal(t, d))
	require.Equal(t, "hi", d.Block("y").Text())
}

func TestParseErrorsNameTheBlockPath(t *testing.T) {
	t.Parallel()
	para := func(id, content string) string {
		return `{"id":"` + id + `","type":"paragraph","props":{},"content":` + content + `,"children":[]}`
	}
	cases := map[string]struct {
		doc      string
		location string
	}{
		"not an array":        {`{"id":"a"}`, "content"},
		"block not an object": {`[1]`, "content[0]"},
		"missing type":        {`[{"id":"a","props":{},"children":[]}]`, "content[0].type"},
		"type not a string":   {`[{"id":"a","type":3,"children":[]}]`, "content[0].type"},
		"id not a string":     {`[{"id":7,"type":"paragraph","children":[]}]`, "content[0].id"},
		"duplicate id": {`[` + para("a", "[]") + `,{"id":"b","type":"paragraph","content":[],"children":[` + para("a", "[]") + `]}]`,
			"content[1].children[0].id"},
		"children not an array":  {`[{"id":"a","type":"paragraph","children":{}}]`, "content[0].children"},
		"props not an object":    {`[{"id":"a","type":"paragraph","props":[],"children":[]}]`, "content[0].props"},
		"inline not an array":    {`[` + para("a", `{"x":1}`) + `]`, "content[0].content"},
		"inline item not object": {`[` + para("a", `["hi",1]`) + `]`, "content[0].content[1]"},
		"text without text":      {`[` + para("a", `[{"type":"text","styles":{}}]`) + `]`, "content[0].content[0].text"},
		"styles not an object":   {`[` + para("a", `[{"type":"text","text":"x","styles":"bold"}]`) + `]`, "content[0].content[0].styles"},
		"link without href":      {`[` + para("a", `[{"type":"link","content":[]}]`) + `]`, "content[0].content[0].href"},
		"link bad content":       {`[` + para("a", `[{"type":"link","href":"x","content":[{"type":"link","href":"y","content":[]}]}]`) + `]`, "content[0].content[0].content[0].type"},
		"nested error path": {`[{"id":"a","type":"toggleListItem","content":[],"children":[` + para("b", "[]") + `,` + para("c", `[{"type":"text","text":1}]`) + `]}]`,
			"content[0].children[1].content[0].text"},
		"bad task status":   {`[{"id":"a","type":"task","props":{"status":"done"},"content":[],"children":[]}]`, "content[0].props.status"},
		"bad task priority": {`[{"id":"a","type":"task","props":{"priority":"urgent"},"content":[],"children":[]}]`, "content[0].props.priority"},
		"bad task due date": {`[{"id":"a","type":"task","props":{"dueDate":"2026-02-30"},"content":[],"children":[]}]`, "content[0].props.dueDate"},
		"bad task due time": {`[{"id":"a","type":"task","props":{"dueTime":"25:00"},"content":[],"children":[]}]`, "content[0].props.dueTime"},
		"bad task size":     {`[{"id":"a","type":"task","props":{"size":"big"},"content":[],"children":[]}]`, "content[0].props.size"},
		"bad task goal":     {`[{"id":"a","type":"task","props":{"goalId":"g-1"},"content":[],"children":[]}]`, "content[0].props.goalId"},
		"bad task source":   {`[{"id":"a","type":"task","props":{"source":"Click Up"},"content":[],"children":[]}]`, "content[0].props.source"},
		"bad task metadata": {`[{"id":"a","type":"task","props":{"metadata":"[1]"},"content":[],"children":[]}]`, "content[0].props.metadata"},
		"deep task metadata": {`[{"id":"a","type":"task","props":{"metadata":"` + strings.Repeat(`{\"a\":`, field.MaxObjectDepth+1) + `1` +
			strings.Repeat(`}`, field.MaxObjectDepth+1) + `"},"content":[],"children":[]}]`, "content[0].props.metadata"},
		"task metadata with NUL": {`[{"id":"a","type":"task","props":{"metadata":"{\"a\":\"\\u0000\"}"},"content":[],"children":[]}]`, "content[0].props.metadata"},
		"bad checked":            {`[{"id":"a","type":"checkListItem","props":{"checked":"yes"},"content":[],"children":[]}]`, "content[0].props.checked"},
		"nul in text":            {`[` + para("a", `[{"type":"text","text":"a\u0000b","styles":{}}]`) + `]`, "content[0].content"},
		"lone surrogate":         {`[{"id":"a","type":"x","props":{"p":"\ud800"},"children":[]}]`, "content[0].props"},
		"table not an object":    {`[{"id":"a","type":"table","content":[],"children":[]}]`, "content[0].content"},
		"trailing garbage":       {`[]x`, "content"},
		"invalid JSON in props":  {`[{"id":"a","type":"x","props":{"p":tru},"children":[]}]`, "content[0].props"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := blocknote.Parse([]byte(c.doc), nil)
			require.Error(t, err)
			var ae *apperr.Error
			require.ErrorAs(t, err, &ae)
			require.Equal(t, apperr.Invalid, ae.Code)
			require.Len(t, ae.Fields, 1)
			require.Equal(t, c.location, ae.Fields[0].Location, ae.Fields[0].Message)
			require.NotEmpty(t, ae.Fields[0].Message)
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	// Too deep.
	doc := ""
	for i := range blocknote.MaxDepth + 1 {
		doc += `{"id":"b` + strconv.Itoa(i) + `","type":"paragraph","content":[],"children":[`
	}
	doc += strings.Repeat("]}", blocknote.MaxDepth+1)
	_, err := blocknote.Parse([]byte("["+doc+"]"), &blocknote.ParseOptions{Location: "body.content"})
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Fields[0].Message, "nested more than")
	require.True(t, strings.HasPrefix(ae.Fields[0].Location, "body.content[0].children[0]"))

	// Too many blocks.
	var sb strings.Builder
	sb.WriteString("[")
	for i := range blocknote.MaxBlocks + 1 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`{"type":"divider","children":[]}`)
	}
	sb.WriteString("]")
	_, err = blocknote.Parse([]byte(sb.String()), nil)
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Fields[0].Message, "at most")

	// Too large.
	_, err = blocknote.Parse(make([]byte, blocknote.MaxBytes+1), nil)
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Fields[0].Message, "bytes")

	// Empty and null (whitespace around it included) are the empty document.
	for _, s := range []string{"", "null", " [ ] ", " \t\r\nnull \n\t\r", "  "} {
		d, err := blocknote.Parse([]byte(s), nil)
		require.NoError(t, err)
		require.Equal(t, "[]", string(marshal(t, d)))
	}
	for _, s := range []string{"nul", "null x", "nullnull", " null ,"} {
		_, err := blocknote.Parse([]byte(s), nil)
		require.Error(t, err, "%q", s)
	}
}

// BlockNote's PartialInlineContent may mix plain strings with inline
// objects; each string is a text run with no styles.
func TestMixedInlineContentIsNormalised(t *testing.T) {
	t.Parallel()
	in := `[{"id":"p","type":"paragraph","props":{},"content":["I enjoy working with ",` +
		`{"type":"mention","props":{"user":"Matthew"},"content":undefined_is_not_json},"!"],"children":[]}]`
	_, err := blocknote.Parse([]byte(in), nil)
	require.Error(t, err, "still JSON")

	in = `[{"id":"p","type":"paragraph","props":{},"content":["I enjoy working with ",` +
		`{"type":"mention","props":{"user":"Matthew"}}, "!\n"],"children":[]},` +
		`{"id":"c","type":"checkListItem","props":{"checked":false},"content":["Buy ",{"type":"text","text":"milk","styles":{"bold":true}}],"children":[]}]`
	d := parse(t, []byte(in))
	require.True(t, d.Normalized())
	out := marshal(t, d)
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(out, &blocks))
	text := func(s string) map[string]any {
		return map[string]any{"type": "text", "text": s, "styles": map[string]any{}}
	}
	require.Equal(t, []any{
		text("I enjoy working with "),
		map[string]any{"type": "mention", "props": map[string]any{"user": "Matthew"}},
		text("!\n"),
	}, blocks[0]["content"])
	require.Contains(t, string(out), `{"type":"mention","props":{"user":"Matthew"}}`, "inline objects are kept byte for byte")
	require.Equal(t, "I enjoy working with !\n", d.Block("p").Text())
	tasks := d.Tasks()
	require.Len(t, tasks, 1)
	require.Equal(t, "Buy milk", tasks[0].Title)

	// The normalised output is stable.
	again := parse(t, out)
	require.False(t, again.Normalized())
	require.Equal(t, string(out), string(marshal(t, again)))

	// Anything else in an inline array is still refused, by path.
	_, err = blocknote.Parse([]byte(`[{"id":"p","type":"paragraph","content":["a",1]}]`), nil)
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "content[0].content[1]", ae.Fields[0].Location)
}
