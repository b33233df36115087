package jsonvalue_test

import (
	"crypto/sha256"
	"testing"

	"github.com/consilium-hq/consilium/core/blocknote/blocknotetest"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// BenchmarkHash500: the content hash of the 500-block, 100-task note of the
// save benchmark (what every note save computes), beside hashing its bytes.
func BenchmarkHash500(b *testing.B) {
	doc := blocknotetest.Document(blocknotetest.Options{Blocks: 500, Tasks: 100, Seed: 1, DueFrom: "2026-01-01", DueDays: 365})
	b.Run("canonical", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonvalue.Hash(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			_ = sha256.Sum256(doc)
		}
	})
}
