package page

// Page is one page of a list. NextCursor, sent back as the cursor of the
// next request, is empty on the last page.
type Page[T any] struct {
	// Never null ([] when empty): the document says so (nullable:"false").
	Items []T `json:"items" nullable:"false"`
	// The doc tag describes the field in the OpenAPI document of every list
	// endpoint, whose bodies are this type.
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// Map converts the items of a page and keeps its cursor: the api layer turns
// a page of core types into a page of their JSON form with it. Items is
// never nil, so an empty page answers "items": [].
func Map[T, U any](p *Page[T], f func(T) U) Page[U] {
	out := Page[U]{Items: make([]U, len(p.Items)), NextCursor: p.NextCursor}
	for i, it := range p.Items {
		out.Items[i] = f(it)
	}
	return out
}
