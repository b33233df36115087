package blocknote

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Block types the package interprets.
const (
	TypeCheckListItem = "checkListItem"
	// TypeTask is Consilium's own task block; see TaskFields for its props.
	TypeTask = "task"
)

type contentKind int

const (
	contentUnknown contentKind = iota // custom block: kept as is, text read leniently
	contentInline                     // array of inline content
	contentPlain                      // array of text items (codeBlock since 0.52)
	contentTable                      // tableContent object
	contentNone                       // no content (image, divider, ...)
)

var contentKinds = map[string]contentKind{
	"paragraph": contentInline, "heading": contentInline, "quote": contentInline,
	"bulletListItem": contentInline, "numberedListItem": contentInline,
	TypeCheckListItem: contentInline, "toggleListItem": contentInline, TypeTask: contentInline,
	"codeBlock": contentPlain,
	"table":     contentTable,
	"image":     contentNone, "video": contentNone, "audio": contentNone, "file": contentNone,
	"divider": contentNone, "pageBreak": contentNone, "column": contentNone, "columnList": contentNone,
}

// member is one key of a JSON object with its raw value.
type member struct {
	key string
	raw []byte
}

// Block is one block of a document. Its fields are read through methods;
// changes go through the Document so that ids stay unique.
type Block struct {
	id       string
	typ      string
	props    []member // in received order; nil with hasProps false when absent
	hasProps bool
	content  []byte // raw JSON; nil when the block has no content key
	children []*Block
	extra    []member // fields other than the five BlockNote fields, verbatim

	parent *Block
	raw    []byte // the block as received; written out while !dirty
	dirty  bool

	text  string      // plain text of the block's own content
	links []uuid.UUID // note:// links in the block's own content
	task  *TaskFields // set on task blocks
}

// ID is the block's id.
func (b *Block) ID() string { return b.id }

// Type is the block's type name.
func (b *Block) Type() string { return b.typ }

// Children are the nested blocks.
func (b *Block) Children() []*Block { return b.children }

// Parent is the enclosing block, nil at the top level.
func (b *Block) Parent() *Block { return b.parent }

// Text is the plain text of the block's own content (not its children).
func (b *Block) Text() string { return b.text }

// Prop returns the raw JSON of a prop, nil when absent.
func (b *Block) Prop(name string) []byte {
	for _, m := range b.props {
		if m.key == name {
			return m.raw
		}
	}
	return nil
}

// Content returns the raw JSON of the block's content, nil when absent.
func (b *Block) Content() []byte { return b.content }

// IsTask reports whether the block is a task block.
func (b *Block) IsTask() bool { return b.task != nil }

// markDirty makes the block and its ancestors be written from their fields.
// A dirty block's ancestors are always dirty, so the walk can stop early.
func (b *Block) markDirty() {
	for x := b; x != nil && !x.dirty; x = x.parent {
		x.dirty = true
	}
}

// Document is a parsed BlockNote document.
type Document struct {
	blocks     []*Block
	byID       map[string]*Block
	count      int
	normalized bool
	changed    bool
	structural bool            // blocks were added or removed
	touched    map[string]bool // blocks rewritten in place by SetTask
	loc        string
}

// Changed reports whether an edit (SetTask, AppendTask, Remove) changed the
// document since it was parsed.
func (d *Document) Changed() bool { return d.changed }

// Edits tells what the edits since parsing did: the ids of the blocks
// SetTask rewrote in place, and whether blocks were added or removed (which
// can move every task). A derived index can update just the rewritten
// blocks when structural is false.
func (d *Document) Edits() (rewritten []string, structural bool) {
	for id := range d.touched {
		rewritten = append(rewritten, id)
	}
	return rewritten, d.structural
}

// Blocks are the top-level blocks.
func (d *Document) Blocks() []*Block { return d.blocks }

// Block returns the block with the given id, or nil.
func (d *Document) Block(id string) *Block { return d.byID[id] }

// Len is the number of blocks at all depths.
func (d *Document) Len() int { return d.count }

// Normalized reports whether parsing changed anything: generated a missing
// id, or turned a partial block (string content, missing children) into the
// editor's full form.
func (d *Document) Normalized() bool { return d.normalized }

// Walk calls fn for every block in document order (parents before their
// children); fn returning false skips the block's children.
func (d *Document) Walk(fn func(b *Block, depth int) bool) {
	var walk func(bs []*Block, depth int)
	walk = func(bs []*Block, depth int) {
		for _, b := range bs {
			if fn(b, depth) {
				walk(b.children, depth+1)
			}
		}
	}
	walk(d.blocks, 1)
}

// Empty returns a document with no blocks.
func Empty() *Document { return &Document{byID: map[string]*Block{}, loc: "content"} }

func newID(taken map[string]*Block) string {
	for {
		id := uuid.NewString()
		if _, ok := taken[id]; !ok {
			return id
		}
	}
}

// pathOf is the location of a block, e.g. content[3].children[0].
func (d *Document) pathOf(b *Block) string {
	var idx []int
	for x := b; x != nil; x = x.parent {
		siblings := d.blocks
		if x.parent != nil {
			siblings = x.parent.children
		}
		for i, s := range siblings {
			if s == x {
				idx = append(idx, i)
				break
			}
		}
	}
	var s strings.Builder
	s.WriteString(d.loc)
	for i := len(idx) - 1; i >= 0; i-- {
		if i != len(idx)-1 {
			s.WriteString(".children")
		}
		s.WriteString("[" + strconv.Itoa(idx[i]) + "]")
	}
	return s.String()
}

// Path returns the location of the block with the given id in the form
// errors use (content[3].children[0]), or "" when there is none.
func (d *Document) Path(id string) string {
	b := d.byID[id]
	if b == nil {
		return ""
	}
	return d.pathOf(b)
}

func (b *Block) setProp(key string, raw []byte) {
	for i := range b.props {
		if b.props[i].key == key {
			b.props[i].raw = raw
			return
		}
	}
	b.props = append(b.props, member{key: key, raw: raw})
}

func (b *Block) deleteProp(key string) {
	for i := range b.props {
		if b.props[i].key == key {
			b.props = append(b.props[:i], b.props[i+1:]...)
			return
		}
	}
}
