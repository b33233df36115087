package api_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/api/apitest"
	"github.com/consilium-hq/consilium/core/ai/aitest"
	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/plugin"
	"github.com/consilium-hq/consilium/sdk"
)

type aiBundle struct {
	e *apitest.Env
	u *apitest.User
}

// setupAI runs the API with the real local plugin and workers.
func setupAI(t *testing.T, configure func(*config.Config)) *aiBundle {
	t.Helper()
	e := apitest.New(t, apitest.Options{Models: aitest.LocalHost(t), Workers: true, Configure: configure})
	return &aiBundle{e: e, u: e.NewUser()}
}

func (b *aiBundle) do(method, path string, body any, headers ...string) *apitest.Response {
	b.e.T.Helper()
	return b.e.Do(method, path, body, append([]string{b.u.Bearer()}, headers...)...)
}

type part struct {
	name, filename, contentType string
	data                        []byte
}

// multipartBody builds a multipart/form-data body.
func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		require.NoError(t, err)
		_, err = pw.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return w.FormDataContentType(), buf.Bytes()
}

func (b *aiBundle) upload(t *testing.T, path string, parts ...part) *apitest.Response {
	t.Helper()
	ct, body := multipartBody(t, parts...)
	return b.do(http.MethodPost, path, body, "Content-Type: "+ct)
}

// waitReady polls the index status until nothing is pending.
func (b *aiBundle) waitIndexed(t *testing.T) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := b.do(http.MethodGet, "/api/ai/index/status", nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		st := res.Map(t)
		notes, docs := st["notes"].(map[string]any), st["documents"].(map[string]any)
		if notes["pending"].(float64) == 0 && docs["pending"].(float64) == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index did not catch up: %s", res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDocumentsAPI(t *testing.T) {
	t.Parallel()
	b := setupAI(t, nil)

	res := b.upload(t, "/api/ai/documents/process", part{name: "file", filename: "lease.pdf", contentType: "application/pdf",
		data: aitest.PDF("Lease agreement", [][]string{{"The monthly rent is 1,240 euros.", "", "Pets need written consent."}})})
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	pdf := res.Map(t)
	require.Equal(t, "pending", pdf["status"])
	require.Equal(t, "application/pdf", pdf["media_type"])
	require.Equal(t, "lease.pdf", pdf["filename"])

	res = b.upload(t, "/api/ai/documents/process", part{name: "title", data: []byte("Garden notes")},
		part{name: "file", filename: "garden.md", data: []byte("# Garden\n\nPrune the **roses** in March.")})
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	md := res.Map(t)
	require.Equal(t, "text/markdown", md["media_type"])

	res = b.do(http.MethodPost, "/api/ai/documents/process", map[string]any{"title": "Call notes", "text": "Ring the zoning office about the permit."})
	require.Equal(t, http.StatusAccepted, res.Status, res.String())
	txt := res.Map(t)
	require.Equal(t, "text/plain", txt["media_type"])

	st := b.waitIndexed(t)
	require.Equal(t, map[string]any{"total": 3.0, "indexed": 3.0, "pending": 0.0, "failed": 0.0, "not_indexed": 0.0, "outdated": 0.0}, st["documents"])

	res = b.do(http.MethodGet, fmt.Sprintf("/api/ai/documents/%s", pdf["id"]), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	got := res.Map(t)
	require.Equal(t, "ready", got["status"])
	require.Equal(t, "Lease agreement", got["title"], "the PDF's own title")
	require.Equal(t, 1.0, got["chunk_count"])
	require.NotNil(t, got["processed_at"])

	res = b.do(http.MethodGet, "/api/ai/documents?limit=2", nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	list := res.Map(t)
	items := list["items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, txt["id"], items[0].(map[string]any)["id"], "newest first")
	res = b.do(http.MethodGet, "/api/ai/documents?cursor="+list["next_cursor"].(string), nil)
	require.Len(t, res.Map(t)["items"].([]any), 1)

	// The documents answer questions.
	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "monthly rent", "sources": []string{"documents"}})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	ps := res.Map(t)["passages"].([]any)
	require.NotEmpty(t, ps)
	src := ps[0].(map[string]any)["source"].(map[string]any)
	require.Equal(t, map[string]any{"type": "document", "id": pdf["id"], "title": "Lease agreement", "section": "page 1", "block_ids": []any{}}, src)

	// Another user sees none of it.
	other := b.e.NewUser()
	res = b.e.Do(http.MethodGet, fmt.Sprintf("/api/ai/documents/%s", pdf["id"]), nil, other.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, res.String())
	res = b.e.Do(http.MethodDelete, fmt.Sprintf("/api/ai/documents/%s", pdf["id"]), nil, other.Bearer())
	require.Equal(t, http.StatusNotFound, res.Status, res.String())

	res = b.do(http.MethodDelete, fmt.Sprintf("/api/ai/documents/%s", pdf["id"]), nil)
	require.Equal(t, http.StatusNoContent, res.Status, res.String())
	res = b.do(http.MethodGet, fmt.Sprintf("/api/ai/documents/%s", pdf["id"]), nil)
	require.Equal(t, http.StatusNotFound, res.Status, res.String())
	res = b.do(http.MethodGet, "/api/ai/documents/not-a-uuid", nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, res.String(), "like a malformed note id")
}

func TestDocumentUploadErrors(t *testing.T) {
	t.Parallel()
	b := setupAI(t, func(c *config.Config) { c.AI.MaxUploadBytes = 64 << 10 })
	cases := map[string]struct {
		parts  []part
		json   any
		ct     string
		status int
		msg    string
	}{
		"too large":          {parts: []part{{name: "file", filename: "big.txt", data: bytes.Repeat([]byte("a"), 65<<10)}}, status: http.StatusRequestEntityTooLarge},
		"body too large":     {parts: []part{{name: "file", filename: "big.txt", data: bytes.Repeat([]byte("a"), 400<<10)}}, status: http.StatusRequestEntityTooLarge},
		"an image":           {parts: []part{{name: "file", filename: "a.png", contentType: "image/png", data: []byte("\x89PNG\r\n\x1a\nxxxx")}}, status: http.StatusUnprocessableEntity, msg: "body.file"},
		"no file":            {parts: []part{{name: "title", data: []byte("x")}}, status: http.StatusUnprocessableEntity, msg: "body.file"},
		"empty file":         {parts: []part{{name: "file", filename: "a.txt", data: nil}}, status: http.StatusUnprocessableEntity, msg: "empty"},
		"json without text":  {json: map[string]any{"title": "x", "text": " "}, status: http.StatusUnprocessableEntity, msg: "body.text"},
		"json, unknown kind": {json: map[string]any{"text": "x", "media_type": "application/pdf"}, status: http.StatusUnprocessableEntity, msg: "body.media_type"},
		"neither":            {ct: "text/plain", status: http.StatusUnprocessableEntity, msg: "Content-Type"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var res *apitest.Response
			switch {
			case tc.parts != nil:
				res = b.upload(t, "/api/ai/documents/process", tc.parts...)
			case tc.json != nil:
				res = b.do(http.MethodPost, "/api/ai/documents/process", tc.json)
			default:
				res = b.do(http.MethodPost, "/api/ai/documents/process", "hello", "Content-Type: "+tc.ct)
			}
			require.Equal(t, tc.status, res.Status, res.String())
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			require.Contains(t, string(res.Body), tc.msg)
		})
	}
	res := b.do(http.MethodGet, "/api/ai/documents", nil)
	require.Empty(t, res.Map(t)["items"], "bad uploads store nothing")
}

