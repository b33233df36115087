package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// nullable is an argument that may be left out, set, or set to null (which
// clears the field it changes).
type nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// decode reads a tool's arguments, a JSON object, into dst (a pointer to a
// struct whose fields carry json tags). Every unknown argument and every
// argument of the wrong JSON type is a field error naming it; null is an
// argument left out (nullable fields record it). What the values may be is
// for the core services to say.
func decode(args json.RawMessage, dst any) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage(`{}`)
	}
	if args[0] != '{' {
		return apperr.Field("", "the arguments must be a JSON object", nil)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(args, &raw); err != nil {
		return apperr.Field("", "the arguments are not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "), nil)
	}
	v := reflect.ValueOf(dst).Elem()
	fields := argFields(v.Type())
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []apperr.FieldError
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			errs = append(errs, apperr.FieldError{Location: k,
				Message: "is not an argument of this tool; its arguments are " + strings.Join(argNames(v.Type()), ", ")})
			continue
		}
		f := v.FieldByIndex(i)
		if err := json.Unmarshal(raw[k], f.Addr().Interface()); err != nil {
			errs = append(errs, apperr.FieldError{Location: k, Message: "must be " + jsonType(f.Type()), Value: shortJSON(raw[k])})
		}
	}
	if len(errs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: errs}
	}
	return nil
}

// argFields maps the json names of a struct's fields (those of embedded
// structs too) to their index paths.
func argFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if name := jsonName(f); name != "" && !f.Anonymous {
			out[name] = f.Index
		}
	}
	return out
}

func argNames(t reflect.Type) []string {
	var out []string
	for name := range argFields(t) {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// jsonType says in words what JSON a Go type decodes from.
func jsonType(t reflect.Type) string {
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "nullable[") {
		return jsonType(t.Field(2).Type) + " or null"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonType(t.Elem()), "a "), "an ") + "s"
	}
	return fmt.Sprintf("a %s", t.Kind())
}

// shortJSON is a bad value as the error shows it: at most 100 bytes.
func shortJSON(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 100 {
		s = strings.ToValidUTF8(s[:100], "") + "…"
	}
	return s
}

// optionalID reads an id argument that may be left out ("" gives nil).
func optionalID(name, s string) (*uuid.UUID, error) {
	if s == "" {
		return nil, nil
	}
	id, err := field.ID(name, s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// ids reads a list of ids, naming a bad one by its index.
func ids(name string, ss []string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(ss))
	for i, s := range ss {
		id, err := field.ID(fmt.Sprintf("%s[%d]", name, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}
