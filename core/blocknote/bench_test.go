package blocknote_test

import (
	"testing"

	"github.com/consilium-hq/consilium/core/blocknote"
	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
)

// BenchmarkParse500: parse, extract tasks and text, and write back the
// 500-block, 100-task note of the save benchmark.
func BenchmarkParse500(b *testing.B) {
	doc := blocknotetest.Document(blocknotetest.Options{Blocks: 500, Tasks: 100, Seed: 1, DueFrom: "2026-01-01", DueDays: 365})
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := blocknote.Parse(doc, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Tasks()) != 100 {
			b.Fatal("tasks")
		}
		_ = d.PlainText()
		_ = d.LinkedNotes()
		_, _ = d.MarshalJSON()
	}
}