func createNoteJSON(t *testing.T, b *aiBundle, title string, blocks string, tags ...string) map[string]any {
	t.Helper()
	body := fmt.Sprintf(`{"title":%q,"content":%s,"tags":[%s]}`, title, blocks, quoteAll(tags))
	res := b.do(http.MethodPost, "/api/notes", body)
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	return res.Map(t)
}

func quoteAll(ss []string) string {
	var q []string
	for _, s := range ss {
		q = append(q, fmt.Sprintf("%q", s))
	}
	return strings.Join(q, ",")
}

func TestRAGQueryAPI(t *testing.T) {
	t.Parallel()
	b := setupAI(t, nil)
	plumber := createNoteJSON(t, b, "House", `[
		{"id":"intro","type":"paragraph","content":"Things to fix before winter."},
		{"id":"h","type":"heading","props":{"level":2},"content":"Plumbing"},
		{"id":"p1","type":"paragraph","content":"The plumber Kowalczyk comes on Thursday at eight to fix the boiler."},
		{"id":"t1","type":"checkListItem","props":{"checked":false},"content":"buy a new radiator key"}]`)
	createNoteJSON(t, b, "Cooking", `[{"id":"c1","type":"paragraph","content":"Bake the plum cake at 180 degrees."}]`, "food")
	other := b.e.NewUser()
	res := b.e.Do(http.MethodPost, "/api/notes", `{"title":"Secret","content":[{"type":"paragraph","content":"Kowalczyk owes me the boiler money."}]}`, other.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	st := b.waitIndexed(t)
	require.Equal(t, 2.0, st["notes"].(map[string]any)["indexed"])
	require.Equal(t, aitest.LocalEmbeddingModel(), st["embedding_model"])

	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "When does Kowalczyk come for the boiler?", "k": 3})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	out := res.Map(t)
	ps := out["passages"].([]any)
	require.NotEmpty(t, ps)
	top := ps[0].(map[string]any)
	require.Contains(t, top["text"], "Kowalczyk comes on Thursday")
	require.Equal(t, map[string]any{"type": "note", "id": plumber["id"], "title": "House", "section": "Plumbing",
		"block_ids": []any{"h", "p1", "t1"}}, top["source"])
	require.Greater(t, top["score"], 0.0)
	require.Nil(t, out["answer"])
	require.Equal(t, []any{}, out["warnings"])
	for _, p := range ps {
		require.NotContains(t, p.(map[string]any)["text"], "owes me", "another user's passage")
	}

	// With answer: the local plugin quotes the best passage and cites it.
	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "When does Kowalczyk come for the boiler?", "k": 3, "answer": true})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	ans := res.Map(t)["answer"].(map[string]any)
	require.Equal(t, "local", ans["provider"])
	require.Equal(t, "retrieval", ans["model"])
	// The quote is the passage, under its own source (the plugin once
	// took the prompt's mention of "<passage>" for a tag and quoted the
	// prompt, with no source).
	require.Contains(t, ans["text"], "This passage matches your question best:\n\n> Plumbing\n"+
		"> The plumber Kowalczyk comes on Thursday at eight to fix the boiler.\n> buy a new radiator key\n\n"+
		"— [1] House › Plumbing (note:"+plumber["id"].(string)+"#h,p1,t1)\n", res.String())
	require.NotContains(t, ans["text"], "say so plainly", res.String())
	require.Equal(t, []any{1.0}, ans["citations"])

	// Filters.
	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "boiler", "tags": []string{"food"}})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	for _, p := range res.Map(t)["passages"].([]any) {
		require.Equal(t, "Cooking", p.(map[string]any)["source"].(map[string]any)["title"])
	}

	for name, body := range map[string]any{
		"empty query":    map[string]any{"query": ""},
		"k too large":    map[string]any{"query": "x", "k": 51},
		"unknown source": map[string]any{"query": "x", "sources": []string{"emails"}},
		"bad note id":    map[string]any{"query": "x", "note_ids": []string{"nope"}},
	} {
		res := b.do(http.MethodPost, "/api/ai/rag/query", body)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", name, res)
	}
}

