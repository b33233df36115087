package blocknote

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/consilium-hq/consilium/core/jsonvalue"
)

// The scanner below reads JSON in one pass over the request bytes, keeping
// every value it does not interpret as a sub-slice of the input. It is
// stricter than encoding/json in the ways Postgres' jsonb is: it rejects
// \u0000 and unpaired surrogates, which jsonb cannot store, so a document
// that parses here never fails later in the database.

// maxNesting bounds the nesting of arrays and objects anywhere in a
// document (blocks, props, unknown fields), well below Postgres' limits.
const maxNesting = 256

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func errAt(d []byte, i int, format string, args ...any) error {
	if i >= len(d) {
		return &syntaxError{msg: fmt.Sprintf(format, args...) + " (unexpected end of JSON)"}
	}
	return &syntaxError{msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" (at byte %d)", i)}
}

var errTooDeep = &syntaxError{msg: fmt.Sprintf("JSON is nested more than %d levels deep", maxNesting)}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString checks the string starting at d[i] (a quote) and returns the
// index just past its closing quote and whether it holds escapes.
func scanString(d []byte, i int) (int, bool, error) {
	if i >= len(d) || d[i] != '"' {
		return i, false, errAt(d, i, "expected a string")
	}
	i++
	esc := false
	for i < len(d) {
		c := d[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return i, esc, errAt(d, len(d), "unterminated string")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := jsonvalue.Hex4(d, i+2)
				if !ok {
					return i, esc, errAt(d, i, "invalid \\u escape")
				}
				if r == 0 {
					return i, esc, errAt(d, i, "\\u0000 is not allowed in text")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || i+1 >= len(d) || d[i] != '\\' || d[i+1] != 'u' {
						return i, esc, errAt(d, i, "unpaired UTF-16 surrogate in \\u escape")
					}
					r2, ok := jsonvalue.Hex4(d, i+2)
					if !ok || r2 < 0xdc00 || r2 > 0xdfff {
						return i, esc, errAt(d, i, "unpaired UTF-16 surrogate in \\u escape")
					}
					i += 6
				}
			default:
				return i, esc, errAt(d, i, "invalid escape in string")
			}
		case c < 0x20:
			return i, esc, errAt(d, i, "control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, esc, errAt(d, i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
	return i, esc, errAt(d, i, "unterminated string")
}

// decodeString returns the text of a string token already checked by
// scanString (quotes included in raw).
func decodeString(raw []byte, esc bool) string {
	body := raw[1 : len(raw)-1]
	if !esc {
		return intern(body)
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch body[i+1] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, _ := jsonvalue.Hex4(body, i+2)
			i += 6
			if utf16.IsSurrogate(r) {
				r2, _ := jsonvalue.Hex4(body, i+2)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			b.WriteRune(r)
			continue
		default: // '"', '\\', '/'
			b.WriteByte(body[i+1])
		}
		i += 2
	}
	return b.String()
}

func scanNumber(d []byte, i int) (int, error) {
	start := i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, errAt(d, start, "invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return i, errAt(d, start, "invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return i, errAt(d, start, "invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// scanValue checks the value starting at d[i] (no leading space) and
// returns the index just past it.
func scanValue(d []byte, i, depth int) (int, error) {
	if i >= len(d) {
		return i, errAt(d, i, "expected a value")
	}
	switch c := d[i]; {
	case c == '"':
		end, _, err := scanString(d, i)
		return end, err
	case c == '{':
		if depth >= maxNesting {
			return i, errTooDeep
		}
		return scanObject(d, i, nil, depth+1)
	case c == '[':
		if depth >= maxNesting {
			return i, errTooDeep
		}
		return scanArray(d, i, nil, depth+1)
	case c == 't':
		return literal(d, i, "true")
	case c == 'f':
		return literal(d, i, "false")
	case c == 'n':
		return literal(d, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(d, i)
	default:
		return i, errAt(d, i, "unexpected character %q", c)
	}
}

func literal(d []byte, i int, lit string) (int, error) {
	if len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, errAt(d, i, "invalid literal")
}

// scanObject walks the object at d[i], calling member (when not nil) for
// each key, given as its raw token with quotes, with the bounds of its value
// (already checked), and returns the index past '}'.
func scanObject(d []byte, i int, member func(key []byte, vs, ve int) error, depth int) (int, error) {
	i++ // '{'
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		return i + 1, nil
	}
	for {
		ks := i
		ke, _, err := scanString(d, i)
		if err != nil {
			return i, err
		}
		i = skipSpace(d, ke)
		if i >= len(d) || d[i] != ':' {
			return i, errAt(d, i, "expected ':' after object key")
		}
		vs := skipSpace(d, i+1)
		ve, err := scanValue(d, vs, depth)
		if err != nil {
			return ve, err
		}
		if member != nil {
			if err := member(d[ks:ke], vs, ve); err != nil {
				return ve, err
			}
		}
		i = skipSpace(d, ve)
		if i >= len(d) {
			return i, errAt(d, i, "unterminated object")
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, errAt(d, i, "expected ',' or '}' in object")
		}
	}
}

// scanArray walks the array at d[i], calling elem (when not nil) with the
// bounds of each element (already checked), and returns the index past ']'.
func scanArray(d []byte, i int, elem func(vs, ve int) error, depth int) (int, error) {
	i++ // '['
	i = skipSpace(d, i)
	if i < len(d) && d[i] == ']' {
		return i + 1, nil
	}
	for {
		vs := i
		ve, err := scanValue(d, vs, depth)
		if err != nil {
			return ve, err
		}
		if elem != nil {
			if err := elem(vs, ve); err != nil {
				return ve, err
			}
		}
		i = skipSpace(d, ve)
		if i >= len(d) {
			return i, errAt(d, i, "unterminated array")
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, errAt(d, i, "expected ',' or ']' in array")
		}
	}
}

// kindOf names the JSON kind of a raw value for error messages.
func kindOf(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// rawString decodes a raw JSON string value; ok is false when raw is not a
// string.
func rawString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	return decodeString(raw, hasEscape(raw)), true
}

// writeString writes the text of a raw JSON string to sb without an
// intermediate string; false when raw is not a string.
func writeString(sb *strings.Builder, raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	if hasEscape(raw) {
		sb.WriteString(decodeString(raw, true))
	} else {
		sb.Write(raw[1 : len(raw)-1])
	}
	return true
}

func hasEscape(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' {
			return true
		}
	}
	return false
}

func isNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// appendString appends s as a JSON string. Unlike encoding/json it does not
// escape <, > and &: the output is stored, not embedded in HTML.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"':
				buf = append(buf, '\\', '"')
			case '\\':
				buf = append(buf, '\\', '\\')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

const hexDigit = "0123456789abcdef"

// appendFloat writes a number the way JavaScript's JSON.stringify does for
// the values a size prop holds.
func appendFloat(buf []byte, f float64) []byte {
	return strconv.AppendFloat(buf, f, 'f', -1, 64)
}

// intern returns common prop names and values without allocating.
func intern(b []byte) string {
	switch string(b) {
	case "backgroundColor":
		return "backgroundColor"
	case "textColor":
		return "textColor"
	case "textAlignment":
		return "textAlignment"
	case "default":
		return "default"
	case "left":
		return "left"
	case "level":
		return "level"
	case "isToggleable":
		return "isToggleable"
	case "checked":
		return "checked"
	case "status":
		return "status"
	case "priority":
		return "priority"
	case "dueDate":
		return "dueDate"
	case "dueTime":
		return "dueTime"
	case "size":
		return "size"
	case "description":
		return "description"
	case "source":
		return "source"
	case "sourceReference":
		return "sourceReference"
	case "text":
		return "text"
	case "link":
		return "link"
	case "paragraph":
		return "paragraph"
	case "heading":
		return "heading"
	case "bulletListItem":
		return "bulletListItem"
	case "checkListItem":
		return "checkListItem"
	case "task":
		return "task"
	case "not_started":
		return "not_started"
	case "in_progress":
		return "in_progress"
	case "completed":
		return "completed"
	case "note":
		return "note"
	case "":
		return ""
	}
	return string(b)
}

// The helpers below walk JSON that scanValue has already accepted, so they
// only find boundaries: no validation and no allocation. Every read of a
// document after its first scan goes through them.

// skipString returns the index just past the valid string starting at d[i].
func skipString(d []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return len(d)
		}
		i += j
		n := 0
		for k := i - 1; d[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
}

// skipValid returns the index just past the valid value starting at d[i].
func skipValid(d []byte, i int) int {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // a number or a literal
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// members iterates the members of a valid JSON object.
type members struct {
	d []byte
	i int
}

func objectMembers(obj []byte) members { return members{d: obj, i: 1} }

// next returns the next key (raw, with quotes) and value.
func (m *members) next() (key, val []byte, ok bool) {
	d := m.d
	i := skipSpace(d, m.i)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] != '"' {
		return nil, nil, false
	}
	ke := skipString(d, i)
	key = d[i:ke]
	vs := skipSpace(d, skipSpace(d, ke)+1) // past ':'
	ve := skipValid(d, vs)
	m.i = ve
	return key, d[vs:ve], true
}

// elements iterates the elements of a valid JSON array.
type elements struct {
	d []byte
	i int
}

func arrayElements(arr []byte) elements { return elements{d: arr, i: 1} }

func (e *elements) next() ([]byte, bool) {
	d := e.d
	i := skipSpace(d, e.i)
	if i < len(d) && d[i] == ',' {
		i = skipSpace(d, i+1)
	}
	if i >= len(d) || d[i] == ']' {
		return nil, false
	}
	ve := skipValid(d, i)
	e.i = ve
	return d[i:ve], true
}
