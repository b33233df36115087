package blocknote

import (
	"strings"

	"github.com/google/uuid"
)

// NoteLinkPrefix starts the href of a link to another note: note://<uuid>.
const NoteLinkPrefix = "note://"

// readContent validates a block's content by its kind, normalises the
// partial forms (string content, missing content) of the kinds it knows,
// and records the block's plain text and note links.
func (p *parser) readContent(b *Block, at *path) error {
	kind := contentKinds[b.typ]
	raw := b.content
	cat := p.node(at, "content", 0)
	switch kind {
	case contentInline, contentPlain:
		switch {
		case raw == nil || isNull(raw):
			b.content = []byte("[]")
			p.normalize(b)
			return nil
		case raw[0] == '"':
			s, _ := rawString(raw)
			b.content = textItems(s)
			b.text = s
			p.normalize(b)
			return nil
		case raw[0] != '[':
			return p.fail(cat, "must be an array of inline content, got "+kindOf(raw), nil)
		}
		var text strings.Builder
		var items [][]byte
		changed := false
		it := arrayElements(raw)
		for n := 0; ; n++ {
			el, ok := it.next()
			if !ok {
				break
			}
			item, norm, err := p.inlineItem(b, el, p.node(cat, "", n), &text)
			if err != nil {
				return err
			}
			if norm && !changed {
				// Copy the items seen so far, then keep collecting.
				changed = true
				prev := arrayElements(raw)
				for range n {
					x, _ := prev.next()
					items = append(items, x)
				}
			}
			if changed {
				items = append(items, item)
			}
		}
		b.text = text.String()
		if changed {
			b.content = joinArray(items)
			p.normalize(b)
		}
	case contentTable:
		if raw == nil || isNull(raw) {
			return nil
		}
		if raw[0] != '{' {
			return p.fail(cat, "must be a tableContent object, got "+kindOf(raw), nil)
		}
		var text strings.Builder
		tableText(raw, &text, &b.links)
		b.text = text.String()
	case contentUnknown:
		if len(raw) > 0 && raw[0] == '"' {
			b.text, _ = rawString(raw)
			return nil
		}
		var text strings.Builder
		lenientText(raw, &text, &b.links, 0)
		b.text = text.String()
	}
	return nil
}

// inlineItem validates one inline content item and appends its text. It
// returns the item, rewritten when it was partial: a plain string
// (BlockNote's PartialInlineContent mixes strings with inline objects)
// becomes a text item, a link's string content an array of text items.
func (p *parser) inlineItem(b *Block, item []byte, at *path, text *strings.Builder) ([]byte, bool, error) {
	if item[0] == '"' {
		s, _ := rawString(item)
		text.WriteString(s)
		return textItem(s), true, nil
	}
	if item[0] != '{' {
		return nil, false, p.fail(at, "must be an inline content object or a string, got "+kindOf(item), nil)
	}
	var typ, txt, href, styles, content []byte
	for m := objectMembers(item); ; {
		k, v, ok := m.next()
		if !ok {
			break
		}
		switch string(k) {
		case `"type"`:
			typ = v
		case `"text"`:
			txt = v
		case `"href"`:
			href = v
		case `"styles"`:
			styles = v
		case `"content"`:
			content = v
		}
	}
	t, ok := rawString(typ)
	if !ok || t == "" {
		return nil, false, p.fail(at.member("type"), "must be a non-empty string", nil)
	}
	switch t {
	case "text":
		if len(txt) == 0 || txt[0] != '"' {
			return nil, false, p.fail(at.member("text"), "must be a string, got "+kindOf(txt), nil)
		}
		if styles != nil && styles[0] != '{' {
			return nil, false, p.fail(at.member("styles"), "must be an object, got "+kindOf(styles), nil)
		}
		writeString(text, txt)
		return item, false, nil
	case "link":
		h, ok := rawString(href)
		if !ok {
			return nil, false, p.fail(at.member("href"), "must be a string, got "+kindOf(href), nil)
		}
		addNoteLink(&b.links, h)
		cat := p.node(at, "content", 0)
		switch {
		case content == nil || isNull(content):
			return nil, false, p.fail(cat, "is required: the link's text as an array of text items", nil)
		case content[0] == '"':
			s, _ := rawString(content)
			text.WriteString(s)
			return replaceMember(item, "content", textItems(s)), true, nil
		case content[0] != '[':
			return nil, false, p.fail(cat, "must be an array of text items, got "+kindOf(content), nil)
		}
		it := arrayElements(content)
		for n := 0; ; n++ {
			sub, ok := it.next()
			if !ok {
				break
			}
			el := p.node(cat, "", n)
			if sub[0] != '{' {
				return nil, false, p.fail(el, "must be a text item object, got "+kindOf(sub), nil)
			}
			var st, sx, ss []byte
			for m := objectMembers(sub); ; {
				k, v, ok := m.next()
				if !ok {
					break
				}
				switch string(k) {
				case `"type"`:
					st = v
				case `"text"`:
					sx = v
				case `"styles"`:
					ss = v
				}
			}
			if v, _ := rawString(st); v != "text" {
				return nil, false, p.fail(el.member("type"), `must be "text": a link holds only styled text`, nil)
			}
			if len(sx) == 0 || sx[0] != '"' {
				return nil, false, p.fail(el.member("text"), "must be a string, got "+kindOf(sx), nil)
			}
			if ss != nil && ss[0] != '{' {
				return nil, false, p.fail(el.member("styles"), "must be an object, got "+kindOf(ss), nil)
			}
			writeString(text, sx)
		}
		return item, false, nil
	default:
		// Custom inline content (a mention, a tag): kept as is; its styled
		// text, when it has some, counts as text.
		lenientText(content, text, &b.links, 0)
		return item, false, nil
	}
}

