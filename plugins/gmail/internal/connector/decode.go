package connector

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
	"golang.org/x/text/encoding/htmlindex"
	"google.golang.org/api/gmail/v1"

	"github.com/consilium-hq/consilium/sdk"
)

// MessageURL opens a message in Gmail's web client (whichever label it
// carries).
func MessageURL(id string) string { return "https://mail.google.com/mail/u/0/#all/" + id }

// maxBodyRunes bounds the text kept of one message's body.
const maxBodyRunes = 100_000

// Data is what a record's Data holds beside sdk.Email: the ids that tie a
// message to its thread and to the messages it answers.
type Data struct {
	MessageID   string       `json:"message_id,omitempty"`
	ThreadID    string       `json:"thread_id"`
	InReplyTo   string       `json:"in_reply_to,omitempty"`
	References  []string     `json:"references,omitempty"`
	Cc          []string     `json:"cc,omitempty"`
	ReplyTo     string       `json:"reply_to,omitempty"`
	Date        string       `json:"date,omitempty"`
	HistoryID   string       `json:"history_id,omitempty"`
	BodyFormat  string       `json:"body_format,omitempty"` // text or html (converted)
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment names a file the message carries (its content is not read).
type Attachment struct {
	Filename string `json:"filename"`
	MimeType string `json:"mime_type"`
	Size     int64  `json:"size"`
}

// ToRecord decodes a message (format full, or metadata without a body)
// into a record of kind email.
func ToRecord(m *gmail.Message) sdk.Record {
	h := headers(m.Payload)
	d := Data{ThreadID: m.ThreadId, MessageID: h.get("Message-ID"), InReplyTo: h.get("In-Reply-To"),
		References: msgIDs(h.get("References")), ReplyTo: h.get("Reply-To"), Cc: addresses(h.get("Cc"))}
	if m.HistoryId != 0 {
		d.HistoryID = strconv.FormatUint(m.HistoryId, 10)
	}
	sent, dateErr := mail.ParseDate(h.get("Date"))
	if dateErr == nil {
		d.Date = sent.UTC().Format(time.RFC3339)
	}
	received := time.UnixMilli(m.InternalDate).UTC()
	if m.InternalDate == 0 && dateErr == nil {
		received = sent.UTC()
	}
	body := ""
	if m.Payload != nil {
		var b bodyParts
		b.walk(m.Payload, false)
		body, d.BodyFormat = b.text()
		d.Attachments = b.attachments
	}
	body = truncateRunes(body, maxBodyRunes)
	raw, _ := json.Marshal(d)
	return sdk.Record{
		ExternalID: m.Id,
		Kind:       sdk.RecordEmail,
		URL:        MessageURL(m.Id),
		UpdatedAt:  received,
		Email: &sdk.Email{ThreadID: m.ThreadId, From: h.get("From"), To: addresses(h.get("To")),
			Subject: h.get("Subject"), Snippet: html.UnescapeString(m.Snippet), Body: body,
			ReceivedAt: received, Labels: append([]string(nil), m.LabelIds...)},
		Data: raw,
	}
}

// hdrs are a part's headers; names compare case-insensitively
// (Message-ID, Message-Id).
type hdrs []*gmail.MessagePartHeader

func headers(p *gmail.MessagePart) hdrs {
	if p == nil {
		return nil
	}
	return p.Headers
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(in), nil
}}

// get returns the first header of that name, RFC 2047 words decoded.
func (h hdrs) get(name string) string {
	for _, x := range h {
		if x != nil && strings.EqualFold(x.Name, name) {
			v := strings.TrimSpace(x.Value)
			if strings.Contains(v, "=?") {
				if dec, err := wordDecoder.DecodeHeader(v); err == nil {
					v = dec
				}
			}
			return v
		}
	}
	return ""
}

// addresses splits an address list into "Name <addr>" or "addr" items.
func addresses(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	list, err := (&mail.AddressParser{WordDecoder: wordDecoder}).ParseList(v)
	if err != nil {
		return sdk.SplitList(v)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		if a.Name != "" {
			out = append(out, a.Name+" <"+a.Address+">")
		} else {
			out = append(out, a.Address)
		}
	}
	return out
}

// msgIDs splits a References header into its <ids>.
func msgIDs(v string) []string {
	var out []string
	for _, f := range strings.Fields(v) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// bodyParts collects a message's text: the chosen text of each inline
// part, in order, and its attachments.
type bodyParts struct {
	plain, html []string
	attachments []Attachment
}

func isAttachment(p *gmail.MessagePart) bool {
	if p.Filename != "" || (p.Body != nil && p.Body.AttachmentId != "") {
		return true
	}
	disp := hdrs(p.Headers).get("Content-Disposition")
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(disp)), "attachment")
}

