package jsonvalue_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/jsonvalue"
)

func TestEqual(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		a, b string
		want bool
	}{
		"key order":              {`{"id":"a","type":"p","props":{}}`, `{"id":"a","props":{},"type":"p"}`, true},
		"whitespace":             {`[{"a":1,"b":[1,2]}]`, "[\n  {\n    \"a\": 1,\n    \"b\": [\n      1,\n      2\n    ]\n  }\n]\n", true},
		"jsonb order nested":     {`{"content":[{"type":"text","text":"x","styles":{}}]}`, `{"content": [{"text": "x", "type": "text", "styles": {}}]}`, true},
		"string escapes":         {`"a\/b\u0041\u00e9\n"`, "\"a/bA\u00e9\\n\"", true},
		"surrogate pair":         {`"\ud83d\ude00"`, `"😀"`, true},
		"number spelling":        {`[1.50, 100, -0, 0.0, 1e2, 15E-1]`, `[1.5, 1E2, 0, 0, 100.0, 1.5]`, true},
		"big integers":           {`12345678901234567890`, `12345678901234567891`, false},
		"repeated key last":      {`{"a":1,"a":2}`, `{"a":2}`, true},
		"repeated key not first": {`{"a":1,"a":2}`, `{"a":1}`, false},
		"different value":        {`{"a":"x"}`, `{"a":"y"}`, false},
		"array order matters":    {`[1,2]`, `[2,1]`, false},
		"missing key":            {`{"a":1,"b":null}`, `{"a":1}`, false},
		"types differ":           {`{"a":"1"}`, `{"a":1}`, false},
		"true vs false":          {`true`, `false`, false},
		"invalid is not equal":   {`{"a":`, `{"a":`, false},
		"trailing data":          {`{} x`, `{}`, false},
		"empty containers":       {`{ }`, `{}`, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, jsonvalue.Equal([]byte(tc.a), []byte(tc.b)))
			require.Equal(t, tc.want, jsonvalue.Equal([]byte(tc.b), []byte(tc.a)))
		})
	}
}

func TestCanonicalForm(t *testing.T) {
	t.Parallel()
	out, err := jsonvalue.Canonical(nil, []byte(` { "type" : "x", "id": 1, "a\u0062": [ 0.10, -2e-3, "q\"\u0001" ] } `))
	require.NoError(t, err)
	require.Equal(t, `{"ab":[1e-1,-2e-3,"q\"\u0001"],"id":1,"type":"x"}`, string(out))
	require.True(t, json.Valid(out))
}

func TestCanonicalRefusesInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `[1,]`, `{"a" 1}`, `01`, `1.`, `-`, `1e`, "\"\x01\"", "\"\xff\"", `"\x"`, `nul`, `{"a":1,}`} {
		_, err := jsonvalue.Canonical(nil, []byte(in))
		require.Error(t, err, "%q", in)
	}
}

func TestHashIgnoresFormatting(t *testing.T) {
	t.Parallel()
	a, err := jsonvalue.Hash([]byte(`[{"id":"1","type":"paragraph","props":{"textColor":"default"},"content":[],"children":[]}]`))
	require.NoError(t, err)
	b, err := jsonvalue.Hash([]byte("[\n {\"children\": [], \"content\": [], \"id\": \"1\", \"props\": {\"textColor\": \"default\"}, \"type\": \"paragraph\"}\n]"))
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := jsonvalue.Hash([]byte(`[{"id":"1","type":"paragraph","props":{"textColor":"red"},"content":[],"children":[]}]`))
	require.NoError(t, err)
	require.NotEqual(t, a, c)
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1.0,"x\n"]}`, `[]`, `"\ud800"`, `{"a":1,"a":2}`, `-0.0e+3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := jsonvalue.Canonical(nil, data)
		if err != nil {
			return
		}
		// The canonical form is JSON and is its own canonical form.
		require.True(t, json.Valid(out), "%s", out)
		again, err := jsonvalue.Canonical(nil, out)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
		require.True(t, jsonvalue.Equal(data, out))
	})
}
