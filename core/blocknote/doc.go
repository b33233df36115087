// Package blocknote reads, validates and edits BlockNote documents (the JSON
// array of blocks that the editor's editor.document gives) without losing
// anything it does not understand: unknown block types, props, fields and
// inline content are kept verbatim, and a block nobody edited is written out
// as the exact bytes it came in as.
//
// It also derives what the rest of Consilium needs from a document: its
// plain text, the notes it links to (note://<uuid>) and its task blocks
// (checkListItem and our own task block), and it rewrites, removes and
// appends task blocks in place.
package blocknote
