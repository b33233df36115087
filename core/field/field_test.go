package field_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// requireField checks that err is an invalid-input error naming one field.
func requireField(t *testing.T, err error, name, msgPart string) {
	t.Helper()
	var e *apperr.Error
	require.True(t, errors.As(err, &e), "want an *apperr.Error, got %v", err)
	require.Equal(t, apperr.Invalid, e.Code)
	require.Len(t, e.Fields, 1)
	require.Equal(t, name, e.Fields[0].Location)
	require.Empty(t, e.Fields[0].In, "core names bare fields")
	require.Contains(t, e.Fields[0].Message, msgPart)
}

func TestText(t *testing.T) {
	t.Parallel()
	require.NoError(t, field.Text("q", "", 10))
	require.NoError(t, field.Text("q", "Zürich ☕ \t\n", 12))
	require.NoError(t, field.Text("q", strings.Repeat("é", 10), 10), "characters, not bytes")
	requireField(t, field.Text("q", strings.Repeat("é", 11), 10), "q", "at most 10 characters")
	requireField(t, field.Text("title", "a\x00b", 0), "title", "NUL")
	requireField(t, field.Text("q", "a\xffb", 0), "q", "UTF-8")
	requireField(t, field.Text("q", "\xed\xa0\x80", 0), "q", "UTF-8") // a surrogate encoded in UTF-8
}

func TestTitleAndName(t *testing.T) {
	t.Parallel()
	s, err := field.Title("title", "  Week plan \n", 20)
	require.NoError(t, err)
	require.Equal(t, "Week plan", s)
	_, err = field.Title("title", "a\x00", 20)
	requireField(t, err, "title", "NUL")
	requireField(t, field.Required("title", " \t"), "title", "empty")

	s, err = field.Name("full_name", " Ada Lovelace ", 200)
	require.NoError(t, err)
	require.Equal(t, "Ada Lovelace", s)
	_, err = field.Name("full_name", "Ada\nLovelace", 200)
	requireField(t, err, "full_name", "control characters")
	_, err = field.Name("full_name", "A\u0085da", 200)
	requireField(t, err, "full_name", "control characters")
}

func TestTags(t *testing.T) {
	t.Parallel()
	got, err := field.Tags("tags", []string{" work", "Work", "work ", "health"}, 4, 64)
	require.NoError(t, err)
	require.Equal(t, []string{"work", "Work", "health"}, got)
	cases := map[string]struct {
		tags []string
		name string
	}{
		"empty":                          {[]string{"ok", " "}, "tags[1]"},
		"too long":                       {[]string{strings.Repeat("x", 65)}, "tags[0]"},
		"NUL":                            {[]string{"a\x00"}, "tags[0]"},
		"newline":                        {[]string{"ok", "ok", "a\nb"}, "tags[2]"},
		"too many":                       {[]string{"a", "b", "c", "d"}, "tags"},
		"too many sent, even duplicates": {[]string{"a", "a", "a", "a"}, "tags"},
		"bad UTF-8":                      {[]string{"\xff"}, "tags[0]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := field.Tags("tags", c.tags, 3, 64)
			requireField(t, err, c.name, "")
		})
	}
}

