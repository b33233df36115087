package tools

import (
	"encoding/json"

	"github.com/consilium-hq/consilium/core/field"
)

// prop is a JSON Schema of one argument.
type prop map[string]any

// object is the JSON Schema (draft 2020-12) of a tool's arguments: an
// object of props, the required ones listed, nothing else allowed.
func object(props map[string]prop, required ...string) json.RawMessage {
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

func str(desc string) prop { return prop{"type": "string", "description": desc} }

func strMax(desc string, max int) prop {
	return prop{"type": "string", "description": desc, "maxLength": max}
}

func id(desc string) prop { return prop{"type": "string", "format": "uuid", "description": desc} }

func date(desc string) prop { return prop{"type": "string", "format": "date", "description": desc} }

func integer(desc string, min, max int) prop {
	return prop{"type": "integer", "minimum": min, "maximum": max, "description": desc}
}

func boolean(desc string) prop { return prop{"type": "boolean", "description": desc} }

func enum[S ~string](desc string, values []S) prop {
	return prop{"type": "string", "enum": strs(values), "description": desc}
}

func enumList[S ~string](desc string, values []S) prop {
	return prop{"type": "array", "items": prop{"type": "string", "enum": strs(values)}, "uniqueItems": true, "description": desc}
}

// keyList is a list of keys (field.ValidKey), such as task sources.
func keyList(desc string) prop {
	return prop{"type": "array", "items": prop{"type": "string", "pattern": "^[a-z][a-z0-9_-]*$", "maxLength": field.MaxKeyLength},
		"uniqueItems": true, "description": desc}
}

func idList(desc string, max int) prop {
	return prop{"type": "array", "items": prop{"type": "string", "format": "uuid"}, "minItems": 1, "maxItems": max,
		"description": desc}
}

// orNull lets an argument be null too (which clears what it sets).
func orNull(p prop) prop {
	out := prop{}
	for k, v := range p {
		out[k] = v
	}
	out["type"] = []string{p["type"].(string), "null"}
	if e, ok := p["enum"].([]string); ok {
		vals := make([]any, 0, len(e)+1)
		for _, v := range e {
			vals = append(vals, v)
		}
		out["enum"] = append(vals, nil)
	}
	return out
}

func strs[S ~string](values []S) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
