package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
)

var noteCreateMembers = jsonMembers(reflect.TypeOf(NoteCreateRequest{}))

func TestCheckBody(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{}`:                                   "",
		` { "title" : "a\"}" , "tags":["x"] }`: "",
		`{"content":[{"a":"}\\"},{"b":[]}],"metadata":{"x":{"zzz":1}},"is_pinned":true}`: "",
		`{"title":"a","titel":"b"}`:            "titel",
		`{"content":[],"\u0078":1}`:            "x",
		`{"metadata":{"nested":1},"zzz":null}`: "zzz",
		`[{"zzz":1}]`:                          "",
		`"zzz"`:                                "",
	} {
		got, valid := checkBody([]byte(body), noteCreateMembers)
		require.True(t, valid, body)
		require.Equal(t, want, got, body)
	}
	for _, bad := range []string{``, `{`, `{"a":1,}`, `{"a" 1}`, `[1,]`, `{"a":01}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		"{\"a\":\"\x01\"}", `{"a":tru}`, `{} {}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{'a':1}`, strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001)} {
		_, valid := checkBody([]byte(bad), noteCreateMembers)
		require.False(t, valid, bad)
		require.False(t, json.Valid([]byte(bad)), bad)
	}
}

// FuzzCheckBody holds checkBody to json.Valid: the notes API answers 400 for
// exactly the bodies encoding/json cannot read.
func FuzzCheckBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"title":"a","content":[{"id":"x","props":{"a":[1,2.5e-3,true,null]}}]}`,
		`{"a":"\u00e9\ud800"}`, "[\"\xff\"]", ` -0.0e+1 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, valid := checkBody(body, noteCreateMembers)
		require.Equal(t, json.Valid(body), valid, "%q", body)
	})
}

func BenchmarkCheckBody(b *testing.B) {
	doc := blocknotetest.Document(blocknotetest.Options{Blocks: 500, Tasks: 100, Seed: 1, DueFrom: "2026-01-01", DueDays: 365})
	body, _ := json.Marshal(map[string]any{"title": "Week plan", "content": json.RawMessage(doc), "tags": []string{"a"}})
	b.Run("checkBody", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if u, valid := checkBody(body, noteCreateMembers); !valid || u != "" {
				b.Fatal("refused")
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}