func TestObject(t *testing.T) {
	t.Parallel()
	m, err := field.Object("metadata", nil)
	require.NoError(t, err)
	require.Equal(t, `{}`, string(m))

	m, err = field.Object("metadata", []byte(" { \"a\" : [1, -2.5e3, true, null, \"x y\\n\\u00e9\\ud83d\\ude00\"] ,\n\"b\":{}}\t"))
	require.NoError(t, err)
	require.Equal(t, `{"a":[1,-2.5e3,true,null,"x y\n\u00e9\ud83d\ude00"],"b":{}}`, string(m))
	require.True(t, json.Valid(m))

	compact := []byte(`{"a":{"b":[1,2]}}`)
	m, err = field.Object("metadata", compact)
	require.NoError(t, err)
	require.Same(t, &compact[0], &m[0], "a compact object is returned as it is")

	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }
	_, err = field.Object("metadata", []byte(deep(field.MaxObjectDepth)))
	require.NoError(t, err, "MaxObjectDepth levels are allowed")

	cases := map[string]struct{ raw, msg string }{
		"not an object":       {`[]`, "JSON object"},
		"a string":            {`"x"`, "JSON object"},
		"empty":               {``, "JSON object"},
		"NUL escape":          {`{"a":"\u0000"}`, `\u0000`},
		"NUL in a key":        {`{"\u0000":1}`, `\u0000`},
		"lone high":           {`{"a":"\ud800"}`, "surrogate"},
		"lone low":            {`{"a":"\udc00x"}`, "surrogate"},
		"high then text":      {`{"a":"\ud800\u0041"}`, "surrogate"},
		"invalid UTF-8":       {"{\"a\":\"\xff\"}", "UTF-8"},
		"raw control":         {"{\"a\":\"\x01\"}", "control"},
		"too deep":            {deep(field.MaxObjectDepth + 1), "nested"},
		"300 deep arrays":     {`{"a":` + strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300) + `}`, "nested"},
		"too big":             {`{"a":"` + strings.Repeat("x", field.MaxObjectBytes) + `"}`, "at most"},
		"unterminated":        {`{"a":1`, "unterminated"},
		"trailing data":       {`{} {}`, "one JSON object"},
		"trailing comma":      {`{"a":1,}`, "member name"},
		"bad number":          {`{"a":01}`, "expected"},
		"bad literal":         {`{"a":nul}`, "literal"},
		"bad escape":          {`{"a":"\x"}`, "escape"},
		"missing colon":       {`{"a" 1}`, "':'"},
		"single quotes":       {`{'a':1}`, "member name"},
		"lone minus":          {`{"a":-}`, "number"},
		"exponent, no digits": {`{"a":1e}`, "number"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := field.Object("metadata", []byte(c.raw))
			requireField(t, err, "metadata", c.msg)
		})
	}
}

func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c"}]}`, ` {"a" : "\u00e9"} `, `{"a":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := field.Object("m", raw)
		if err != nil {
			return
		}
		require.True(t, json.Valid(m), "%q gave %q", raw, m)
		var a, b any
		require.NoError(t, json.Unmarshal(raw, &a))
		require.NoError(t, json.Unmarshal(m, &b))
		require.Equal(t, a, b, "compacting keeps the value")
	})
}

func TestTimeZone(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"UTC", "Europe/Zurich", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "America/Port-au-Prince"} {
		loc, err := field.TimeZone("timezone", ok)
		require.NoError(t, err, ok)
		require.Equal(t, ok, loc.String())
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe//Zurich",
		"Europe/", "Europe/../Europe/Zurich", "Europe/Zurich\x00", "utc ", strings.Repeat("A", 65)} {
		_, err := field.TimeZone("timezone", bad)
		requireField(t, err, "timezone", "IANA")
	}
}

func TestWeekday(t *testing.T) {
	t.Parallel()
	w, err := field.Weekday("week_start", "Sunday")
	require.NoError(t, err)
	require.Equal(t, "Sunday", w.String())
	_, err = field.Weekday("week_start", "funday")
	requireField(t, err, "week_start", "weekday")
}

func TestID(t *testing.T) {
	t.Parallel()
	id, err := field.ID("goal_id", "1B4E28BA-2FA1-11D2-883F-0016D3CCA427")
	require.NoError(t, err)
	require.Equal(t, "1b4e28ba-2fa1-11d2-883f-0016d3cca427", id.String())
	for _, bad := range []string{"", "1", "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}", "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "1b4e28ba2fa111d2883f0016d3cca427"} {
		_, err := field.ID("goal_id", bad)
		requireField(t, err, "goal_id", "UUID")
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Mozilla/5.0", field.Clean("Mozilla/5.0", 512))
	require.Equal(t, "ab", field.Clean("a\xff\x00b\xed\xa0\x80", 512), "invalid UTF-8 (a surrogate too) and NUL are dropped")
	got := field.Clean(strings.Repeat("é", 300), 511)
	require.Equal(t, strings.Repeat("é", 255), got, "cut on a character boundary")
}
