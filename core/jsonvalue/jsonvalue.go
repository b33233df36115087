// Package jsonvalue compares JSON documents by the value they denote, not by
// their bytes: key order, whitespace, string escapes and the spelling of
// numbers never matter. It is how a save that changes nothing is told from
// one that does, for documents and metadata alike.
package jsonvalue

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of arrays and objects Canonical accepts.
const MaxDepth = 512

// ErrInvalid is returned for data that is not one valid JSON value.
var ErrInvalid = errors.New("jsonvalue: not a valid JSON value")

// Canonical appends to dst the canonical form of the JSON value in data: no
// whitespace; object members sorted by key (shorter keys first, as jsonb
// keeps them), a repeated key kept once with its last value (as jsonb
// does); strings with only ", \ and control characters escaped; numbers
// as their exact decimal value (1.50, 15e-1 and 1.5 are all 15e-1; 100 is
// 1e2; -0 is 0). Two documents denote
// the same value exactly when their canonical forms are equal.
func Canonical(dst, data []byte) ([]byte, error) {
	c := canon{out: dst, d: data}
	i, err := c.value(skipSpace(data, 0), 0)
	if err != nil {
		return dst, err
	}
	if skipSpace(data, i) != len(data) {
		return dst, ErrInvalid
	}
	return c.out, nil
}

var bufs = sync.Pool{New: func() any { return new([]byte) }}

// Equal reports whether a and b are valid JSON denoting the same value.
func Equal(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return validPrefix(a)
	}
	pa, pb := bufs.Get().(*[]byte), bufs.Get().(*[]byte)
	defer bufs.Put(pa)
	defer bufs.Put(pb)
	ca, err := Canonical((*pa)[:0], a)
	*pa = ca
	if err != nil {
		return false
	}
	cb, err := Canonical((*pb)[:0], b)
	*pb = cb
	return err == nil && bytes.Equal(ca, cb)
}

// validPrefix is the check Equal makes of byte-identical input: it must
// still be JSON.
func validPrefix(a []byte) bool {
	p := bufs.Get().(*[]byte)
	defer bufs.Put(p)
	out, err := Canonical((*p)[:0], a)
	*p = out
	return err == nil
}

// Hash returns the SHA-256 of the canonical form of data.
func Hash(data []byte) ([32]byte, error) {
	p := bufs.Get().(*[]byte)
	defer bufs.Put(p)
	out, err := Canonical((*p)[:0], data)
	*p = out
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(out), nil
}

type member struct {
	start, keyEnd, end int // in out: "key" [keyEnd] :value [end]
}

type canon struct {
	out  []byte
	d    []byte
	mems []member // stack shared by nested objects
	tmp  []byte
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

func (c *canon) value(i, depth int) (int, error) {
	d := c.d
	if i >= len(d) {
		return i, ErrInvalid
	}
	switch ch := d[i]; {
	case ch == '"':
		return c.str(i)
	case ch == '{':
		if depth >= MaxDepth {
			return i, ErrInvalid
		}
		return c.object(i, depth+1)
	case ch == '[':
		if depth >= MaxDepth {
			return i, ErrInvalid
		}
		return c.array(i, depth+1)
	case ch == 't':
		return c.literal(i, "true")
	case ch == 'f':
		return c.literal(i, "false")
	case ch == 'n':
		return c.literal(i, "null")
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number(i)
	}
	return i, ErrInvalid
}

func (c *canon) literal(i int, lit string) (int, error) {
	if len(c.d)-i >= len(lit) && string(c.d[i:i+len(lit)]) == lit {
		c.out = append(c.out, lit...)
		return i + len(lit), nil
	}
	return i, ErrInvalid
}

func (c *canon) array(i, depth int) (int, error) {
	d := c.d
	c.out = append(c.out, '[')
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		c.out = append(c.out, ']')
		return i + 1, nil
	}
	for {
		var err error
		if i, err = c.value(i, depth); err != nil {
			return i, err
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, ErrInvalid
		}
		switch d[i] {
		case ',':
			c.out = append(c.out, ',')
			i = skipSpace(d, i+1)
		case ']':
			c.out = append(c.out, ']')
			return i + 1, nil
		default:
			return i, ErrInvalid
		}
	}
}