func TestTranscribeAPI(t *testing.T) {
	t.Parallel()
	b := setupAI(t, func(c *config.Config) { c.AI.MaxImageBytes = 2 << 20 })
	lines := []string{"Weekly plan", "[ ] buy milk", "[x] call mom", "- [ ] book the dentist", "Dentist on Friday at 3pm"}
	scan, err := aitest.ScannedPage(lines)
	require.NoError(t, err)
	photo, err := aitest.PhotographedPage(lines, 7)
	require.NoError(t, err)

	want := []string{"h1:Weekly plan", "[ ]:buy milk", "[x]:call mom", "[ ]:book the dentist", "p:Dentist on Friday at 3pm"}
	for name, img := range map[string][]byte{"scanned PNG": scan, "photographed JPEG": photo} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := b.upload(t, "/api/ai/transcribe", part{name: "image", filename: "page", data: img})
			require.Equal(t, http.StatusOK, res.Status, res.String())
			var out struct {
				Text   string           `json:"text"`
				Blocks []map[string]any `json:"blocks"`
				Note   map[string]any   `json:"note"`
			}
			res.JSON(t, &out)
			require.Nil(t, out.Note)
			require.Equal(t, want, blockShapes(out.Blocks), "read as %q", out.Text)
		})
	}

	// create_note saves the blocks; the checklist lines are tasks.
	res := b.upload(t, "/api/ai/transcribe", part{name: "image", data: scan}, part{name: "create_note", data: []byte("true")},
		part{name: "tags", data: []byte("inbox, scans")})
	require.Equal(t, http.StatusOK, res.Status, res.String())
	n := res.Map(t)["note"].(map[string]any)
	require.Equal(t, "Weekly plan", n["title"])
	require.Equal(t, []any{"inbox", "scans"}, n["tags"])
	res = b.do(http.MethodGet, fmt.Sprintf("/api/notes/%s/tasks", n["id"]), nil)
	require.Equal(t, http.StatusOK, res.Status, res.String())
	var tasks []string
	for _, tk := range res.Map(t)["items"].([]any) {
		m := tk.(map[string]any)
		tasks = append(tasks, fmt.Sprintf("%s:%s", m["status"], m["title"]))
	}
	require.Equal(t, []string{"not_started:buy milk", "completed:call mom", "not_started:book the dentist"}, tasks)
	// ... and the note is indexed like any other.
	b.waitIndexed(t)
	res = b.do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "dentist friday"})
	require.Equal(t, n["id"], res.Map(t)["passages"].([]any)[0].(map[string]any)["source"].(map[string]any)["id"])

	for name, tc := range map[string]struct {
		parts  []part
		status int
	}{
		"not an image": {[]part{{name: "image", data: []byte("just text")}}, http.StatusUnprocessableEntity},
		"no image":     {[]part{{name: "create_note", data: []byte("true")}}, http.StatusUnprocessableEntity},
		"too large":    {[]part{{name: "image", data: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2<<20)...)}}, http.StatusRequestEntityTooLarge},
		"bad flag":     {[]part{{name: "image", data: scan}, {name: "create_note", data: []byte("maybe")}}, http.StatusUnprocessableEntity},
	} {
		res := b.upload(t, "/api/ai/transcribe", tc.parts...)
		require.Equal(t, tc.status, res.Status, "%s: %s", name, res)
	}
}

