package blocknote

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/consilium-hq/consilium/core/apperr"
)

// Limits on what a document may hold.
const (
	// MaxBytes is the largest document accepted, in bytes of JSON.
	MaxBytes = 2 << 20
	// MaxBlocks is the most blocks a document may hold, at all depths.
	MaxBlocks = 10_000
	// MaxDepth is how deeply blocks may nest through children (top level = 1).
	MaxDepth = 32
	// MaxIDLength bounds a block id.
	MaxIDLength = 256
	// MaxTypeLength bounds a block type name.
	MaxTypeLength = 128
)

// ParseOptions adjust Parse.
type ParseOptions struct {
	// Location prefixes the block paths named in errors ("content" by
	// default).
	Location string
}

// Parse reads and validates a document. Invalid documents give an
// *apperr.Error (code invalid) naming the offending block path, such as
// content[3].children[0].props.status. The document keeps references into
// data, which must not change afterwards. Empty data or null is an empty
// document.
func Parse(data []byte, o *ParseOptions) (*Document, error) {
	loc := "content"
	if o != nil && o.Location != "" {
		loc = o.Location
	}
	d := &Document{loc: loc}
	if len(data) > MaxBytes {
		return nil, apperr.Field(loc, fmt.Sprintf("document is %d bytes; at most %d are allowed", len(data), MaxBytes), nil)
	}
	i := skipSpace(data, 0)
	if i == len(data) || isNull(bytes.TrimRight(data[i:], " \t\n\r")) {
		d.byID = map[string]*Block{}
		d.normalized = true // written as []
		return d, nil
	}
	if data[i] != '[' {
		if _, err := scanValue(data, i, 0); err != nil {
			return nil, apperr.Field(loc, "is not valid: "+err.Error(), nil)
		}
		return nil, apperr.Field(loc, "must be an array of blocks, got "+kindOf(data[i:]), nil)
	}
	p := &parser{d: data, doc: d}
	blocks, end, err := p.blocks(i, nil, &path{name: loc}, 1)
	if err != nil {
		return nil, err
	}
	if j := skipSpace(data, end); j != len(data) {
		return nil, apperr.Field(loc, "unexpected data after the document", nil)
	}
	d.blocks = blocks
	if err := d.index(); err != nil {
		return nil, err
	}
	return d, nil
}

// index checks ids for uniqueness and gives blocks without one a new id.
func (d *Document) index() error {
	d.byID = make(map[string]*Block, d.count)
	var missing []*Block
	var err error
	d.Walk(func(b *Block, _ int) bool {
		if err != nil {
			return false
		}
		if b.id == "" {
			missing = append(missing, b)
			return true
		}
		if first, dup := d.byID[b.id]; dup {
			err = apperr.Field(d.pathOf(b)+".id",
				fmt.Sprintf("duplicate block id %q: it is also the id of %s; block ids must be unique in a document", b.id, d.pathOf(first)), b.id)
			return false
		}
		d.byID[b.id] = b
		return true
	})
	if err != nil {
		return err
	}
	for _, b := range missing {
		b.id = newID(d.byID)
		d.byID[b.id] = b
		b.markDirty()
		d.normalized = true
	}
	return nil
}

// path is the location of the value being parsed, formatted only on error.
type path struct {
	parent *path
	name   string // a member name, or "" for an array index
	index  int
}

func (p *path) String() string {
	if p == nil {
		return ""
	}
	if p.name == "" {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	if p.parent == nil {
		return p.name
	}
	return p.parent.String() + "." + p.name
}

func (p *path) member(name string) *path { return &path{parent: p, name: name} }

type parser struct {
	d    []byte
	doc  *Document
	slab []path // paths are allocated in slabs: one per value would dominate a parse
}

// node returns a path below parent: a member when name is set, else an
// array index.
func (p *parser) node(parent *path, name string, index int) *path {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]path, 0, 256)
	}
	p.slab = append(p.slab, path{parent: parent, name: name, index: index})
	return &p.slab[len(p.slab)-1]
}

func (p *parser) fail(at *path, msg string, value any) error {
	return apperr.Field(at.String(), msg, value)
}

func (p *parser) syntax(at *path, err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return p.fail(at, "is not valid: "+se.msg, nil)
	}
	return err
}

// blocks parses the array of blocks at d[i].
func (p *parser) blocks(i int, parent *Block, at *path, depth int) ([]*Block, int, error) {
	d := p.d
	i++ // '['
	i = skipSpace(d, i)
	var out []*Block
	if i < len(d) && d[i] == ']' {
		return []*Block{}, i + 1, nil
	}
	if depth > MaxDepth {
		return nil, i, p.fail(at, fmt.Sprintf("blocks are nested more than %d levels deep", MaxDepth), nil)
	}
	for n := 0; ; n++ {
		el := p.node(at, "", n)
		if i >= len(d) || d[i] != '{' {
			if i < len(d) {
				if _, err := scanValue(d, i, depth); err != nil {
					return nil, i, p.syntax(el, err)
				}
			}
			return nil, i, p.fail(el, "must be a block object, got "+kindOf(d[min(i, len(d)):]), nil)
		}
		b, end, err := p.block(i, parent, el, depth)
		if err != nil {
			return nil, end, err
		}
		out = append(out, b)
		i = skipSpace(d, end)
		if i >= len(d) {
			return nil, i, p.syntax(at, errAt(d, i, "unterminated array"))
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			return out, i + 1, nil
		default:
			return nil, i, p.syntax(at, errAt(d, i, "expected ',' or ']' in array"))
		}
	}
}

