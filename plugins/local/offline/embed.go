package offline

import (
	"hash/fnv"
	"maps"
	"math"
	"slices"

	"github.com/consilium-hq/consilium/sdk/wordnet"
)

// Dimension is the length of the lexical embeddings.
const Dimension = 384

// Feature weights. A word counts fully, a pair of neighbouring words a
// little less; a word's character n-grams share about as much weight as the
// word itself, so that "plans" and "planning" come out close. Stop words
// count for little and have no n-grams.
const (
	wordWeight     = 1.0
	stopWordWeight = 0.15
	pairWeight     = 0.6
	gramsWeight    = 0.8
	minGram        = 3
	maxGram        = 5
	// With WordNet (EmbedWordNet): a word's base forms ("taxes" → "tax")
	// share lemmaWeight, and the words WordNet relates to them (synonyms,
	// derived forms: "pay" → "payment") relatedWeight; both are added as
	// words, so "taxes" meets "tax" and "pay" meets "payment".
	lemmaWeight   = 0.8
	relatedWeight = 0.8
	maxRelated    = 4
)

// Embed returns the lexical embedding of text: features (words, word pairs,
// character 3- to 5-grams of each word with its boundaries) are hashed into
// Dimension buckets with a hash-chosen sign, so that colliding features
// cancel out rather than pile up; repeated features count sublinearly
// (1 + ln n); the vector is L2-normalised, so a dot product is the cosine
// similarity. It is deterministic and needs no model. A text without words
// gets a fixed unit vector.
func Embed(text string) []float32 { return EmbedWordNet(nil, text) }

// EmbedWordNet is Embed with the features of each word's base forms and
// related words from lex (see lemmaWeight); with a nil lex it is Embed.
func EmbedWordNet(lex *wordnet.Lexicon, text string) []float32 {
	feats := map[string]float64{}
	counts := map[string]int{}
	add := func(key string, w float64) {
		feats[key] += w
		counts[key]++
	}
	ws := words(text)
	for i, w := range ws {
		stop := stopWords[w]
		if stop {
			add("w:"+w, stopWordWeight)
		} else {
			add("w:"+w, wordWeight)
			grams := charGrams(w)
			for _, g := range grams {
				add("c:"+g, gramsWeight/math.Sqrt(float64(len(grams))))
			}
			if lex != nil {
				lemmas, related := expand(lex, w)
				for _, l := range lemmas {
					add("w:"+l, lemmaWeight/float64(len(lemmas)))
				}
				for _, r := range related {
					add("w:"+r, relatedWeight/math.Sqrt(float64(len(related))))
				}
			}
		}
		if i > 0 && !(stop && stopWords[ws[i-1]]) {
			add("p:"+ws[i-1]+" "+w, pairWeight)
		}
	}
	if len(feats) == 0 {
		add("empty", 1)
	}
	// Sum in a fixed order: float addition is not associative, and map
	// order is random.
	keys := slices.Sorted(maps.Keys(feats))
	v := make([]float64, Dimension)
	for _, key := range keys {
		// The mean weight, scaled sublinearly by how often it occurs.
		n := float64(counts[key])
		w := feats[key] / n * (1 + math.Log(n))
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		sign := 1.0
		if h.Sum64()>>63 == 1 {
			sign = -1
		}
		v[h.Sum64()%Dimension] += sign * w
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		// Every feature cancelled out (possible, not likely): fall back to
		// the empty text's vector rather than a zero vector, whose cosine
		// is undefined.
		return EmbedWordNet(lex, "")
	}
	norm = math.Sqrt(norm)
	out := make([]float32, Dimension)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// charGrams returns the character n-grams of a word marked with its
// boundaries: "<milk>" gives "<mi", "mil", "ilk", "lk>", "<mil", ….
func charGrams(word string) []string {
	r := []rune("<" + word + ">")
	var out []string
	for n := minGram; n <= maxGram; n++ {
		for i := 0; i+n <= len(r); i++ {
			out = append(out, string(r[i:i+n]))
		}
	}
	return out
}

// Cosine returns the cosine similarity of two normalised vectors.
func Cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// expand returns the base forms of w other than w, and up to maxRelated
// words related to its base forms (derived forms first), none of them w,
// a base form or a stop word.
func expand(lex *wordnet.Lexicon, w string) (lemmas, related []string) {
	all := lex.Lemmas(w)
	for _, l := range all {
		if l != w {
			lemmas = append(lemmas, l)
		}
	}
	skip := func(r string) bool {
		return r == w || stopWords[r] || slices.Contains(all, r) || slices.Contains(related, r)
	}
	for _, rel := range []wordnet.Relation{wordnet.Derived, wordnet.Synonym} {
		for _, l := range all {
			for _, r := range lex.Related(l) {
				if r.Relation == rel && len(related) < maxRelated && !skip(r.Word) {
					related = append(related, r.Word)
				}
			}
		}
	}
	return lemmas, related
}
