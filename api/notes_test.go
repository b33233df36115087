package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
)

// ownDocDir holds the BlockNote documents written for this project (see
// core/blocknote/testdata/README.md); they run everywhere.
const ownDocDir = "../core/blocknote/testdata"

// fixture reads one of the project's own documents or, for any other name,
// a real BlockNote document from the shared fixtures (skipping the test
// when that folder is absent).
func fixture(t testing.TB, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ownDocDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return sharedfixtures.Read(t, "blocknote", name)
	}
	require.NoError(t, err)
	return b
}

// ownDocNames are the project's own documents.
func ownDocNames(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(ownDocDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// sharedDocNames are BlockNote's own documents of the shared fixtures (the
// test skips when that folder is absent).
func sharedDocNames(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(sharedfixtures.Dir(t, "blocknote"), "*.json"))
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if base := filepath.Base(n); base != "schema-specs-config.json" { // a schema, not a document
			out = append(out, base)
		}
	}
	require.Greater(t, len(out), 15)
	return out
}

type noteBundle struct {
	e *apitest.Env
	u *apitest.User
}

func setupNotes(t *testing.T) *noteBundle {
	t.Helper()
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	return &noteBundle{e: e, u: e.NewUser()}
}

func (b *noteBundle) do(t *testing.T, method, path string, body any, headers ...string) *apitest.Response {
	t.Helper()
	return b.e.Do(method, path, body, append([]string{b.u.Bearer()}, headers...)...)
}

func (b *noteBundle) create(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	res := b.do(t, http.MethodPost, "/api/notes", body)
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	return res.Map(t)
}

func (b *noteBundle) get(t *testing.T, id string) map[string]any {
	t.Helper()
	res := b.do(t, http.MethodGet, "/api/notes/"+id, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	return res.Map(t)
}

func (b *noteBundle) tasks(t *testing.T, noteID string) []map[string]any {
	t.Helper()
	res := b.do(t, http.MethodGet, "/api/notes/"+noteID+"/tasks", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	return items(t, res)
}

func items(t *testing.T, res *apitest.Response) []map[string]any {
	t.Helper()
	var body struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	res.JSON(t, &body)
	require.NotNil(t, body.Items, "items is always an array: %s", res.Body)
	return body.Items
}

func jsonValue(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

// blockMap flattens a document into id -> block.
func blockMap(doc any) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(any)
	walk = func(v any) {
		for _, b := range v.([]any) {
			m := b.(map[string]any)
			out[m["id"].(string)] = m
			walk(m["children"])
		}
	}
	walk(doc)
	return out
}

func TestNoteContentRoundTripsEveryFixture(t *testing.T) {
	b := setupNotes(t)
	check := func(t *testing.T, name string) {
		t.Helper()
		in := fixture(t, name)
		created := b.create(t, map[string]any{"title": name, "content": in})
		got := b.get(t, created["id"].(string))
		require.Equal(t, created["content"], got["content"], "POST and GET answer the same content")
		if name == "partial-blocks-default-blocks-example.json" || name == "partial-document.json" {
			// Partial blocks come back in the editor's full form, with
			// ids; the ids are those of the response, stable on GET.
			blocks := got["content"].([]any)
			require.Len(t, blocks, len(jsonValue(t, in).([]any)))
			for _, blk := range blocks {
				require.NotEmpty(t, blk.(map[string]any)["id"])
			}
			return
		}
		require.Equal(t, jsonValue(t, in), got["content"], "the document survives byte-for-byte in meaning")
	}
	for _, name := range ownDocNames(t) {
		t.Run(name, func(t *testing.T) { check(t, name) })
	}
	t.Run("shared", func(t *testing.T) {
		for _, name := range sharedDocNames(t) {
			t.Run(name, func(t *testing.T) { check(t, name) })
		}
	})
}

func TestNoteCRUD(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "  Plans  ", "tags": []string{"work", " health ", "work"},
		"metadata": map[string]any{"color": "teal"}, "is_pinned": true})
	id := n["id"].(string)
	require.Equal(t, "Plans", n["title"])
	require.Equal(t, []any{"work", "health"}, n["tags"])
	require.Equal(t, map[string]any{"color": "teal"}, n["metadata"])
	require.Equal(t, []any{}, n["content"])
	require.EqualValues(t, 1, n["version"])
	require.Equal(t, b.u.ID, n["user_id"])
	for _, f := range []string{"id", "title", "content", "parent_id", "tags", "linked_notes", "is_pinned", "is_archived", "metadata", "version", "created_at", "updated_at", "user_id"} {
		require.Contains(t, n, f)
	}

	res := b.do(t, http.MethodGet, "/api/notes/"+id, nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, `"1"`, res.Header.Get("ETag"))

	// PUT changes only what it sends.
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"is_archived": true})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	u := res.Map(t)
	require.EqualValues(t, 2, u["version"])
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	require.Equal(t, "Plans", u["title"])
	require.Equal(t, true, u["is_pinned"])
	require.Equal(t, true, u["is_archived"])
	require.Equal(t, []any{"work", "health"}, u["tags"])

	// A PUT that changes nothing makes no version.
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "Plans", "is_archived": true, "metadata": map[string]any{"color": "teal"}})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.EqualValues(t, 2, res.Map(t)["version"])

	doc := fixture(t, "editor-document.json")
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"content": doc})
	require.EqualValues(t, 3, res.Map(t)["version"])
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"content": doc})
	require.EqualValues(t, 3, res.Map(t)["version"], "the same content again is no change")
	require.Equal(t, jsonValue(t, doc), res.Map(t)["content"])

	res = b.do(t, http.MethodDelete, "/api/notes/"+id, nil)
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	requireProblem(t, b.do(t, http.MethodGet, "/api/notes/"+id, nil), http.StatusNotFound)
	p := requireProblem(t, b.do(t, http.MethodGet, "/api/notes/not-a-uuid", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "path.note_id")
}

