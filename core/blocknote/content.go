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
	cat := at.member("content")
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
		n := 0
		_, err := scanArray(raw, 0, func(s, e int) error {
			item, norm, err := p.inlineItem(b, raw[s:e], &path{parent: cat, index: n}, &text)
			n++
			if err != nil {
				return err
			}
			items = append(items, item)
			changed = changed || norm
			return nil
		}, 0)
		if err != nil {
			return err
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
// returns the item, rewritten when it was a partial link (string content).
func (p *parser) inlineItem(b *Block, item []byte, at *path, text *strings.Builder) ([]byte, bool, error) {
	if item[0] != '{' {
		return nil, false, p.fail(at, "must be an inline content object, got "+kindOf(item), nil)
	}
	var typ, txt, href, styles, content []byte
	_, _ = scanObject(item, 0, func(k []byte, s, e int) error {
		switch string(k) {
		case `"type"`:
			typ = item[s:e]
		case `"text"`:
			txt = item[s:e]
		case `"href"`:
			href = item[s:e]
		case `"styles"`:
			styles = item[s:e]
		case `"content"`:
			content = item[s:e]
		}
		return nil
	}, 0)
	t, ok := rawString(typ)
	if !ok || t == "" {
		return nil, false, p.fail(at.member("type"), "must be a non-empty string", nil)
	}
	switch t {
	case "text":
		s, ok := rawString(txt)
		if !ok {
			return nil, false, p.fail(at.member("text"), "must be a string, got "+kindOf(txt), nil)
		}
		if styles != nil && styles[0] != '{' {
			return nil, false, p.fail(at.member("styles"), "must be an object, got "+kindOf(styles), nil)
		}
		text.WriteString(s)
		return item, false, nil
	case "link":
		h, ok := rawString(href)
		if !ok {
			return nil, false, p.fail(at.member("href"), "must be a string, got "+kindOf(href), nil)
		}
		addNoteLink(&b.links, h)
		cat := at.member("content")
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
		n := 0
		_, err := scanArray(content, 0, func(s, e int) error {
			el := &path{parent: cat, index: n}
			n++
			sub := content[s:e]
			if sub[0] != '{' {
				return p.fail(el, "must be a text item object, got "+kindOf(sub), nil)
			}
			var st, sx, ss []byte
			_, _ = scanObject(sub, 0, func(k []byte, s, e int) error {
				switch string(k) {
				case `"type"`:
					st = sub[s:e]
				case `"text"`:
					sx = sub[s:e]
				case `"styles"`:
					ss = sub[s:e]
				}
				return nil
			}, 0)
			if v, _ := rawString(st); v != "text" {
				return p.fail(el.member("type"), `must be "text": a link holds only styled text`, nil)
			}
			v, ok := rawString(sx)
			if !ok {
				return p.fail(el.member("text"), "must be a string, got "+kindOf(sx), nil)
			}
			if ss != nil && ss[0] != '{' {
				return p.fail(el.member("styles"), "must be an object, got "+kindOf(ss), nil)
			}
			text.WriteString(v)
			return nil
		}, 0)
		return item, false, err
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
	buf := append([]byte(nil), `[{"type":"text","text":`...)
	buf = appendString(buf, s)
	return append(buf, `,"styles":{}}]`...)
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
	_, _ = scanObject(obj, 0, func(k []byte, s, e int) error {
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
			buf = append(buf, obj[s:e]...)
		}
		return nil
	}, 0)
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
		_, _ = scanArray(raw, 0, func(s, e int) error {
			item := raw[s:e]
			if item[0] != '{' {
				return nil
			}
			var typ, txt, href, content []byte
			_, _ = scanObject(item, 0, func(k []byte, s, e int) error {
				switch string(k) {
				case `"type"`:
					typ = item[s:e]
				case `"text"`:
					txt = item[s:e]
				case `"href"`:
					href = item[s:e]
				case `"content"`:
					content = item[s:e]
				}
				return nil
			}, 0)
			t, _ := rawString(typ)
			switch t {
			case "text":
				s, _ := rawString(txt)
				text.WriteString(s)
			case "link":
				h, _ := rawString(href)
				addNoteLink(links, h)
				lenientText(content, text, links, depth+1)
			default:
				if len(content) > 0 && content[0] == '[' {
					lenientText(content, text, links, depth+1)
				}
			}
			return nil
		}, 0)
	}
}

// tableText reads the text of a tableContent object: cells separated by a
// space, rows by a newline.
func tableText(raw []byte, text *strings.Builder, links *[]uuid.UUID) {
	_, _ = scanObject(raw, 0, func(k []byte, s, e int) error {
		if string(k) != `"rows"` || raw[s] != '[' {
			return nil
		}
		rows := raw[s:e]
		_, _ = scanArray(rows, 0, func(s, e int) error {
			row := rows[s:e]
			if row[0] != '{' {
				return nil
			}
			_, _ = scanObject(row, 0, func(k []byte, s, e int) error {
				if string(k) != `"cells"` || row[s] != '[' {
					return nil
				}
				cells := row[s:e]
				if text.Len() > 0 {
					text.WriteByte('\n')
				}
				first := true
				_, _ = scanArray(cells, 0, func(s, e int) error {
					if !first {
						text.WriteByte(' ')
					}
					first = false
					cell := cells[s:e]
					if cell[0] == '{' {
						_, _ = scanObject(cell, 0, func(k []byte, s, e int) error {
							if string(k) == `"content"` {
								lenientText(cell[s:e], text, links, 1)
							}
							return nil
						}, 0)
						return nil
					}
					lenientText(cell, text, links, 1)
					return nil
				}, 0)
				return nil
			}, 0)
			return nil
		}, 0)
		return nil
	}, 0)
}
