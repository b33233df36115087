package sdk_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/consilium-hq/consilium/sdk"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		name string
		want bool
	}{
		"letters":           {"clickup", true},
		"digits, - and _":   {"gmail-2_work", true},
		"one letter":        {"a", true},
		"63 characters":     {"a" + strings.Repeat("b", 62), true},
		"64 characters":     {"a" + strings.Repeat("b", 63), false},
		"empty":             {"", false},
		"upper case":        {"ClickUp", false},
		"space":             {"click up", false},
		"leading digit":     {"2gmail", false},
		"leading dash":      {"-gmail", false},
		"leading underline": {"_gmail", false},
		"dot":               {"open.ai", false},
		"slash":             {"../local", false},
		"non-ASCII letter":  {"café", false},
		"NUL":               {"ok\x00", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sdk.ValidName(tt.name); got != tt.want {
				t.Fatalf("ValidName(%q) = %t, want %t", tt.name, got, tt.want)
			}
		})
	}
}

// FuzzValidName holds ValidName to the regular expression each of its five
// former copies used, so that replacing them changed no accepted name.
func FuzzValidName(f *testing.F) {
	former := regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	for _, s := range []string{"", "a", "local", "Local", "a-b_c9", "9a", "a\n", strings.Repeat("x", 63), strings.Repeat("x", 64), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := sdk.ValidName(s), former.MatchString(s); got != want {
			t.Fatalf("ValidName(%q) = %t, the former rule says %t", s, got, want)
		}
	})
}
