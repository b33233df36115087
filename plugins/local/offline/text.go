package offline

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// words splits text into lower-case words of letters and digits, with
// accents removed so that "Café" and "cafe" are the same word.
func words(text string) []string {
	var out []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			out = append(out, w.String())
			w.Reset()
		}
	}
	for _, r := range norm.NFKD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark left by NFKD: drop it, keep the word going.
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			w.WriteRune(unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return out
}

// stopWords are frequent English words that say little about a text's
// subject; they count for little in embeddings.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a about above after again all am an and any are as at be because been before being
		below between both but by can could did do does doing down during each few for from further had has have having
		he her here hers him his how i if in into is it its just me more most my no nor not now of off on once only or
		other our ours out over own same she should so some such than that the their theirs them then there these they
		this those through to too under until up very was we were what when where which while who whom why will with
		would you your yours`) {
		stopWords[w] = true
	}
}
