package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// jsonMembers lists the JSON member names of a struct type, as its schema
// lists its properties.
func jsonMembers(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = true
	}
	return out
}

var errSyntax = errors.New("invalid JSON")

// maxBodyNesting is encoding/json's own limit.
const maxBodyNesting = 10000

// checkBody reads body in one pass: it reports whether it is valid JSON (as
// json.Valid would) and, for an object, the first top-level member whose
// name is not known. It replaces json.Valid on the large document bodies,
// so refusing unknown members costs no second pass over a note's content.
func checkBody(body []byte, known map[string]bool) (unknown string, valid bool) {
	s := bodyScan{d: body, known: known}
	s.space()
	if s.value(0) != nil {
		return "", false
	}
	s.space()
	if s.i != len(body) {
		return "", false
	}
	return s.unknown, true
}

type bodyScan struct {
	d       []byte
	i       int
	known   map[string]bool
	unknown string
}

func (s *bodyScan) space() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		return
	}
}

func (s *bodyScan) value(depth int) error {
	if s.i >= len(s.d) {
		return errSyntax
	}
	switch c := s.d[s.i]; {
	case c == '{' || c == '[':
		if depth >= maxBodyNesting {
			return errSyntax
		}
		return s.container(depth + 1)
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return errSyntax
}

func (s *bodyScan) container(depth int) error {
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
			if s.i >= len(s.d) || s.d[s.i] != '"' {
				return errSyntax
			}
			start := s.i
			esc, err := s.str()
			if err != nil {
				return err
			}
			if depth == 1 && s.known != nil && s.unknown == "" {
				s.checkName(s.d[start:s.i], esc)
			}
			s.space()
			if s.i >= len(s.d) || s.d[s.i] != ':' {
				return errSyntax
			}
			s.i++
			s.space()
		}
		if err := s.value(depth); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.d) {
			return errSyntax
		}
		switch s.d[s.i] {
		case ',':
			s.i++
			s.space()
		case end:
			s.i++
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *bodyScan) checkName(quoted []byte, esc bool) {
	var name string
	if esc {
		if json.Unmarshal(quoted, &name) != nil {
			return
		}
	} else {
		name = string(quoted[1 : len(quoted)-1])
	}
	if !s.known[name] {
		s.unknown = name
	}
}

func (s *bodyScan) lit(word string) error {
	if !bytes.HasPrefix(s.d[s.i:], []byte(word)) {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

func (s *bodyScan) digits() int {
	n := 0
	for s.i < len(s.d) && s.d[s.i] >= '0' && s.d[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *bodyScan) number() error {
	if s.d[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.d) && s.d[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return errSyntax
	}
	if s.i < len(s.d) && s.d[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return errSyntax
		}
	}
	if s.i < len(s.d) && (s.d[s.i] == 'e' || s.d[s.i] == 'E') {
		s.i++
		if s.i < len(s.d) && (s.d[s.i] == '+' || s.d[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

// str skips the string at s.i (a quote) and reports whether it has
// escapes. Like json.Valid it does not check UTF-8 (decoding replaces bad
// bytes); the field rules and the document parser check text.
func (s *bodyScan) str() (bool, error) {
	d := s.d
	s.i++
	esc := false
	for s.i < len(d) {
		c := d[s.i]
		switch {
		case c == '"':
			s.i++
			return esc, nil
		case c == '\\':
			esc = true
			if s.i+1 >= len(d) {
				return esc, errSyntax
			}
			switch d[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(d) {
					return esc, errSyntax
				}
				for _, h := range d[s.i+2 : s.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return esc, errSyntax
					}
				}
				s.i += 6
			default:
				return esc, errSyntax
			}
		case c < 0x20:
			return esc, errSyntax
		default:
			s.i++
		}
	}
	return esc, errSyntax
}
