package note

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPreview(t *testing.T) {
	require.Equal(t, "", preview(""))
	require.Equal(t, "a b c", preview("  a\n\n b\tc  "))
	long := strings.Repeat("é", PreviewLength+10)
	p := preview(long)
	require.Equal(t, PreviewLength+1, len([]rune(p)))
	require.True(t, strings.HasSuffix(p, "…"))
	require.Equal(t, strings.Repeat("x", PreviewLength), preview(strings.Repeat("x", PreviewLength)))
}

func TestNormalizeTags(t *testing.T) {
	got, err := NormalizeTags("body.tags", []string{" work", "Work", "work ", "health"})
	require.NoError(t, err)
	require.Equal(t, []string{"work", "Work", "health"}, got)
	_, err = NormalizeTags("body.tags", []string{"ok", ""})
	require.ErrorContains(t, err, "validation failed")
	_, err = NormalizeTags("body.tags", []string{strings.Repeat("x", MaxTagLength+1)})
	require.Error(t, err)
	many := make([]string, MaxTags+1)
	for i := range many {
		many[i] = strings.Repeat("t", i+1)
	}
	_, err = NormalizeTags("body.tags", many)
	require.Error(t, err)
}

func TestCheckMetadata(t *testing.T) {
	m, err := CheckMetadata("body.metadata", []byte(`{ "a" : [1, 2] }`))
	require.NoError(t, err)
	require.Equal(t, `{"a":[1,2]}`, string(m))
	m, err = CheckMetadata("body.metadata", nil)
	require.NoError(t, err)
	require.Equal(t, `{}`, string(m))
	for _, bad := range []string{`[]`, `"x"`, `{"a":"\u0000"}`, `{`} {
		_, err = CheckMetadata("body.metadata", []byte(bad))
		require.Error(t, err, bad)
	}
}
