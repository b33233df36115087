package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/consilium-hq/consilium/core/note"
)

// TagJSON is a tag with the number of notes carrying it.
type TagJSON struct {
	Name      string `json:"name" example:"work"`
	NoteCount int    `json:"note_count" example:"12"`
}

// TagList is every tag of the user.
type TagList struct {
	Items []TagJSON `json:"items" nullable:"false"`
}

func registerTags(authed huma.API, notes *note.Service) {
	huma.Register(authed, huma.Operation{
		OperationID: "list-tags", Method: http.MethodGet, Path: "/tags",
		Summary: "List tags", Tags: []string{"notes"},
		Description: "The signed-in user's note tags by name, each with the number of notes carrying it " +
			"(archived notes included).",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body TagList }, error) {
		tags, err := notes.Tags(ctx, principal(ctx).User.ID)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body TagList }{}
		out.Body.Items = make([]TagJSON, len(tags))
		for i, t := range tags {
			out.Body.Items[i] = TagJSON{Name: t.Name, NoteCount: t.NoteCount}
		}
		return out, nil
	})
}