// walk visits a part. In multipart/alternative the text/plain version wins
// when it says something, else the HTML one; the other parts of a
// multipart (mixed, related, ...) add up.
func (b *bodyParts) walk(p *gmail.MessagePart, inAlt bool) {
	mt := strings.ToLower(p.MimeType)
	switch {
	case isAttachment(p) && !strings.HasPrefix(mt, "multipart/"):
		size := int64(0)
		if p.Body != nil {
			size = p.Body.Size
		}
		b.attachments = append(b.attachments, Attachment{Filename: p.Filename, MimeType: p.MimeType, Size: size})
	case mt == "multipart/alternative":
		var sub bodyParts
		for _, c := range p.Parts {
			sub.walk(c, true)
		}
		b.attachments = append(b.attachments, sub.attachments...)
		if t := strings.TrimSpace(strings.Join(sub.plain, "\n\n")); t != "" {
			b.plain = append(b.plain, t)
			return
		}
		if t := strings.TrimSpace(strings.Join(sub.html, "\n\n")); t != "" {
			b.html = append(b.html, t)
			// An alternative with HTML only counts as HTML; as plain
			// text too, so a mixed message keeps its order.
			b.plain = append(b.plain, t)
		}
	case strings.HasPrefix(mt, "multipart/"):
		for _, c := range p.Parts {
			b.walk(c, inAlt)
		}
	case mt == "text/plain" || (mt == "" && p.Body != nil && p.Body.Data != ""):
		if t := partText(p); strings.TrimSpace(t) != "" {
			b.plain = append(b.plain, strings.TrimSpace(t))
		}
	case mt == "text/html":
		if t := HTMLToText(partText(p)); t != "" {
			b.html = append(b.html, t)
		}
	}
}

// text is the body: the plain text parts (an HTML-only alternative among
// them converted), else the HTML parts converted.
func (b *bodyParts) text() (string, string) {
	if len(b.plain) > 0 {
		return strings.Join(b.plain, "\n\n"), "text"
	}
	if len(b.html) > 0 {
		return strings.Join(b.html, "\n\n"), "html"
	}
	return "", ""
}

// DecodeData decodes a body's data: base64url, with or without padding
// (Gmail sends both), or standard base64 from other producers.
func DecodeData(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// partText is a text part's content as UTF-8: its data decoded, then its
// charset (Content-Type's charset parameter) converted.
func partText(p *gmail.MessagePart) string {
	if p.Body == nil || p.Body.Data == "" {
		return ""
	}
	raw, err := DecodeData(p.Body.Data)
	if err != nil {
		return ""
	}
	charset := ""
	if _, params, err := mime.ParseMediaType(hdrs(p.Headers).get("Content-Type")); err == nil {
		charset = params["charset"]
	}
	return ToUTF8(raw, charset)
}

// ToUTF8 converts text in charset to UTF-8. An unknown charset, or none,
// keeps UTF-8 as it is and replaces invalid bytes.
func ToUTF8(raw []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" {
		if enc, err := htmlindex.Get(cs); err == nil {
			if out, err := enc.NewDecoder().Bytes(raw); err == nil {
				return string(out)
			}
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

var wsRun = regexp.MustCompile(`[ \t\r\n\f]+`)

var blockTags = map[string]bool{"p": true, "div": true, "br": true, "tr": true, "li": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "table": true, "ul": true,
	"ol": true, "hr": true, "section": true, "article": true, "header": true, "footer": true, "dd": true, "dt": true}

var skipTags = map[string]bool{"script": true, "style": true, "head": true, "title": true, "noscript": true, "template": true}

// HTMLToText renders HTML as plain text: scripts, styles and the head
// dropped, block elements on lines of their own, list items with "- ",
// links followed by their address when it differs from their text,
// entities decoded, runs of spaces collapsed.
func HTMLToText(src string) string {
	z := xhtml.NewTokenizer(strings.NewReader(src))
	var out strings.Builder
	skip := 0
	pre := 0
	var href []string
	var linkText []strings.Builder
	write := func(s string) {
		out.WriteString(s)
		if n := len(linkText); n > 0 {
			linkText[n-1].WriteString(s)
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return tidy(out.String())
		case xhtml.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre == 0 {
				// Any run of white space is one space; tidy trims lines.
				t = wsRun.ReplaceAllString(t, " ")
			}
			write(t)
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken, xhtml.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if skipTags[tag] {
				if tt == xhtml.StartTagToken {
					skip++
				} else if tt == xhtml.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch {
			case tag == "pre" && tt == xhtml.StartTagToken:
				pre++
			case tag == "pre" && tt == xhtml.EndTagToken && pre > 0:
				pre--
			}
			if tag == "a" {
				switch tt {
				case xhtml.StartTagToken:
					h := ""
					for hasAttr {
						var k, v []byte
						k, v, hasAttr = z.TagAttr()
						if string(k) == "href" {
							h = string(v)
						}
					}
					href = append(href, h)
					linkText = append(linkText, strings.Builder{})
				case xhtml.EndTagToken:
					if n := len(href); n > 0 {
						h, text := href[n-1], strings.TrimSpace(linkText[n-1].String())
						href, linkText = href[:n-1], linkText[:n-1]
						h = strings.TrimPrefix(h, "mailto:")
						if h != "" && !strings.HasPrefix(h, "#") && h != text && !strings.Contains(text, h) {
							write(" (" + h + ")")
						}
					}
				}
				continue
			}
			if tag == "li" {
				if tt == xhtml.StartTagToken {
					write("\n- ")
				}
				continue
			}
			if tag == "td" || tag == "th" {
				write(" ")
				continue
			}
			if blockTags[tag] {
				write("\n")
				if tag == "p" || tag == "blockquote" || tag == "hr" {
					write("\n")
				}
			}
		}
	}
}

// tidy trims each line, drops spaces around line breaks and keeps at most
// one empty line in a row.
func tidy(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	empty := 0
	for _, l := range lines {
		l = strings.Join(strings.Fields(strings.ReplaceAll(l, "\u00a0", " ")), " ")
		if l == "" {
			empty++
			if empty > 1 || len(out) == 0 {
				continue
			}
		} else {
			empty = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos] + "…"
		}
		i++
	}
	return s
}
