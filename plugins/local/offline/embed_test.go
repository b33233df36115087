package offline

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/wordnet"
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
	texts := []string{"a note", "the taxes are paid"}
	none := sdk.Connection{Config: map[string]string{KeyWordNetDir: t.TempDir()}} // no WordNet there
	resp, err := p.Embed(context.Background(), &sdk.EmbedRequest{Connection: none, Texts: texts})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != ModelEmbed || resp.Dimension != Dimension || len(resp.Vectors) != 2 || len(resp.Vectors[1]) != Dimension {
		t.Fatalf("without WordNet: response %s %d, %d vectors", resp.Model, resp.Dimension, len(resp.Vectors))
	}
	if !slices.Equal(resp.Vectors[1], Embed(texts[1])) {
		t.Error("without WordNet: not the lexical embedding")
	}
	_, err = p.Embed(context.Background(), &sdk.EmbedRequest{Connection: none, Model: ModelEmbedWN, Texts: texts})
	if sdk.CodeOf(err) != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "install-wordnet.sh") {
		t.Errorf("%s without WordNet: %v, want invalid_config saying how to install it", ModelEmbedWN, err)
	}
	_, err = p.Embed(context.Background(), &sdk.EmbedRequest{Model: "text-embedding-3-small", Texts: []string{"x"}})
	if sdk.CodeOf(err) != sdk.CodeNotFound {
		t.Errorf("unknown model: %v, want not_found", err)
	}

	lex := debianWordNet(t)
	resp, err = p.Embed(context.Background(), &sdk.EmbedRequest{Texts: texts})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != ModelEmbedWN || !slices.Equal(resp.Vectors[1], EmbedWordNet(lex, texts[1])) {
		t.Fatalf("with WordNet: model %s, want %s and its vectors", resp.Model, ModelEmbedWN)
	}
	if slices.Equal(resp.Vectors[1], Embed(texts[1])) {
		t.Error("with WordNet: the same vector as without")
	}
	resp, err = p.Embed(context.Background(), &sdk.EmbedRequest{Model: ModelEmbed, Texts: texts})
	if err != nil || resp.Model != ModelEmbed || !slices.Equal(resp.Vectors[1], Embed(texts[1])) {
		t.Errorf("%s asked for with WordNet there: %v, model %s", ModelEmbed, err, resp.Model)
	}
}

// debianWordNet is the installed WordNet; the test is skipped, saying
// where it looked, when there is none.
func debianWordNet(t *testing.T) *wordnet.Lexicon {
	t.Helper()
	lex, err := wordnet.Load(DefaultWordNetDir)
	if err != nil {
		t.Skipf("WordNet is not in %s (scripts/install-wordnet.sh installs it)", DefaultWordNetDir)
	}
	return lex
}

// TestEmbedWordNet: with WordNet, other forms of a word and related words
// come closer than with the lexical features alone, and unrelated texts
// stay apart.
func TestEmbedWordNet(t *testing.T) {
	t.Parallel()
	lex := debianWordNet(t)
	tests := []struct{ a, b, unrelated string }{
		{"when do I have to pay taxes", "Quarterly tax prepayment is due in April", "water the tomatoes every evening"},
		{"waterproofing the basement", "inject a damp-proof course in the cellar", "book the flights to Porto"},
		{"phoning the school when my kid is ill", "Call the office when your child is sick", "the router needs an update"},
	}
	for _, tt := range tests {
		plain := Cosine(Embed(tt.a), Embed(tt.b))
		wn := Cosine(EmbedWordNet(lex, tt.a), EmbedWordNet(lex, tt.b))
		unrel := Cosine(EmbedWordNet(lex, tt.a), EmbedWordNet(lex, tt.unrelated))
		t.Logf("%q ~ %q: %.3f without WordNet, %.3f with; unrelated %.3f", tt.a, tt.b, plain, wn, unrel)
		if wn <= plain {
			t.Errorf("%q ~ %q: %.3f with WordNet, not above %.3f without", tt.a, tt.b, wn, plain)
		}
		if unrel >= wn {
			t.Errorf("%q: unrelated %.3f, not below related %.3f", tt.a, unrel, wn)
		}
	}
}

func BenchmarkEmbed(b *testing.B) {
	text := "Plan the week: finish the quarterly report for the board, book the dentist for Friday at 3pm, " +
		"buy milk and eggs, call mom about the weekend, and go running twice."
	for b.Loop() {
		Embed(text)
	}
}
