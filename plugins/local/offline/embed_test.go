package offline

import (
	"context"
	"math"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
)

func TestEmbedDeterministicAndNormalised(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"Plan the week: groceries, dentist, call mom.", "", "  ...  ", "the the the", "Ünïcödé café 42"} {
		a, b := Embed(text), Embed(text)
		if len(a) != Dimension {
			t.Fatalf("%q: %d dimensions", text, len(a))
		}
		var norm float64
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%q: embedding differs between runs at %d", text, i)
			}
			norm += float64(a[i]) * float64(a[i])
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("%q: squared norm %v, want 1", text, norm)
		}
	}
	// A fixed value pins the hashing: a change to it changes every stored
	// vector, which needs a reindex.
	if v := Embed("buy milk"); math.Abs(Cosine(v, Embed("Buy MILK!"))-1) > 1e-6 {
		t.Error("case and punctuation change the embedding")
	}
}

func TestEmbedSimilarity(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ anchor, similar, unrelated string }{
		"same words reordered": {"buy milk and eggs at the grocery store", "at the grocery store, get eggs and milk",
			"quarterly tax filing deadline for the company"},
		"word forms": {"planning the week ahead", "weekly plans", "call the plumber about the leaking sink"},
		"accents":    {"meet Zoë at the café", "meet Zoe at the cafe", "renew the passport"},
		"typo":       {"dentist appointment on friday", "dentst apointment friday", "water the garden plants"},
		"shared subject": {"write the quarterly report for the board", "the board wants the report by Monday",
			"go running in the park"},
	}
	for name, tt := range tests {
		a := Embed(tt.anchor)
		sim, unrel := Cosine(a, Embed(tt.similar)), Cosine(a, Embed(tt.unrelated))
		if sim <= unrel+0.1 {
			t.Errorf("%s: similar %.3f is not clearly above unrelated %.3f", name, sim, unrel)
		}
		if unrel >= minScore {
			t.Errorf("%s: unrelated texts score %.3f, at or above the quoting threshold %.2f", name, unrel, minScore)
		}
		t.Logf("%s: similar %.3f, unrelated %.3f", name, sim, unrel)
	}
}

func TestEmbedCall(t *testing.T) {
	t.Parallel()
	p := &Plugin{}
	resp, err := p.Embed(context.Background(), &sdk.EmbedRequest{Texts: []string{"a note", "another note"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != ModelEmbed || resp.Dimension != Dimension || len(resp.Vectors) != 2 || len(resp.Vectors[1]) != Dimension {
		t.Fatalf("response %s %d, %d vectors", resp.Model, resp.Dimension, len(resp.Vectors))
	}
	_, err = p.Embed(context.Background(), &sdk.EmbedRequest{Model: "text-embedding-3-small", Texts: []string{"x"}})
	if sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Errorf("unknown model: %v, want not_found", err)
	}
}

func BenchmarkEmbed(b *testing.B) {
	text := "Plan the week: finish the quarterly report for the board, book the dentist for Friday at 3pm, " +
		"buy milk and eggs, call mom about the weekend, and go running twice."
	for b.Loop() {
		Embed(text)
	}
}
