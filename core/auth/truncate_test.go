package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// TestTruncateMakesHeadersStorable: a User-Agent with invalid UTF-8 or NUL
// answered 500 at login (Postgres text refuses both); cutting a long one
// could split a rune the same way.
func TestTruncateMakesHeadersStorable(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		n    int
		want string
	}{
		"plain":                                {"Mozilla/5.0", 512, "Mozilla/5.0"},
		"invalid utf8":                         {"a\xffb", 512, "a\uFFFDb"},
		"nul":                                  {"a\x00b", 512, "a\uFFFDb"},
		"lone surrogate as sent in UTF-8 form": {"a\xed\xa0\x80b", 512, "a\uFFFDb"},
		"cut at a rune boundary":               {strings.Repeat("é", 300), 511, strings.Repeat("é", 255)},
	} {
		t.Run(name, func(t *testing.T) {
			got := truncate(tc.in, tc.n)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
			require.NotContains(t, got, "\x00")
			require.LessOrEqual(t, len(got), tc.n)
		})
	}
}
