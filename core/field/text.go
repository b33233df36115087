package field

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/core/apperr"
)

// Text checks a free text (a description, a search query, a reflection): valid
// UTF-8, no NUL (Postgres' text refuses both) and at most max characters
// (max <= 0: no limit). It reads s once.
func Text(name, s string, max int) error {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0:
			return apperr.Field(name, "must not contain NUL characters", nil)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				return apperr.Field(name, "must be valid UTF-8", nil)
			}
			i += size
		}
		n++
	}
	if max > 0 && n > max {
		return apperr.Field(name, fmt.Sprintf("must be at most %d characters", max), nil)
	}
	return nil
}

// Title trims a title (of a note, task, goal or document) and checks it as
// Text. An empty title is the caller's to allow or refuse (see Required).
func Title(name, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	return s, Text(name, s, max)
}

// Required refuses a value that is empty once trimmed.
func Required(name, s string) error {
	if strings.TrimSpace(s) == "" {
		return apperr.Field(name, "must not be empty", nil)
	}
	return nil
}

// Name trims a short name (a person's full name, a tag) and checks it as
// Text, without control characters (newlines and tabs included): a name is
// one line.
func Name(name, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if err := Text(name, s, max); err != nil {
		return "", err
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", apperr.Field(name, "must not contain control characters", nil)
	}
	return s, nil
}

// Tags checks that at most maxTags tags are sent, trims them, checks each
// as a Name of at most maxLength characters and drops exact duplicates
// (keeping the first, and the case it was typed in).
func Tags(name string, tags []string, maxTags, maxLength int) ([]string, error) {
	if len(tags) > maxTags {
		return nil, apperr.Field(name, fmt.Sprintf("at most %d tags are allowed", maxTags), nil)
	}
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		at := fmt.Sprintf("%s[%d]", name, i)
		t, err := Name(at, t, maxLength)
		if err != nil {
			return nil, err
		}
		if t == "" {
			return nil, apperr.Field(at, "must not be empty", nil)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// Clean makes informational text that is kept but never refused (the
// User-Agent of a session) safe to store: invalid UTF-8 and NUL are dropped
// and it is cut to at most maxBytes on a character boundary.
func Clean(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxBytes {
		for maxBytes > 0 && !utf8.RuneStart(s[maxBytes]) {
			maxBytes--
		}
		s = s[:maxBytes]
	}
	return s
}