func (c *canon) object(i, depth int) (int, error) {
	d := c.d
	objStart := len(c.out)
	c.out = append(c.out, '{')
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		c.out = append(c.out, '}')
		return i + 1, nil
	}
	base := len(c.mems)
	sorted := true
	for {
		if i >= len(d) || d[i] != '"' {
			return i, ErrInvalid
		}
		if len(c.mems) > base {
			c.out = append(c.out, ',')
		}
		m := member{start: len(c.out)}
		var err error
		if i, err = c.str(i); err != nil {
			return i, err
		}
		m.keyEnd = len(c.out)
		i = skipSpace(d, i)
		if i >= len(d) || d[i] != ':' {
			return i, ErrInvalid
		}
		c.out = append(c.out, ':')
		if i, err = c.value(skipSpace(d, i+1), depth); err != nil {
			return i, err
		}
		m.end = len(c.out)
		if n := len(c.mems); n > base && compareKeys(c.out, 0, c.mems[n-1], m) >= 0 {
			sorted = false
		}
		c.mems = append(c.mems, m)
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, ErrInvalid
		}
		if d[i] == '}' {
			i++
			break
		}
		if d[i] != ',' {
			return i, ErrInvalid
		}
		i = skipSpace(d, i+1)
	}
	if !sorted {
		ms := c.mems[base:]
		slices.SortStableFunc(ms, func(a, b member) int { return compareKeys(c.out, 0, a, b) })
		off := objStart + 1
		c.tmp = append(c.tmp[:0], c.out[off:]...)
		c.out = c.out[:off]
		first := true
		for k, m := range ms {
			if k+1 < len(ms) && compareKeys(c.tmp, off, m, ms[k+1]) == 0 {
				continue // a repeated key: the last one wins
			}
			if !first {
				c.out = append(c.out, ',')
			}
			first = false
			c.out = append(c.out, c.tmp[m.start-off:m.end-off]...)
		}
	}
	c.out = append(c.out, '}')
	c.mems = c.mems[:base]
	return i, nil
}

// compareKeys orders two members by their keys (as written in buf, whose
// first byte is at offset off of the output): shorter keys first, then
// bytewise, the order Postgres' jsonb keeps, so that documents read back
// from it are already in order.
func compareKeys(buf []byte, off int, a, b member) int {
	ka, kb := buf[a.start-off:a.keyEnd-off], buf[b.start-off:b.keyEnd-off]
	if len(ka) != len(kb) {
		return len(ka) - len(kb)
	}
	return bytes.Compare(ka, kb)
}

// plain[b] tells the bytes a string keeps as they are in canonical form:
// printable ASCII other than " and \. Strings are mostly such runs, so str
// skips them with one table look-up a byte.
var plain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// str writes the string at d[i] in canonical form.
func (c *canon) str(i int) (int, error) {
	d := c.d
	start := i
	i++
	for i < len(d) {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			break
		}
		ch := d[i]
		switch {
		case ch == '"':
			c.out = append(c.out, d[start:i+1]...)
			return i + 1, nil
		case ch == '\\':
			c.out = append(c.out, d[start:i]...)
			return c.escaped(i)
		case ch < 0x20:
			return i, ErrInvalid
		case ch < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, ErrInvalid
			}
			i += size
		}
	}
	return i, ErrInvalid
}