func TestNoteInvalidDocumentNamesBlockPathAndChangesNothing(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "t", "content": fixture(t, "checklist-tree.json")})
	id := n["id"].(string)
	before := b.get(t, id)
	tasksBefore := b.tasks(t, id)

	cases := map[string]struct {
		content  string
		location string
	}{
		"bad status deep": {`[{"id":"a","type":"paragraph","content":[],"children":[{"id":"b","type":"bulletListItem","content":[],"children":[
			{"id":"c","type":"task","props":{"status":"done"},"content":[],"children":[]}]}]}]`, "body.content[0].children[0].children[0].props.status"},
		"duplicate id":     {`[{"id":"a","type":"paragraph","children":[]},{"id":"a","type":"paragraph","children":[]}]`, "body.content[1].id"},
		"children":         {`[{"id":"a","type":"paragraph","children":"no"}]`, "body.content[0].children"},
		"inline text":      {`[{"id":"a","type":"paragraph","content":[{"type":"text","text":5}],"children":[]}]`, "body.content[0].content[0].text"},
		"link href":        {`[{"id":"a","type":"heading","content":[{"type":"link","content":[]}],"children":[]}]`, "body.content[0].content[0].href"},
		"not blocks":       {`{"blocks":[]}`, "body.content"},
		"checked":          {`[{"id":"a","type":"checkListItem","props":{"checked":"yes"},"content":[],"children":[]}]`, "body.content[0].props.checked"},
		"nul":              {`[{"id":"a","type":"paragraph","content":[{"type":"text","text":"a\u0000"}],"children":[]}]`, "body.content[0].content"},
		"too deep":         {strings.Repeat(`[{"type":"paragraph","children":`, 40) + `[]` + strings.Repeat(`}]`, 40), "body.content"},
		"block not object": {`[[]]`, "body.content[0]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{http.MethodPut, http.MethodPost} {
				path := "/api/notes/" + id
				if method == http.MethodPost {
					path = "/api/notes"
				}
				res := b.do(t, method, path, `{"title":"x","content":`+c.content+`}`)
				p := requireProblem(t, res, http.StatusUnprocessableEntity)
				errs, _ := p["errors"].([]any)
				require.NotEmpty(t, errs, res.String())
				loc := errs[0].(map[string]any)["location"].(string)
				require.True(t, strings.HasPrefix(loc, c.location), "location %s starts with %s", loc, c.location)
			}
		})
	}
	require.Equal(t, before, b.get(t, id), "nothing changed")
	require.Equal(t, tasksBefore, b.tasks(t, id))
	res := b.do(t, http.MethodGet, "/api/notes?limit=200", nil)
	require.Len(t, items(t, res), 1, "no note was created")
}

func TestNoteBlocksWithoutIDsGetOne(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"content": []any{
		map[string]any{"type": "checkListItem", "content": "buy milk"},
		map[string]any{"type": "paragraph", "content": []any{}, "children": []any{map[string]any{"type": "task", "props": map[string]any{"status": "in_progress"}, "content": "deep"}}},
	}})
	blocks := n["content"].([]any)
	first := blocks[0].(map[string]any)
	require.NotEmpty(t, first["id"])
	require.Equal(t, []any{}, first["children"])
	nested := blocks[1].(map[string]any)["children"].([]any)[0].(map[string]any)
	require.NotEmpty(t, nested["id"])
	ts := b.tasks(t, n["id"].(string))
	require.Len(t, ts, 2)
	require.Equal(t, first["id"], ts[0]["block_id"], "the task names the generated block id")
	require.Equal(t, nested["id"], ts[1]["block_id"])
	require.Equal(t, "in_progress", ts[1]["status"])
	require.Equal(t, blockMap(b.get(t, n["id"].(string))["content"]), blockMap(n["content"]), "ids are stored as shown")
}

