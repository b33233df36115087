package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/jsonvalue"
	"github.com/consilium-hq/consilium/core/sharedfixtures"
)

// corpusDir is the folder of real BlockNote documents in the shared
// fixtures beside the repository (see core/sharedfixtures); their sources
// and licences are in its SOURCES.md. They are read in place, never copied
// into the repository. The test skips when the folder is absent.
func corpusDir(t *testing.T) string {
	t.Helper()
	return sharedfixtures.Dir(t, "blocknote-corpus")
}

// corpusForms reads the form column (full or partial) of SOURCES.md.
func corpusForms(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "SOURCES.md"))
	require.NoError(t, err)
	defer f.Close()
	forms := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) > 5 && strings.HasSuffix(strings.TrimSpace(cols[1]), ".json") {
			forms[strings.TrimSpace(cols[1])] = strings.TrimSpace(cols[4])
		}
	}
	require.NoError(t, sc.Err())
	return forms
}

// TestNotesCorpus runs every document of the BlockNote corpus through the
// notes API: a full-form document comes back as the same JSON value; saving
// back what GET answered (as is, pretty-printed, or as the editor sent it)
// keeps the version and ETag and queues no job; every checklist item and
// task block is in the note's task list; and a status change through the
// tasks API changes only that block's checked/status prop.
func TestNotesCorpus(t *testing.T) {
	dir := corpusDir(t)
	forms := corpusForms(t, dir)
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	b := setupNotes(t)
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile(path)
			require.NoError(t, err)
			form, ok := forms[name]
			require.True(t, ok, "%s is listed in SOURCES.md", name)
			c := &corpusNote{b: b}
			c.create(t, name, in)
			if form == "full" {
				require.JSONEq(t, string(in), string(c.content), "a full-form document comes back as the same JSON value")
				require.True(t, jsonvalue.Equal(in, c.content))
			}

			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, c.content, "", "  "))
			saves := map[string][]byte{"as read": c.content, "pretty-printed": pretty.Bytes()}
			if form == "full" {
				saves["as the editor sent it"] = in
			}
			jobs := c.jobs(t)
			for what, content := range saves {
				c.saveUnchanged(t, what, content)
			}
			require.Equal(t, jobs, c.jobs(t), "an unchanged save queues no job")
			c.requireVersions(t, 1)

			c.checkTasks(t)
		})
	}
}

type corpusNote struct {
	b       *noteBundle
	id      string
	etag    string
	version float64
	content []byte // as GET answered it
}

func (c *corpusNote) create(t *testing.T, name string, doc []byte) {
	t.Helper()
	res := c.b.do(t, http.MethodPost, "/api/notes", map[string]any{"title": name, "content": json.RawMessage(doc)})
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	c.id = res.Map(t)["id"].(string)
	c.read(t)
}

// read GETs the note, keeping its content as Postgres answered it.
func (c *corpusNote) read(t *testing.T) {
	t.Helper()
	res := c.b.do(t, http.MethodGet, "/api/notes/"+c.id, nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	var body struct {
		Content json.RawMessage `json:"content"`
		Version float64         `json:"version"`
	}
	res.JSON(t, &body)
	c.content, c.version, c.etag = body.Content, body.Version, res.Header.Get("ETag")
	require.NotEmpty(t, c.etag)
}

func (c *corpusNote) saveUnchanged(t *testing.T, what string, content []byte) {
	t.Helper()
	res := c.b.do(t, http.MethodPut, "/api/notes/"+c.id, map[string]any{"content": json.RawMessage(content)}, "If-Match: "+c.etag)
	require.Equal(t, http.StatusOK, res.Status, "%s: %s", what, res)
	require.Equal(t, c.etag, res.Header.Get("ETag"), "saved %s: the ETag stays", what)
	require.Equal(t, c.version, res.Map(t)["version"], "saved %s: the version stays", what)
}

func (c *corpusNote) requireVersions(t *testing.T, n int) {
	t.Helper()
	res := c.b.do(t, http.MethodGet, "/api/notes/"+c.id+"/versions", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Len(t, items(t, res), n, "versions of the note")
}

func (c *corpusNote) jobs(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, c.b.e.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE args->>'note_id' = $1`, c.id).Scan(&n))
	return n
}

// checkTasks checks the task list against the document's task blocks, then
// flips each task's status through the tasks API and checks that only
// that block changed, and only in its checked/status prop.
func (c *corpusNote) checkTasks(t *testing.T) {
	t.Helper()
	var want []string
	var walk func(blocks []any)
	walk = func(blocks []any) {
		for _, x := range blocks {
			blk := x.(map[string]any)
			if typ := blk["type"]; typ == "checkListItem" || typ == "task" {
				want = append(want, blk["id"].(string))
			}
			walk(blk["children"].([]any))
		}
	}
	walk(jsonValue(t, c.content).([]any))

	tasks := c.b.tasks(t, c.id)
	var got []string
	for _, tk := range tasks {
		got = append(got, tk["block_id"].(string))
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "every checklist item and task block is in the note's task list")

	for _, tk := range tasks {
		before := c.content
		status := "completed"
		if tk["status"] == "completed" {
			status = "not_started"
		}
		res := c.b.do(t, http.MethodPut, fmt.Sprintf("/api/tasks/%v/status", tk["id"]), map[string]any{"status": status})
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.Equal(t, status, res.Map(t)["status"])
		c.read(t)
		requireOnlyStatusChanged(t, before, c.content, tk["block_id"].(string), status)
	}
}

// requireOnlyStatusChanged compares two versions of a document block by
// block: the same blocks in the same places, equal but for the checked or
// status prop of the block changed.
func requireOnlyStatusChanged(t *testing.T, before, after []byte, id, status string) {
	t.Helper()
	order := func(doc []byte) []string {
		var ids []string
		var walk func(blocks []any, parent string)
		walk = func(blocks []any, parent string) {
			for _, x := range blocks {
				blk := x.(map[string]any)
				ids = append(ids, parent+"/"+blk["id"].(string))
				walk(blk["children"].([]any), blk["id"].(string))
			}
		}
		walk(jsonValue(t, doc).([]any), "")
		return ids
	}
	require.Equal(t, order(before), order(after), "no block moved, appeared or went")
	was, now := blockMap(jsonValue(t, before)), blockMap(jsonValue(t, after))
	for bid, blk := range was {
		x, y := withoutKey(blk, "children"), withoutKey(now[bid], "children")
		if bid != id {
			require.Equal(t, x, y, "block %s did not change", bid)
			continue
		}
		// A partial block may have had no props: absent is unchecked.
		px, _ := x["props"].(map[string]any)
		py, _ := y["props"].(map[string]any)
		prop := "status"
		if y["type"] == "checkListItem" {
			prop = "checked"
			require.Equal(t, status == "completed", py["checked"])
		} else {
			require.Equal(t, status, py["status"])
		}
		require.NotEqual(t, px[prop], py[prop], "block %s: %s changed", bid, prop)
		require.Equal(t, withoutKey(px, prop), withoutKey(py, prop), "block %s: only %s changed", bid, prop)
		require.Equal(t, withoutKey(x, "props"), withoutKey(y, "props"), "block %s: only its props changed", bid)
	}
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
