package api

import (
	"bytes"
	"encoding/json"
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

// unknownMember returns the first member of the JSON object body whose name
// is not known. body must be valid JSON; anything but an object has no
// members. It looks at the top level only, jumping over the values (a
// note's content is most of the body) with bytes.IndexByte.
func unknownMember(body []byte, known map[string]bool) (string, bool) {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipWS(body, i)
		if i >= len(body) || body[i] != '"' {
			return "", false // "}" of an empty object
		}
		end := stringEnd(body, i)
		key := body[i:end]
		var name string
		if bytes.IndexByte(key, '\\') >= 0 {
			if json.Unmarshal(key, &name) != nil {
				return "", false
			}
		} else {
			name = string(key[1 : len(key)-1])
		}
		if !known[name] {
			return name, true
		}
		i = skipWS(body, end)
		i = valueEnd(body, i+1) // past ':'
		i = skipWS(body, i)
		if i >= len(body) || body[i] != ',' {
			return "", false
		}
		i++
	}
}

func skipWS(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at d[i].
func stringEnd(d []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return len(d)
		}
		i += j
		n := 0
		for k := i - 1; k >= 0 && d[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// valueEnd returns the index just past the value that starts at or after
// d[i] (valid JSON).
func valueEnd(d []byte, i int) int {
	depth := 0
	for i < len(d) {
		switch d[i] {
		case '"':
			i = stringEnd(d, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}