// TestAIWithoutModels: with no model plugin running, notes still save,
// transcription answers 503, search falls back to text, answers are 503.
func TestAIWithoutModels(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	u := e.NewUser()
	res := e.Do(http.MethodPost, "/api/notes", `{"title":"Errands","content":[{"type":"paragraph","content":"Post the parcel."}]}`, u.Bearer())
	require.Equal(t, http.StatusCreated, res.Status, res.String())
	scan, err := aitest.ScannedPage([]string{"hello"})
	require.NoError(t, err)
	ct, body := multipartBody(t, part{name: "image", data: scan})
	res = e.Do(http.MethodPost, "/api/ai/transcribe", body, u.Bearer(), "Content-Type: "+ct)
	require.Equal(t, http.StatusServiceUnavailable, res.Status, res.String())
	require.Contains(t, string(res.Body), "Transcription is not available")

	res = e.Do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "parcel"}, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Contains(t, res.Map(t)["warnings"].([]any)[0], "Only full-text search")
	res = e.Do(http.MethodPost, "/api/ai/rag/query", map[string]any{"query": "parcel", "answer": true}, u.Bearer())
	require.Equal(t, http.StatusServiceUnavailable, res.Status, res.String())

	res = e.Do(http.MethodGet, "/api/ai/index/status", nil, u.Bearer())
	require.Equal(t, http.StatusOK, res.Status, res.String())
	require.Equal(t, 1.0, res.Map(t)["notes"].(map[string]any)["pending"], "queued, waiting for a worker and a model")
}

func TestAgentsAPI(t *testing.T) {
	t.Parallel()
	b := setupAI(t, func(c *config.Config) {
		c.AI.Agents = []config.Agent{
			{Name: "planner", Description: "Plans your week.", Tools: []string{"list_tasks", "create_task"}},
			{Name: "scribe", Description: "Writes things down.", Provider: "elsewhere", Model: "big-1"},
		}
		c.Plugins.Items = append(c.Plugins.Items, plugin0("elsewhere"))
	})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := b.do(method, "/api/ai/agents", nil)
		require.Equal(t, http.StatusOK, res.Status, res.String())
		require.JSONEq(t, `{"agents":[
			{"name":"planner","description":"Plans your week.","provider":"local","model":"","tools":["list_tasks","create_task"],"available":true},
			{"name":"scribe","description":"Writes things down.","provider":"elsewhere","model":"big-1","tools":[],"available":false}]}`, string(res.Body))
	}
	res := setupAI(t, nil).do(http.MethodGet, "/api/ai/agents", nil)
	agents := res.Map(t)["agents"].([]any)
	var names []string
	for _, a := range agents {
		names = append(names, a.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"assistant", "planner", "tasks", "researcher", "inbox"}, names, "the shipped team")
}

func blockShapes(blocks []map[string]any) []string {
	var out []string
	for _, b := range blocks {
		var text strings.Builder
		for _, c := range b["content"].([]any) {
			text.WriteString(c.(map[string]any)["text"].(string))
		}
		props, _ := b["props"].(map[string]any)
		switch b["type"] {
		case "heading":
			out = append(out, fmt.Sprintf("h%v:%s", props["level"], text.String()))
		case "checkListItem":
			box := "[ ]"
			if props["checked"] == true {
				box = "[x]"
			}
			out = append(out, box+":"+text.String())
		case "paragraph":
			out = append(out, "p:"+text.String())
		default:
			out = append(out, fmt.Sprint(b["type"])+":"+text.String())
		}
	}
	return out
}

// plugin0 declares an llm plugin that is not running.
func plugin0(name string) plugin.PluginConfig {
	return plugin.PluginConfig{Name: name, Kind: sdk.KindLLM, Path: "/nonexistent/" + name}
}