// block parses the block object at d[i].
func (p *parser) block(i int, parent *Block, at *path, depth int) (*Block, int, error) {
	d := p.d
	start := i
	p.doc.count++
	if p.doc.count > MaxBlocks {
		return nil, i, p.fail(at, fmt.Sprintf("a document may hold at most %d blocks", MaxBlocks), nil)
	}
	b := &Block{parent: parent}
	var contentRaw []byte
	hasContent, hasChildren, hasType := false, false, false

	i++ // '{'
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		i++
	} else {
		for {
			ks := i
			ke, esc, err := scanString(d, i)
			if err != nil {
				return nil, i, p.syntax(at, err)
			}
			key := d[ks:ke]
			i = skipSpace(d, ke)
			if i >= len(d) || d[i] != ':' {
				return nil, i, p.syntax(at, errAt(d, i, "expected ':' after object key"))
			}
			vs := skipSpace(d, i+1)
			var ve int
			switch string(key) {
			case `"children"`:
				if vs < len(d) && d[vs] == '[' {
					b.children, ve, err = p.blocks(vs, b, p.node(at, "children", 0), depth+1)
					if err != nil {
						return nil, ve, err
					}
					hasChildren = true
				} else {
					ve, err = scanValue(d, vs, 2*depth)
					if err != nil {
						return nil, ve, p.syntax(at.member("children"), err)
					}
					if !isNull(d[vs:ve]) {
						return nil, ve, p.fail(at.member("children"), "must be an array of blocks, got "+kindOf(d[vs:ve]), nil)
					}
					b.children, hasChildren = nil, false
				}
			default:
				ve, err = scanValue(d, vs, 2*depth)
				if err != nil {
					name := decodeString(key, esc)
					return nil, ve, p.syntax(at.member(name), err)
				}
				raw := d[vs:ve]
				switch string(key) {
				case `"id"`:
					s, ok := rawString(raw)
					switch {
					case isNull(raw):
						b.id = ""
					case !ok:
						return nil, ve, p.fail(at.member("id"), "must be a string, got "+kindOf(raw), nil)
					case len(s) > MaxIDLength:
						return nil, ve, p.fail(at.member("id"), fmt.Sprintf("must be at most %d bytes", MaxIDLength), nil)
					default:
						b.id = s
					}
				case `"type"`:
					s, ok := rawString(raw)
					if !ok || s == "" {
						return nil, ve, p.fail(at.member("type"), "must be a non-empty string, got "+kindOf(raw), nil)
					}
					if len(s) > MaxTypeLength {
						return nil, ve, p.fail(at.member("type"), fmt.Sprintf("must be at most %d bytes", MaxTypeLength), nil)
					}
					b.typ, hasType = s, true
				case `"props"`:
					switch {
					case isNull(raw):
						b.props, b.hasProps = nil, false
					case raw[0] != '{':
						return nil, ve, p.fail(at.member("props"), "must be an object, got "+kindOf(raw), nil)
					default:
						b.props = make([]member, 0, 8)
						b.hasProps = true
						for m := objectMembers(raw); ; {
							k, v, ok := m.next()
							if !ok {
								break
							}
							b.setProp(decodeString(k, hasEscape(k)), v)
						}
					}
				case `"content"`:
					contentRaw, hasContent = raw, true
				default:
					b.extra = setMember(b.extra, decodeString(key, esc), raw)
				}
			}
			i = skipSpace(d, ve)
			if i >= len(d) {
				return nil, i, p.syntax(at, errAt(d, i, "unterminated object"))
			}
			if d[i] == ',' {
				i = skipSpace(d, i+1)
				continue
			}
			if d[i] == '}' {
				i++
				break
			}
			return nil, i, p.syntax(at, errAt(d, i, "expected ',' or '}' in object"))
		}
	}
	b.raw = d[start:i]
	if !hasType {
		return nil, i, p.fail(at.member("type"), "is required", nil)
	}
	if !hasChildren {
		b.children = []*Block{}
		p.normalize(b)
	}
	if hasContent {
		b.content = contentRaw
	}
	if err := p.readContent(b, at); err != nil {
		return nil, i, err
	}
	if err := readTask(b, at); err != nil {
		return nil, i, err
	}
	return b, i, nil
}

func (p *parser) normalize(b *Block) {
	b.markDirty() // its parents are written from fields too
	p.doc.normalized = true
}

func setMember(ms []member, key string, raw []byte) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].raw = raw
			return ms
		}
	}
	return append(ms, member{key: key, raw: raw})
}

func fieldError(location, msg string, value any) error {
	return apperr.Field(location, msg, value)
}