func TestNoteListPaginationFiltersAndSorts(t *testing.T) {
	b := setupNotes(t)
	other := b.e.NewUser()
	b.e.Do(http.MethodPost, "/api/notes", map[string]any{"title": "not mine"}, other.Bearer())

	parent := b.create(t, map[string]any{"title": "Parent"})
	for i := range 7 {
		body := map[string]any{"title": fmt.Sprintf("Note %02d", i), "content": []any{
			map[string]any{"id": "p", "type": "paragraph", "content": []any{map[string]any{"type": "text", "text": fmt.Sprintf("body text %d with zebra%d", i, i%2), "styles": map[string]any{}}}, "children": []any{}},
		}}
		if i%2 == 0 {
			body["tags"] = []string{"even"}
		}
		if i == 3 {
			body["parent_id"] = parent["id"]
			body["is_pinned"] = true
		}
		if i == 5 {
			body["is_archived"] = true
		}
		b.create(t, body)
	}
	list := func(q string) []map[string]any {
		t.Helper()
		res := b.do(t, http.MethodGet, "/api/notes?"+q, nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		return items(t, res)
	}
	titles := func(its []map[string]any) []string {
		var out []string
		for _, it := range its {
			out = append(out, it["title"].(string))
			require.NotContains(t, it, "content", "lists carry a preview, not the content")
		}
		return out
	}
	all := list("")
	require.Len(t, all, 7, "archived notes are hidden; other users' notes never show")
	require.Equal(t, "Note 06", all[0]["title"], "newest change first")
	require.Equal(t, "body text 6 with zebra0", all[0]["preview"])
	require.Equal(t, []string{"Note 05"}, titles(list("is_archived=true")))
	require.Len(t, list("is_archived=any"), 8)
	require.Equal(t, []string{"Note 00", "Note 02", "Note 04", "Note 06"}, titles(list("tag=even&sort=title")))
	require.Equal(t, []string{"Note 03"}, titles(list("parent_id="+parent["id"].(string))))
	require.Equal(t, []string{"Note 03"}, titles(list("is_pinned=true")))
	require.Len(t, list("parent_id=root"), 6)
	require.Equal(t, []string{"Note 01", "Note 03"}, titles(list("q=zebra1&sort=title")), "full-text over block text")
	require.Equal(t, []string{"Note 04"}, titles(list("q=note+04")), "full-text over the title")
	require.Equal(t, []string{"Parent", "Note 06"}, titles(list("sort=-title&limit=2")))

	// Pages: stable while notes are added in between.
	for _, sort := range []string{"-updated_at", "created_at", "title", "-title"} {
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			res := b.do(t, http.MethodGet, "/api/notes?limit=3&sort="+sort+"&cursor="+cursor, nil)
			require.Equal(t, http.StatusOK, res.Status, res.String())
			var body struct {
				Items      []map[string]any `json:"items"`
				NextCursor string           `json:"next_cursor"`
			}
			res.JSON(t, &body)
			seen = append(seen, titles(body.Items)...)
			if page == 0 {
				// A note created now sorts first (or last by title "Zz"): it
				// must not shift the pages being read.
				b.create(t, map[string]any{"title": "Aa inserted " + sort})
			}
			if body.NextCursor == "" {
				require.NotContains(t, string(res.Body), "next_cursor", "absent on the last page")
				break
			}
			cursor = body.NextCursor
		}
		require.Len(t, seen, len(uniq(seen)), "no duplicates across pages (%s): %v", sort, seen)
		require.Subset(t, seen, titles(all), "every note seen (%s)", sort)
	}

	p := requireProblem(t, b.do(t, http.MethodGet, "/api/notes?limit=500", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.limit")
	p = requireProblem(t, b.do(t, http.MethodGet, "/api/notes?cursor=garbage!", nil), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "query.cursor")
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func TestNoteParentsAndCycles(t *testing.T) {
	b := setupNotes(t)
	a := b.create(t, map[string]any{"title": "A"})
	c := b.create(t, map[string]any{"title": "B", "parent_id": a["id"]})
	d := b.create(t, map[string]any{"title": "C", "parent_id": c["id"]})
	require.Equal(t, c["id"], d["parent_id"])

	for name, body := range map[string]map[string]any{
		"self":       {"parent_id": a["id"]},
		"descendant": {"parent_id": d["id"]},
	} {
		t.Run(name, func(t *testing.T) {
			res := b.do(t, http.MethodPut, "/api/notes/"+a["id"].(string), body)
			p := requireProblem(t, res, http.StatusUnprocessableEntity)
			requireNamesField(t, p, "body.parent_id")
		})
	}
	other := b.e.NewUser()
	foreign := b.e.Do(http.MethodPost, "/api/notes", map[string]any{"title": "x"}, other.Bearer()).Map(t)
	p := requireProblem(t, b.do(t, http.MethodPost, "/api/notes", map[string]any{"parent_id": foreign["id"]}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.parent_id")

	// null moves a note to the top level.
	res := b.do(t, http.MethodPut, "/api/notes/"+d["id"].(string), map[string]any{"parent_id": nil})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Nil(t, res.Map(t)["parent_id"])
	// Deleting a parent lifts its children.
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/api/notes/"+a["id"].(string), nil).Status)
	require.Nil(t, b.get(t, c["id"].(string))["parent_id"])
}

func TestTagsAndBacklinks(t *testing.T) {
	b := setupNotes(t)
	target := b.create(t, map[string]any{"title": "Target", "tags": []string{"work"}})
	tid := target["id"].(string)
	link := func(title, href string, tags []string) map[string]any {
		return b.create(t, map[string]any{"title": title, "tags": tags, "content": []any{map[string]any{
			"id": "x", "type": "paragraph", "props": map[string]any{}, "children": []any{}, "content": []any{
				map[string]any{"type": "link", "href": href, "content": []any{map[string]any{"type": "text", "text": "see", "styles": map[string]any{}}}},
			}}}})
	}
	l1 := link("L1", "note://"+tid, []string{"work", "health"})
	link("L2", "https://example.com", []string{"health"})
	l3 := link("L3", "note://"+tid, nil)
	b.create(t, map[string]any{"title": "Archived", "tags": []string{"work"}, "is_archived": true})
	require.Equal(t, []any{tid}, l1["linked_notes"])

	res := b.do(t, http.MethodGet, "/api/notes/"+tid+"/backlinks", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	var got []string
	for _, it := range items(t, res) {
		got = append(got, it["title"].(string))
	}
	require.Equal(t, []string{"L3", "L1"}, got)

	// Editing the link away removes the backlink.
	res = b.do(t, http.MethodPut, "/api/notes/"+l3["id"].(string), map[string]any{"content": []any{}})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, items(t, b.do(t, http.MethodGet, "/api/notes/"+tid+"/backlinks", nil)), 1)

	// Another user's note linking to it does not count, and cannot see it.
	other := b.e.NewUser()
	b.e.Do(http.MethodPost, "/api/notes", map[string]any{"content": []any{map[string]any{"type": "paragraph", "content": []any{
		map[string]any{"type": "link", "href": "note://" + tid, "content": []any{}}}}}}, other.Bearer())
	require.Len(t, items(t, b.do(t, http.MethodGet, "/api/notes/"+tid+"/backlinks", nil)), 1)
	requireProblem(t, b.e.Do(http.MethodGet, "/api/notes/"+tid+"/backlinks", nil, other.Bearer()), http.StatusNotFound)

	res = b.do(t, http.MethodGet, "/api/tags", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, []map[string]any{
		{"name": "health", "note_count": float64(2)},
		{"name": "work", "note_count": float64(3)},
	}, items(t, res))
	require.Empty(t, items(t, b.e.Do(http.MethodGet, "/api/tags", nil, other.Bearer())))

	p := requireProblem(t, b.do(t, http.MethodPost, "/api/notes", map[string]any{"tags": []string{"ok", " "}}), http.StatusUnprocessableEntity)
	requireNamesField(t, p, "body.tags[1]")
}

func TestNoteHistoryAndRestoreReindexes(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "v1", "content": fixture(t, "checklist-tree.json"), "tags": []string{"a"}})
	id := n["id"].(string)
	v1Tasks := b.tasks(t, id)
	require.Len(t, v1Tasks, 3)

	// v2 drops the tasks, v3 renames.
	res := b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "v2", "content": fixture(t, "editor-document.json"), "tags": []string{"b"}})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Empty(t, b.tasks(t, id))
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "v3"})
	require.EqualValues(t, 3, res.Map(t)["version"])

	res = b.do(t, http.MethodGet, "/api/notes/"+id+"/versions", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	vs := items(t, res)
	require.Len(t, vs, 3)
	require.EqualValues(t, 3, vs[0]["version"])
	require.Equal(t, "v1", vs[2]["title"])
	require.Equal(t, "create", vs[2]["change"])
	require.NotContains(t, vs[0], "content")

	res = b.do(t, http.MethodGet, "/api/notes/"+id+"/versions?limit=2", nil)
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"next_cursor"`
	}
	res.JSON(t, &page)
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextCursor)
	res = b.do(t, http.MethodGet, "/api/notes/"+id+"/versions?limit=2&cursor="+page.NextCursor, nil)
	require.Equal(t, "v1", items(t, res)[0]["title"])

	res = b.do(t, http.MethodGet, "/api/notes/"+id+"/versions/1", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, jsonValue(t, fixture(t, "checklist-tree.json")), res.Map(t)["content"])
	requireProblem(t, b.do(t, http.MethodGet, "/api/notes/"+id+"/versions/9", nil), http.StatusNotFound)

	// Restoring v1 is a new version, and the task index follows it.
	res = b.do(t, http.MethodPost, "/api/notes/"+id+"/versions/1/restore", nil, `If-Match: "3"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	r := res.Map(t)
	require.EqualValues(t, 4, r["version"])
	require.Equal(t, "v1", r["title"])
	require.Equal(t, []any{"a"}, r["tags"])
	require.Equal(t, jsonValue(t, fixture(t, "checklist-tree.json")), r["content"])
	restored := b.tasks(t, id)
	require.Len(t, restored, 3)
	for i := range restored {
		require.Equal(t, v1Tasks[i]["block_id"], restored[i]["block_id"])
		require.Equal(t, v1Tasks[i]["title"], restored[i]["title"])
		require.Equal(t, v1Tasks[i]["status"], restored[i]["status"])
	}
	require.Equal(t, restored[0]["id"], restored[1]["parent_task_id"])
	res = b.do(t, http.MethodGet, "/api/notes/"+id+"/versions?limit=1", nil)
	latest := items(t, res)[0]
	require.Equal(t, "restore", latest["change"])
	require.EqualValues(t, 1, latest["restored_from"])

	requireProblem(t, b.do(t, http.MethodPost, "/api/notes/"+id+"/versions/2/restore", nil, `If-Match: "3"`), http.StatusPreconditionFailed)
}

