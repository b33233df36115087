package blocknote

// MarshalJSON writes the document. Blocks nobody changed are written as the
// bytes they were parsed from; changed blocks are written in the editor's
// key order (id, type, props, content, children) followed by any unknown
// fields, verbatim.
func (d *Document) MarshalJSON() ([]byte, error) {
	return d.AppendJSON(make([]byte, 0, d.sizeHint())), nil
}

// AppendJSON appends the document's JSON to buf.
func (d *Document) AppendJSON(buf []byte) []byte {
	return appendBlocks(buf, d.blocks)
}

func (d *Document) sizeHint() int {
	n := 2
	for _, b := range d.blocks {
		n += len(b.raw) + 1
	}
	return n + 256
}

func appendBlocks(buf []byte, bs []*Block) []byte {
	buf = append(buf, '[')
	for i, b := range bs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = b.appendJSON(buf)
	}
	return append(buf, ']')
}

func (b *Block) appendJSON(buf []byte) []byte {
	if !b.dirty && b.raw != nil {
		return append(buf, b.raw...)
	}
	buf = append(buf, `{"id":`...)
	buf = appendString(buf, b.id)
	buf = append(buf, `,"type":`...)
	buf = appendString(buf, b.typ)
	if b.hasProps {
		buf = append(buf, `,"props":{`...)
		for i, m := range b.props {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, m.key)
			buf = append(buf, ':')
			buf = append(buf, m.raw...)
		}
		buf = append(buf, '}')
	}
	if b.content != nil {
		buf = append(buf, `,"content":`...)
		buf = append(buf, b.content...)
	}
	buf = append(buf, `,"children":`...)
	buf = appendBlocks(buf, b.children)
	for _, m := range b.extra {
		buf = append(buf, ',')
		buf = appendString(buf, m.key)
		buf = append(buf, ':')
		buf = append(buf, m.raw...)
	}
	return append(buf, '}')
}
