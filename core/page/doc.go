// Package page is how Consilium lists things. A list query is composed
// here: SQL conditions with named values (Filter), ordered by a keyset and
// cut into pages behind opaque cursors (List), answered as a Page with the
// shape of every list endpoint, {"items": [...], "next_cursor": "..."}.
// A cursor encodes the sort key of the last item seen, so pages stay stable
// while rows are inserted. The SQL itself stays with each domain's store.
package page