// textItems is the inline content holding one unstyled text run.
func textItems(s string) []byte {
	if s == "" {
		return []byte("[]")
	}
	buf := append([]byte{'['}, textItem(s)...)
	return append(buf, ']')
}

// textItem is one unstyled text run.
func textItem(s string) []byte {
	buf := append([]byte(nil), `{"type":"text","text":`...)
	buf = appendString(buf, s)
	return append(buf, `,"styles":{}}`...)
}

func joinArray(items [][]byte) []byte {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it...)
	}
	return append(buf, ']')
}

// replaceMember returns obj (a valid JSON object) with key's value replaced
// by val, or added when missing.
func replaceMember(obj []byte, key string, val []byte) []byte {
	buf := []byte{'{'}
	found := false
	first := true
	for m := objectMembers(obj); ; {
		k, v, ok := m.next()
		if !ok {
			break
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, k...)
		buf = append(buf, ':')
		if decodeString(k, hasEscape(k)) == key {
			buf = append(buf, val...)
			found = true
		} else {
			buf = append(buf, v...)
		}
	}
	if !found {
		if !first {
			buf = append(buf, ',')
		}
		buf = appendString(buf, key)
		buf = append(buf, ':')
		buf = append(buf, val...)
	}
	return append(buf, '}')
}

func addNoteLink(links *[]uuid.UUID, href string) {
	rest, ok := strings.CutPrefix(href, NoteLinkPrefix)
	if !ok {
		return
	}
	id, err := uuid.Parse(rest)
	if err != nil || len(rest) != 36 {
		return
	}
	for _, l := range *links {
		if l == id {
			return
		}
	}
	*links = append(*links, id)
}

// lenientText reads the text of inline content that is not validated (custom
// blocks, table cells): text items, links and the styled text of custom
// inline content; anything else, or anything nested deeper than a few
// levels, is skipped.
func lenientText(raw []byte, text *strings.Builder, links *[]uuid.UUID, depth int) {
	if len(raw) == 0 || depth > 3 {
		return
	}
	switch raw[0] {
	case '"':
		s, _ := rawString(raw)
		text.WriteString(s)
	case '[':
		it := arrayElements(raw)
		for {
			item, ok := it.next()
			if !ok {
				break
			}
			if item[0] != '{' {
				continue
			}
			var typ, txt, href, content []byte
			for m := objectMembers(item); ; {
				k, v, ok := m.next()
				if !ok {
					break
				}
				switch string(k) {
				case `"type"`:
					typ = v
				case `"text"`:
					txt = v
				case `"href"`:
					href = v
				case `"content"`:
					content = v
				}
			}
			t, _ := rawString(typ)
			switch t {
			case "text":
				writeString(text, txt)
			case "link":
				h, _ := rawString(href)
				addNoteLink(links, h)
				lenientText(content, text, links, depth+1)
			default:
				if len(content) > 0 && content[0] == '[' {
					lenientText(content, text, links, depth+1)
				}
			}
		}
	}
}

// tableText reads the text of a tableContent object: cells separated by a
// space, rows by a newline.
func tableText(raw []byte, text *strings.Builder, links *[]uuid.UUID) {
	for tm := objectMembers(raw); ; {
		k, rows, ok := tm.next()
		if !ok {
			return
		}
		if string(k) != `"rows"` || rows[0] != '[' {
			continue
		}
		for ri := arrayElements(rows); ; {
			row, ok := ri.next()
			if !ok {
				break
			}
			if row[0] != '{' {
				continue
			}
			for rm := objectMembers(row); ; {
				k, cells, ok := rm.next()
				if !ok {
					break
				}
				if string(k) != `"cells"` || cells[0] != '[' {
					continue
				}
				if text.Len() > 0 {
					text.WriteByte('\n')
				}
				first := true
				for ci := arrayElements(cells); ; {
					cell, ok := ci.next()
					if !ok {
						break
					}
					if !first {
						text.WriteByte(' ')
					}
					first = false
					if cell[0] != '{' {
						lenientText(cell, text, links, 1)
						continue
					}
					for cm := objectMembers(cell); ; {
						k, v, ok := cm.next()
						if !ok {
							break
						}
						if string(k) == `"content"` {
							lenientText(v, text, links, 1)
						}
					}
				}
			}
		}
	}
}
