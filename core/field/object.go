package field

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// Limits of a free JSON object (metadata, preferences).
const (
	// MaxObjectBytes is the size of the object as sent, whitespace included.
	MaxObjectBytes = 64 << 10
	// MaxObjectDepth bounds the nesting of arrays and objects, the object
	// itself counting as 1. Metadata is for flat settings a frontend keeps;
	// 32 leaves room for any sane use and keeps the object far below what
	// BlockNote documents (which carry task metadata) and Postgres allow.
	MaxObjectDepth = 32
)

// Object checks a free JSON object: at most MaxObjectBytes, nested at most
// MaxObjectDepth deep, valid UTF-8, and no \u0000 or unpaired surrogate
// escape (Postgres' jsonb refuses both). It returns the object without
// insignificant whitespace, raw itself when it had none; nil gives {}. It
// reads raw once and allocates only when it has whitespace to drop.
func Object(name string, raw []byte) (json.RawMessage, error) {
	if raw == nil {
		return json.RawMessage(`{}`), nil
	}
	if len(raw) > MaxObjectBytes {
		return nil, apperr.Field(name, fmt.Sprintf("must be at most %d bytes of JSON", MaxObjectBytes), nil)
	}
	s := scanner{d: raw}
	s.space()
	if s.i == len(raw) || raw[s.i] != '{' {
		return nil, apperr.Field(name, "must be a JSON object", nil)
	}
	if err := s.value(0); err != nil {
		return nil, apperr.Field(name, err.Error(), nil)
	}
	s.space()
	if s.i != len(raw) {
		return nil, apperr.Field(name, fmt.Sprintf("must be one JSON object: unexpected data at byte %d", s.i), nil)
	}
	if s.out == nil {
		return raw, nil
	}
	s.flush(len(raw))
	return s.out, nil
}

// scanner validates JSON and drops whitespace between tokens: out stays
// nil until the first whitespace to drop, then collects d[from:] pieces.
type scanner struct {
	d    []byte
	i    int
	from int // start of the bytes not yet copied to out
	out  []byte
}

type syntaxError string

func (e syntaxError) Error() string { return string(e) }

func (s *scanner) fail(format string, args ...any) error {
	if s.i >= len(s.d) {
		return syntaxError(fmt.Sprintf(format, args...) + " (unexpected end of JSON)")
	}
	return syntaxError(fmt.Sprintf(format, args...) + fmt.Sprintf(" (at byte %d)", s.i))
}

func (s *scanner) flush(to int) {
	if s.out == nil {
		s.out = make([]byte, 0, len(s.d))
	}
	s.out = append(s.out, s.d[s.from:to]...)
	s.from = to
}

// space skips whitespace, dropping it from the output.
func (s *scanner) space() {
	start := s.i
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		break
	}
	if s.i > start {
		s.flush(start)
		s.from = s.i
	}
}

func (s *scanner) value(depth int) error {
	s.space()
	if s.i >= len(s.d) {
		return s.fail("expected a value")
	}
	switch c := s.d[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxObjectDepth {
			return syntaxError(fmt.Sprintf("must not be nested more than %d levels deep", MaxObjectDepth))
		}
		return s.container(depth + 1)
	case c == '"':
		return s.str()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	default:
		return s.fail("unexpected character %q", c)
	}
}

func (s *scanner) container(depth int) error {
	obj := s.d[s.i] == '{'
	end := byte(']')
	if obj {
		end = '}'
	}
	s.i++
	s.space()
	if s.i < len(s.d) && s.d[s.i] == end {
		s.i++
		return nil
	}
	for {
		if obj {
			s.space()
			if s.i >= len(s.d) || s.d[s.i] != '"' {
				return s.fail("expected a member name")
			}
			if err := s.str(); err != nil {
				return err
			}
			s.space()
			if s.i >= len(s.d) || s.d[s.i] != ':' {
				return s.fail("expected ':'")
			}
			s.i++
		}
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.d) {
			return s.fail("unterminated object or array")
		}
		switch s.d[s.i] {
		case ',':
			s.i++
		case end:
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '%c'", end)
		}
	}
}

func (s *scanner) lit(word string) error {
	if len(s.d)-s.i < len(word) || string(s.d[s.i:s.i+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.i += len(word)
	return nil
}

func (s *scanner) number() error {
	d, start := s.d, s.i
	digits := func() int {
		n := 0
		for s.i < len(d) && d[s.i] >= '0' && d[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if d[s.i] == '-' {
		s.i++
	}
	if s.i < len(d) && d[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.fail("invalid number")
	}
	if s.i < len(d) && d[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.fail("invalid number")
		}
	}
	if s.i < len(d) && (d[s.i] == 'e' || d[s.i] == 'E') {
		s.i++
		if s.i < len(d) && (d[s.i] == '+' || d[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.fail("invalid number")
		}
	}
	if s.i == start {
		return s.fail("invalid number")
	}
	return nil
}

// str checks the string at s.i (a quote) the way jsonb reads it.
func (s *scanner) str() error {
	d := s.d
	s.i++
	for s.i < len(d) {
		c := d[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			if s.i+1 >= len(d) {
				return s.fail("unterminated string")
			}
			switch d[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				r, ok := jsonvalue.Hex4(d, s.i+2)
				if !ok {
					return s.fail("invalid \\u escape")
				}
				if r == 0 {
					return s.fail("must not contain \\u0000")
				}
				s.i += 6
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if r < 0xdc00 && s.i+1 < len(d) && d[s.i] == '\\' && d[s.i+1] == 'u' {
						r2, ok = jsonvalue.Hex4(d, s.i+2)
					}
					if !ok || r2 < 0xdc00 || r2 > 0xdfff {
						return s.fail("must not contain an unpaired UTF-16 surrogate")
					}
					s.i += 6
				}
			default:
				return s.fail("invalid escape in string")
			}
		case c < 0x20:
			return s.fail("control character in string")
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(d[s.i:])
			if r == utf8.RuneError && size <= 1 {
				return s.fail("must be valid UTF-8")
			}
			s.i += size
		}
	}
	return s.fail("unterminated string")
}