func TestNotePreconditions(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "x"})
	id := n["id"].(string)
	res := b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "y"}, `If-Match: "1"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, `"2"`, res.Header.Get("ETag"))

	p := requireProblem(t, b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "z"}, `If-Match: "1"`), http.StatusPreconditionFailed)
	require.Equal(t, "precondition_failed", p["code"])
	requireProblem(t, b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "z"}, `If-Match: nonsense`), http.StatusPreconditionFailed)
	requireProblem(t, b.do(t, http.MethodDelete, "/api/notes/"+id, nil, `If-Match: "1"`), http.StatusPreconditionFailed)
	require.Equal(t, "y", b.get(t, id)["title"], "a failed precondition changes nothing")

	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "z"}, `If-Match: W/"2"`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	res = b.do(t, http.MethodPut, "/api/notes/"+id, map[string]any{"title": "w"}, `If-Match: *`)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/api/notes/"+id, nil, `If-Match: "4"`).Status)
}

func TestNoteBodyErrors(t *testing.T) {
	b := setupNotes(t)
	n := b.create(t, map[string]any{"title": "x"})
	for _, path := range []string{"/api/notes", "/api/notes/" + n["id"].(string)} {
		method := http.MethodPost
		if path != "/api/notes" {
			method = http.MethodPut
		}
		p := requireProblem(t, b.do(t, method, path, `{"title": "x",`), http.StatusBadRequest)
		requireNamesField(t, p, "body.")
		huge := `{"content":[{"type":"paragraph","content":"` + strings.Repeat("x", 3<<20) + `"}]}`
		requireProblem(t, b.do(t, method, path, huge), http.StatusRequestEntityTooLarge)
		p = requireProblem(t, b.do(t, method, path, `{"parent_id":"nope"}`), http.StatusUnprocessableEntity)
		requireNamesField(t, p, "body.parent_id")
		p = requireProblem(t, b.do(t, method, path, `{"title":"`+strings.Repeat("t", 501)+`"}`), http.StatusUnprocessableEntity)
		requireNamesField(t, p, "body.title")
		p = requireProblem(t, b.do(t, method, path, `{"metadata":[1]}`), http.StatusUnprocessableEntity)
		requireNamesField(t, p, "body.metadata")
	}
	require.EqualValues(t, 1, b.get(t, n["id"].(string))["version"])
}
