package apperr_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/consilium-hq/consilium/core/apperr"
)

func TestFieldLocations(t *testing.T) {
	t.Parallel()
	for want, f := range map[string]apperr.FieldError{
		"title":                        {Location: "title"},
		"body.title":                   {In: "body", Location: "title"},
		"body":                         {In: "body"},
		"body.content[3].props.goalId": {In: "body", Location: "content[3].props.goalId"},
		"body[0]":                      {In: "body", Location: "[0]"},
		"header.Content-Type":          {In: "header", Location: "Content-Type"},
	} {
		require.Equal(t, want, f.Where())
	}

	orig := &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: []apperr.FieldError{
		{Location: "q"}, {In: "path", Location: "note_id"}}}
	err := apperr.In("query", fmt.Errorf("list notes: %w", orig))
	e, ok := err.(*apperr.Error)
	require.True(t, ok)
	require.Equal(t, "query.q", e.Fields[0].Where())
	require.Equal(t, "path.note_id", e.Fields[1].Where(), "a field that names its source keeps it")
	require.Equal(t, "", orig.Fields[0].In, "the original error is not changed")

	other := fmt.Errorf("boom")
	require.Equal(t, other, apperr.In("query", other))
}
