package ai

import (
	"context"
	"slices"
	"strings"
	"unicode"

	"github.com/consilium-hq/consilium/sdk/wordnet"
)

// Weights of a question word's expansions in full-text search (the word
// itself weighs 1): its other forms ("taxes" for "tax", "paid" for "pay")
// and the forms of the words WordNet relates to it ("payment" for "pay",
// "cellar" for "basement").
const (
	formWeight    = 0.9
	relatedWeight = 0.45
	// maxRelatedWords bounds the related words of one question word, and
	// maxExpansions the terms added for one question word.
	maxRelatedWords = 8
	maxExpansions   = 40
)

// lexicon is the WordNet database of ai.wordnet_dir, nil when there is
// none (then words match only as written). It is read once.
func (s *Service) lexicon(ctx context.Context) *wordnet.Lexicon {
	s.lexOnce.Do(func() {
		if s.cfg.WordNetDir == "" {
			return
		}
		lex, err := wordnet.Load(s.cfg.WordNetDir)
		if err != nil {
			s.logger.WarnContext(ctx, "WordNet is not available: full-text search matches words only as written (scripts/install-wordnet.sh installs it)",
				"dir", s.cfg.WordNetDir, "error", err)
			return
		}
		s.lex = lex
	})
	return s.lex
}

// expansion is a term searched for a word of the question, with its weight.
type expansion struct {
	word, term string
	weight     float64
}

// expand returns, for each word of the question WordNet knows, the other
// forms of its base forms and the forms of up to maxRelatedWords related
// words, weighted (formWeight, relatedWeight). Words are split the way the
// question's terms are (lower case, letters and digits); a term the
// question's words already are is left out.
func expand(lex *wordnet.Lexicon, q string) []expansion {
	if lex == nil {
		return nil
	}
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var out []expansion
	for _, w := range slices.Compact(slices.Sorted(slices.Values(words))) {
		if slices.Contains(stopWords, w) {
			continue
		}
		seen := map[string]bool{w: true}
		n := 0
		add := func(t string, weight float64) {
			if seen[t] || n >= maxExpansions || slices.Contains(stopWords, t) {
				return
			}
			seen[t] = true
			n++
			out = append(out, expansion{w, t, weight})
		}
		lemmas := lex.Lemmas(w)
		for _, l := range lemmas {
			add(l, formWeight)
			for _, f := range lex.Inflections(l) {
				add(f, formWeight)
			}
		}
		var related []string
		for _, rel := range []wordnet.Relation{wordnet.Derived, wordnet.Synonym} {
			for _, l := range lemmas {
				for _, r := range lex.Related(l) {
					if r.Relation == rel && len(related) < maxRelatedWords && !seen[r.Word] && !slices.Contains(related, r.Word) {
						related = append(related, r.Word)
					}
				}
			}
		}
		for _, r := range related {
			add(r, relatedWeight)
			for _, f := range lex.Inflections(r) {
				add(f, relatedWeight)
			}
		}
	}
	return out
}
