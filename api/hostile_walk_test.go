package api_test

// The schema walker of TestHostileInput: it reads the served OpenAPI
// document and plans, for every operation, one probe per hostile value of
// every body property (recursively), query parameter, path parameter and
// header parameter. Probes are plain data; hostile_test.go sends them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// openAPIDoc is the part of the OpenAPI 3.1 document the walker reads;
// schemas stay generic maps so that any keyword a new operation uses is
// seen.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

type schema = map[string]any

type apiOperation struct {
	ID        string
	Method    string
	Path      string // as in the document, without the /api prefix
	Public    bool   // no security requirement: sent without a token
	Params    []apiParam
	Body      schema // the application/json request body, resolved; nil: none
	Multipart bool   // the operation also (or only) takes multipart/form-data
}

type apiParam struct {
	In     string // path, query, header
	Name   string
	Schema schema
}

// operations lists every operation of the document, sorted by id.
func (d *openAPIDoc) operations(t testing.TB) []*apiOperation {
	t.Helper()
	var ops []*apiOperation
	for path, methods := range d.Paths {
		for method, raw := range methods {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue // path-level parameters, summary, ...
			}
			var op struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
				Parameters  []struct {
					In     string `json:"in"`
					Name   string `json:"name"`
					Schema schema `json:"schema"`
				} `json:"parameters"`
				RequestBody *struct {
					Content map[string]struct {
						Schema schema `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			require.NoError(t, json.Unmarshal(raw, &op), "%s %s", method, path)
			require.NotEmpty(t, op.OperationID, "%s %s has no operationId", method, path)
			o := &apiOperation{ID: op.OperationID, Method: strings.ToUpper(method), Path: path, Public: len(op.Security) == 0}
			for _, p := range op.Parameters {
				o.Params = append(o.Params, apiParam{In: p.In, Name: p.Name, Schema: d.resolve(p.Schema)})
			}
			if rb := op.RequestBody; rb != nil {
				for ct, mt := range rb.Content {
					switch {
					case strings.HasPrefix(ct, "application/json"):
						o.Body = d.resolve(mt.Schema)
					case strings.HasPrefix(ct, "multipart/"):
						o.Multipart = true
					default:
						t.Fatalf("%s: request content type %s: the hostile walker does not know it; teach it", o.ID, ct)
					}
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops
}

// resolve follows a $ref to components/schemas.
func (d *openAPIDoc) resolve(s schema) schema {
	for s != nil {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	}
	return s
}

// types are a schema's types without null; nullable says whether null is allowed.
func schemaTypes(s schema) (types []string, nullable bool) {
	switch v := s["type"].(type) {
	case string:
		types = []string{v}
	case []any:
		for _, x := range v {
			types = append(types, x.(string))
		}
	}
	if i := slices.Index(types, "null"); i >= 0 {
		return slices.Delete(types, i, i+1), true
	}
	if n, _ := s["nullable"].(bool); n {
		nullable = true
	}
	return types, nullable
}

func schemaType(s schema) string {
	types, _ := schemaTypes(s)
	if len(types) == 0 {
		return ""
	}
	return types[0]
}

// freeForm says whether an object takes properties the schema does not name.
func freeForm(s schema) bool {
	switch ap := s["additionalProperties"].(type) {
	case bool:
		return ap
	case map[string]any:
		return true
	}
	_, hasProps := s["properties"]
	return !hasProps
}

// ---- values -----------------------------------------------------------

// rawJSON is sent byte for byte: the hostile values encoding/json would
// repair (lone surrogates, invalid UTF-8) or cannot express (1e308 as
// written, 2^63 as an integer, nesting deeper than it likes).
type rawJSON string

// encodeJSON writes v with keys sorted and rawJSON verbatim.
func encodeJSON(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case rawJSON:
		buf.WriteString(string(x))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			buf.Write(kb)
			buf.WriteByte(':')
			encodeJSON(buf, x[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeJSON(buf, e)
		}
		buf.WriteByte(']')
	default:
		b, err := json.Marshal(x)
		if err != nil {
			panic(err)
		}
		buf.Write(b)
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// setAt returns a copy of root with the value at path replaced (path
// segments are string keys and int indexes; missing objects are made).
func setAt(root any, path []any, val any) any {
	if len(path) == 0 {
		return val
	}
	switch seg := path[0].(type) {
	case string:
		m, ok := deepCopy(root).(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		m[seg] = setAt(m[seg], path[1:], val)
		return m
	case int:
		s, _ := deepCopy(root).([]any)
		for len(s) <= seg {
			s = append(s, map[string]any{})
		}
		s[seg] = setAt(s[seg], path[1:], val)
		return s
	}
	panic(fmt.Sprintf("path segment %T", path[0]))
}

func pathString(prefix string, path []any) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, seg := range path {
		switch s := seg.(type) {
		case string:
			b.WriteString("." + s)
		case int:
			b.WriteString("[" + strconv.Itoa(s) + "]")
		}
	}
	return b.String()
}

// ---- hostile values ---------------------------------------------------

const (
	oversizeBody = 1 << 20  // a string in a body: 1 MiB
	oversizeURL  = 64 << 10 // in the URL or a header: under net/http's header limit, so the API sees it
	deepLevels   = 300
	manyItems    = 1_000 // over every maxItems
)

type hostile struct {
	kind string
	val  any // body: a value or rawJSON; URL and headers: the already-escaped string
	// refuse, when set, says why the API must refuse the value (a rule
	// the document declares, or one issue 9 states): a 2xx then fails.
	refuse string
}

func bodyStringHostiles() []hostile {
	return []hostile{
		{kind: "nul", val: "a\u0000b"},
		{kind: "lone-surrogate", val: rawJSON(`"a\ud800b"`)},
		{kind: "lone-low-surrogate", val: rawJSON(`"\udc00"`)},
		{kind: "invalid-utf8", val: rawJSON("\"a\xffb\"")},
		{kind: "oversize-1MiB", val: strings.Repeat("x", oversizeBody)},
		{kind: "wrong-type:number", val: 12345},
		{kind: "wrong-type:object", val: map[string]any{"a": 1}},
	}
}

var farDates = []string{"0000-01-01", "9999-12-31", "10000-01-01", "-0001-01-01"}

func numberHostiles() []hostile {
	return []hostile{
		{kind: "number:1e308", val: rawJSON("1e308")},
		{kind: "number:-1e308", val: rawJSON("-1e308")},
		{kind: "number:99999999999", val: rawJSON("99999999999")},
		{kind: "number:-1", val: rawJSON("-1")},
		{kind: "number:2^63", val: rawJSON("9223372036854775808")},
		{kind: "wrong-type:string", val: "12"},
	}
}

func deepObject() rawJSON {
	return rawJSON(strings.Repeat(`{"a":`, deepLevels) + "1" + strings.Repeat("}", deepLevels))
}

func deepArray() rawJSON {
	return rawJSON(strings.Repeat("[", deepLevels) + "1" + strings.Repeat("]", deepLevels))
}

// dateLike says whether a field holds a date by its format or name.
func dateLike(name string, s schema) bool {
	f, _ := s["format"].(string)
	if f == "date" || f == "date-time" {
		return true
	}
	n := strings.ToLower(name)
	return strings.Contains(n, "date") || strings.HasPrefix(n, "due_") || n == "from" || n == "to" ||
		strings.HasPrefix(n, "period_start") || strings.HasPrefix(n, "period_end")
}

func idLike(name string, s schema) bool {
	f, _ := s["format"].(string)
	// A block's "id" is any string unique in its document: not an id here.
	return f == "uuid" || strings.HasSuffix(name, "_id") || strings.HasSuffix(name, "Id")
}

// ---- probes -----------------------------------------------------------

// probe is one request: the valid request with exactly one thing changed.
type probe struct {
	where  string // body.metadata, query.q, path.note_id, header.If-Match
	kind   string
	refuse string // see hostile.refuse
	// body: a replacement at bodyPath; or param: a replacement of one
	// parameter (already escaped for the URL; raw bytes for headers).
	bodySet    bool // bodyPath/bodyVal replace a value (path empty: the whole body)
	bodyPath   []any
	bodyVal    any
	param      *apiParam
	paramVal   string
	extraQuery string // another query parameter sent with param
	// rawQuery and rawBody replace the whole query or body.
	rawQuery string
	rawBody  []byte
}

// planProbes lists the probes of op given its valid body.
func planProbes(op *apiOperation, validBody any) []probe {
	var out []probe
	if op.Body != nil {
		// One 1 MiB string per operation meets the body limit; every other
		// string gets 65 KiB, over every field's limit and under the
		// body's, so that the field's own rule answers (and the race
		// detector's CI run stays short).
		big := false
		walkBody(op.Body, validBody, nil, "", func(path []any, h hostile) {
			switch h.kind {
			case "oversize-1MiB":
				if big {
					h.kind, h.val = "oversize-65KiB", strings.Repeat("x", 65<<10)
				}
				big = true
			}
			out = append(out, probe{where: pathString("body", path), kind: h.kind, refuse: h.refuse, bodySet: true, bodyPath: slices.Clone(path), bodyVal: h.val})
		})
	}
	for i := range op.Params {
		p := &op.Params[i]
		if p.In == "header" && strings.EqualFold(p.Name, "Content-Type") {
			continue // the body's own type; multipart cases cover it
		}
		for _, h := range paramHostiles(p) {
			out = append(out, probe{where: p.In + "." + p.Name, kind: h.kind, refuse: h.refuse, param: p, paramVal: h.val.(string)})
			if p.In != "query" || !strings.HasPrefix(h.kind, "date:") {
				continue
			}
			// Date arithmetic depends on its siblings (a summary's period):
			// far dates are also sent with every value of every enum
			// query parameter of the operation.
			for j := range op.Params {
				q := &op.Params[j]
				if q.In != "query" || q == p {
					continue
				}
				for _, v := range enumValues(q.Schema) {
					extra := url.QueryEscape(q.Name) + "=" + url.QueryEscape(v)
					out = append(out, probe{where: p.In + "." + p.Name + " (" + extra + ")", kind: h.kind, refuse: h.refuse,
						param: p, paramVal: h.val.(string), extraQuery: extra})
				}
			}
		}
	}
	return out
}

// enumValues are the string values a parameter's schema (or its items)
// enumerates.
func enumValues(s schema) []string {
	if items, ok := s["items"].(map[string]any); ok {
		s = items
	}
	en, _ := s["enum"].([]any)
	var out []string
	for _, e := range en {
		if v, ok := e.(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// walkBody calls emit for every hostile value of the node at path and of
// everything below it: the schema's properties and items, and, where the
// schema is free-form, whatever the valid value holds.
func walkBody(s schema, val any, path []any, name string, emit0 func([]any, hostile)) {
	emit := func(path []any, h hostile) {
		if h.refuse == "" {
			h.refuse = bodyRefuses(s, name, path, h)
		}
		emit0(path, h)
	}
	typ := schemaType(s)
	_, nullable := schemaTypes(s)
	if typ == "" && s != nil {
		if _, ok := s["properties"]; ok {
			typ = "object"
		}
	}
	if typ == "" { // any: judge by the valid value
		switch val.(type) {
		case string:
			typ = "string"
		case map[string]any:
			typ = "object"
		case []any:
			typ = "array"
		case float64, int, json.Number:
			typ = "number"
		case bool:
			typ = "boolean"
		}
	}
	if len(path) > 0 && !nullable && typ != "" {
		emit(path, hostile{kind: "null", val: nil})
	}
	switch typ {
	case "string":
		for _, h := range bodyStringHostiles() {
			emit(path, h)
		}
		if dateLike(name, s) {
			for _, d := range farDates {
				emit(path, hostile{kind: "date:" + d, val: d})
			}
			emit(path, hostile{kind: "date:not-a-date", val: "2026-02-30"})
		}
		if idLike(name, s) {
			emit(path, hostile{kind: "id:malformed", val: "not-a-uuid"})
			emit(path, hostile{kind: "id:nil-uuid", val: "00000000-0000-0000-0000-000000000000"})
		}
	case "integer", "number":
		for _, h := range numberHostiles() {
			emit(path, h)
		}
		if typ == "integer" {
			emit(path, hostile{kind: "wrong-type:fraction", val: rawJSON("1.5")})
		}
	case "boolean":
		emit(path, hostile{kind: "wrong-type:string", val: "true"})
		emit(path, hostile{kind: "wrong-type:number", val: 1})
	case "array":
		emit(path, hostile{kind: "wrong-type:object", val: map[string]any{}})
		emit(path, hostile{kind: "wrong-type:string", val: "x"})
		var item any = "x"
		if arr, ok := val.([]any); ok && len(arr) > 0 {
			item = arr[0]
		}
		many := make([]any, manyItems)
		for i := range many {
			many[i] = item
		}
		emit(path, hostile{kind: fmt.Sprintf("oversize-array-%d", manyItems), val: many})
		emit(path, hostile{kind: "deep-nesting-array", val: deepArray()})
		items, _ := s["items"].(map[string]any)
		if arr, ok := val.([]any); ok && len(arr) > 0 {
			walkBody(items, arr[0], append(slices.Clone(path), 0), name, emit0)
		} else if items != nil {
			walkBody(items, nil, append(slices.Clone(path), 0), name, emit0)
		}
	case "object":
		emit(path, hostile{kind: "wrong-type:array", val: []any{}})
		emit(path, hostile{kind: "wrong-type:string", val: "x"})
		free := s == nil || freeForm(s)
		if free {
			emit(path, hostile{kind: "deep-nesting-object", val: deepObject()})
			emit(path, hostile{kind: "deep-nesting-array", val: rawJSON(`{"a":` + string(deepArray()) + `}`)})
			emit(path, hostile{kind: "nul-in-key", val: rawJSON(`{"a\u0000b":1}`)})
			emit(path, hostile{kind: "lone-surrogate-in-key", val: rawJSON(`{"\ud800":1}`)})
			emit(path, hostile{kind: "invalid-utf8-in-key", val: rawJSON("{\"\xff\":1}")})
			emit(path, hostile{kind: "oversize-70KiB-value", val: map[string]any{"a": strings.Repeat("x", 70<<10)}})
		}
		props, _ := s["properties"].(map[string]any)
		vm, _ := val.(map[string]any)
		names := make([]string, 0, len(props)+len(vm))
		for k := range props {
			names = append(names, k)
		}
		for k := range vm {
			if _, ok := props[k]; !ok && free {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			ps, _ := props[k].(map[string]any)
			walkBody(ps, vm[k], append(slices.Clone(path), k), k, emit0)
		}
	}
}

// bodyRefuses says why a body value must be refused: a rule of its
// schema (s is nil for a value inside a free-form object, which has none),
// or the nesting and metadata size limits issue 9 states for every body.
func bodyRefuses(s schema, name string, path []any, h hostile) string {
	switch {
	case strings.HasPrefix(h.kind, "deep-nesting"):
		return "nesting limit"
	case h.kind == "oversize-70KiB-value" && (len(path) == 0 || name == "metadata"):
		return "64 KiB limit"
	}
	if s == nil {
		return ""
	}
	return schemaRefuses(s, name, h, true)
}

// schemaRefuses applies a schema's declared rules to a hostile value.
func schemaRefuses(s schema, name string, h hostile, body bool) string {
	typ := schemaType(s)
	switch {
	case typ == "":
		return ""
	case h.kind == "null":
		return "" // many fields take null as absent: only a 5xx fails
	case strings.HasPrefix(h.kind, "wrong-type"):
		return "type " + typ
	case (h.kind == "oversize-1MiB" || h.kind == "oversize-65KiB") && s["maxLength"] != nil:
		return "maxLength"
	case strings.HasPrefix(h.kind, "oversize-array") && s["maxItems"] != nil:
		return "maxItems"
	case strings.HasPrefix(h.kind, "date:") && h.kind != "date:9999-12-31" && (typ == "string" || typ == "array"):
		return "dates are years 1-9999"
	case strings.HasPrefix(h.kind, "id:malformed"):
		return "not an id"
	case h.kind == "id:nil-uuid" && body:
		return "names nothing of the user's"
	case strings.HasPrefix(h.kind, "number:"):
		n, err := strconv.ParseFloat(strings.TrimPrefix(h.kind, "number:"), 64)
		if err != nil {
			n, _ = strconv.ParseFloat(fmt.Sprint(h.val), 64)
		}
		if strings.HasSuffix(h.kind, "2^63") {
			n = 9223372036854775808
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			return "maximum"
		}
		if m, ok := s["minimum"].(float64); ok && n < m {
			return "minimum"
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && n <= m {
			return "exclusiveMinimum"
		}
	}
	if en, ok := s["enum"].([]any); ok && typ == "string" && !strings.HasPrefix(h.kind, "repeated") {
		for _, e := range en {
			if e == h.val {
				return ""
			}
		}
		return "enum"
	}
	return ""
}

// paramHostiles are the hostile values of a path, query or header
// parameter, escaped for where they go.
func paramHostiles(p *apiParam) []hostile {
	s := p.Schema
	typ := schemaType(s)
	if typ == "array" {
		items, _ := s["items"].(map[string]any)
		s, typ = items, schemaType(items)
	}
	var hs []hostile
	if p.In == "header" {
		// Go's client refuses NUL, CR and LF in header values before
		// anything is sent (and net/http's server would answer them itself):
		// headers get the bytes that do travel.
		hs = append(hs,
			hostile{kind: "invalid-utf8", val: "a\xffb"},
			hostile{kind: "lone-surrogate", val: "a\xed\xa0\x80b"},
			hostile{kind: "oversize-64KiB", val: strings.Repeat("x", oversizeURL)},
			hostile{kind: "wrong-type:string", val: "W/\"abc\""},
		)
		if strings.EqualFold(p.Name, "If-Match") {
			for _, n := range []string{"99999999999", "-1", "0", "1e308", "9223372036854775808"} {
				hs = append(hs, hostile{kind: "number:" + n, val: `"` + n + `"`})
			}
		}
		return hs
	}
	hs = append(hs,
		hostile{kind: "nul", val: "a%00b"},
		hostile{kind: "lone-surrogate", val: "a%ED%A0%80b"},
		hostile{kind: "invalid-utf8", val: "a%ffb"},
		hostile{kind: "oversize-64KiB", val: strings.Repeat("x", oversizeURL)},
	)
	switch typ {
	case "integer", "number":
		for _, n := range []string{"1e308", "99999999999", "-1", "9223372036854775808"} {
			hs = append(hs, hostile{kind: "number:" + n, val: n})
		}
		hs = append(hs, hostile{kind: "wrong-type:string", val: "abc"})
		if typ == "integer" {
			hs = append(hs, hostile{kind: "wrong-type:fraction", val: "1.5"})
		}
	case "boolean":
		hs = append(hs, hostile{kind: "wrong-type:string", val: "maybe"})
	default:
		if dateLike(p.Name, s) {
			for _, d := range farDates {
				hs = append(hs, hostile{kind: "date:" + d, val: url.QueryEscape(d)})
			}
			hs = append(hs, hostile{kind: "date:not-a-date", val: "2026-02-30"})
		}
		if idLike(p.Name, s) {
			hs = append(hs, hostile{kind: "id:malformed", val: "not-a-uuid"}, hostile{kind: "id:nil-uuid", val: "00000000-0000-0000-0000-000000000000"})
		}
	}
	if p.In == "query" {
		hs = append(hs, hostile{kind: "repeated-1000", val: strings.Repeat("&"+url.QueryEscape(p.Name)+"=x", 1000)[len(p.Name)+2:]})
	}
	for i := range hs {
		switch {
		case p.In == "path":
			hs[i].refuse = "names nothing of the user's"
		case p.In == "header" && strings.EqualFold(p.Name, "If-Match"):
			hs[i].refuse = "not an ETag this API returned"
		case p.In == "header":
		case s != nil:
			hs[i].refuse = schemaRefuses(s, p.Name, hs[i], false)
		}
	}
	return hs
}

// ---- valid bodies -----------------------------------------------------

// validValue builds a valid value for a schema: hints by name first (ids of
// the fixtures, dates, patterns), then default, example, enum, format, type.
// It fails for an id-like property it has no fixture for, so that a new
// operation is noticed rather than probed with a body that is refused
// anyway.
func validValue(t testing.TB, s schema, name string, ids map[string]string) any {
	t.Helper()
	typ := schemaType(s)
	if v, ok := ids[name]; ok && typ == "string" {
		return v
	}
	if typ == "string" && idLike(name, s) {
		t.Fatalf("hostile walker: no fixture id for property %q: add it to the fixtures (hostile_test.go)", name)
	}
	if d, ok := s["default"]; ok {
		return d
	}
	if ex, ok := s["examples"].([]any); ok && len(ex) > 0 {
		return ex[0]
	}
	if en, ok := s["enum"].([]any); ok && len(en) > 0 {
		return en[0]
	}
	switch typ {
	case "string":
		switch {
		case name == "due_time":
			return "09:30"
		case dateLike(name, s):
			return "2026-03-14"
		case s["pattern"] != nil:
			t.Fatalf("hostile walker: property %q has a pattern and no example: give it a hint in validValue", name)
		case s["format"] == "email":
			return "probe@example.com"
		}
		return "hostile probe"
	case "integer":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 1
	case "number":
		return 1
	case "boolean":
		return false
	case "array":
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return []any{}
		}
		return []any{validValue(t, items, name, ids)}
	case "object", "":
		props, _ := s["properties"].(map[string]any)
		if typ == "" && props == nil {
			return nil // any: left out unless an override gives it
		}
		m := map[string]any{}
		for k, ps := range props {
			if v := validValue(t, ps.(map[string]any), k, ids); v != nil {
				m[k] = v
			}
		}
		if len(props) == 0 {
			m["probe"] = "value"
		}
		return m
	}
	return nil
}

// ---- the walker's own test -------------------------------------------

// TestHostileWalker checks that the walker sees the document: every
// operation, nested properties, and the parameters of known operations. A
// walker that visits nothing must not let TestHostileInput pass.
func TestHostileWalker(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	nOps := 0
	for _, m := range doc.Paths {
		for k := range m {
			if k != "parameters" {
				nOps++
			}
		}
	}
	require.Equal(t, nOps, len(ops))
	require.GreaterOrEqual(t, len(ops), 40, "the API has at least 40 operations")

	byID := map[string]*apiOperation{}
	total := 0
	probed := 0
	where := map[string]map[string]bool{} // op -> where|kind
	for _, op := range ops {
		byID[op.ID] = op
		f := fakeFixtures()
		body := f.validBody(t, op)
		ps := append(planProbes(op, body), extraProbes(op)...)
		total += len(ps)
		if len(ps) > 0 {
			probed++
		}
		where[op.ID] = map[string]bool{}
		for _, p := range ps {
			where[op.ID][p.where+"|"+p.kind] = true
		}
	}
	require.Greater(t, total, 1500, "probes planned")
	require.Equal(t, len(ops), probed, "every operation is probed")

	for op, want := range map[string][]string{
		"create-task": {"body.title|nul", "body.metadata|deep-nesting-object", "body.due_date|date:0000-01-01",
			"body.size|number:1e308", "body.goal_id|id:malformed"},
		"create-note": {"body.content[0].children[0].props.metadata|deep-nesting-object", "body.content[0].props|deep-nesting-object", "body.tags[0]|invalid-utf8",
			"body.content[0].children[0].props.dueDate|date:10000-01-01", "body.content|oversize-array-1000", "body.title|oversize-65KiB"},
		"list-tasks":           {"query.q|invalid-utf8", "query.status|nul", "query.due_before|date:0000-01-01"},
		"get-note-version":     {"path.version|number:99999999999", "path.note_id|id:malformed"},
		"delete-note":          {"header.If-Match|number:99999999999"},
		"get-planning-summary": {"query.date|date:9999-12-31", "query.date (period=month)|date:9999-12-31"},
		"login":                {"body.email|nul", "header.User-Agent|invalid-utf8"},
		"replace-preferences":  {"body|deep-nesting-object", "body.timezone|nul"},
	} {
		require.Contains(t, byID, op)
		for _, w := range want {
			require.True(t, where[op][w], "%s: no probe %s", op, w)
		}
	}
	require.True(t, byID["login"].Public && byID["register"].Public && byID["refresh-token"].Public)
	require.False(t, byID["create-note"].Public)
}