// escaped continues a string at its first backslash, decoding escapes and
// writing each character canonically.
func (c *canon) escaped(i int) (int, error) {
	d := c.d
	for i < len(d) {
		ch := d[i]
		switch {
		case ch == '"':
			c.out = append(c.out, '"')
			return i + 1, nil
		case ch == '\\':
			if i+1 >= len(d) {
				return i, ErrInvalid
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				c.char(rune(e))
				i += 2
			case 'b':
				c.char('\b')
				i += 2
			case 'f':
				c.char('\f')
				i += 2
			case 'n':
				c.char('\n')
				i += 2
			case 'r':
				c.char('\r')
				i += 2
			case 't':
				c.char('\t')
				i += 2
			case 'u':
				r, ok := Hex4(d, i+2)
				if !ok {
					return i, ErrInvalid
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r < 0xdc00 && i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
						if r2, ok := Hex4(d, i+2); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
							c.char(utf16.DecodeRune(r, r2))
							i += 6
							continue
						}
					}
					// A lone surrogate has no character: keep it escaped.
					c.out = append(c.out, `\u`...)
					c.out = append(c.out, hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
					continue
				}
				c.char(r)
			default:
				return i, ErrInvalid
			}
		case ch < 0x20:
			return i, ErrInvalid
		case ch < utf8.RuneSelf:
			c.out = append(c.out, ch)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, ErrInvalid
			}
			c.out = append(c.out, d[i:i+size]...)
			i += size
		}
	}
	return i, ErrInvalid
}

const hexDigits = "0123456789abcdef"

// char writes one decoded character of a string.
func (c *canon) char(r rune) {
	switch {
	case r == '"':
		c.out = append(c.out, `\"`...)
	case r == '\\':
		c.out = append(c.out, `\\`...)
	case r < 0x20:
		c.out = append(c.out, `\u00`...)
		c.out = append(c.out, hexDigits[r>>4], hexDigits[r&0xf])
	default:
		c.out = utf8.AppendRune(c.out, r)
	}
}

// Hex4 decodes the four hex digits of a \u escape at d[i:i+4]; it reports false
// when they are not four hex digits. The JSON scanners of core share it.
func Hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, ch := range d[i : i+4] {
		r <<= 4
		switch {
		case ch >= '0' && ch <= '9':
			r |= rune(ch - '0')
		case ch >= 'a' && ch <= 'f':
			r |= rune(ch - 'a' + 10)
		case ch >= 'A' && ch <= 'F':
			r |= rune(ch - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number writes the number at d[i] as its exact decimal value: the
// significant digits, then e and the power of ten when it is not 0.
func (c *canon) number(i int) (int, error) {
	d := c.d
	neg := false
	if d[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, ErrInvalid
	}
	intDigits := d[intStart:i]
	var frac []byte
	if i < len(d) && d[i] == '.' {
		i++
		fs := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == fs {
			return i, ErrInvalid
		}
		frac = d[fs:i]
	}
	var exp int64
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		eneg := false
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			eneg = d[i] == '-'
			i++
		}
		es := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			if exp < 1<<40 { // beyond any number a database stores; saturate
				exp = exp*10 + int64(d[i]-'0')
			}
			i++
		}
		if i == es {
			return i, ErrInvalid
		}
		if eneg {
			exp = -exp
		}
	}
	// digits = intDigits + frac without leading zeros; value = digits × 10^(exp - len(frac)).
	exp -= int64(len(frac))
	lead := 0
	all := len(intDigits) + len(frac)
	at := func(k int) byte {
		if k < len(intDigits) {
			return intDigits[k]
		}
		return frac[k-len(intDigits)]
	}
	for lead < all && at(lead) == '0' {
		lead++
	}
	if lead == all {
		c.out = append(c.out, '0')
		return i, nil
	}
	end := all
	for at(end-1) == '0' {
		end--
		exp++
	}
	if neg {
		c.out = append(c.out, '-')
	}
	for k := lead; k < end; k++ {
		c.out = append(c.out, at(k))
	}
	if exp != 0 {
		c.out = append(c.out, 'e')
		c.out = strconv.AppendInt(c.out, exp, 10)
	}
	return i, nil
}
