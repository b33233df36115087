package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/plugins/gmail/gmailtest"
	"github.com/consilium-hq/consilium/plugins/gmail/internal/connector"
	"github.com/consilium-hq/consilium/sdk"
	"github.com/consilium-hq/consilium/sdk/conformance"
	"github.com/consilium-hq/consilium/sdk/plugintest"
)

const token = "ya29.a0TESTTOKEN"

func connection(s *gmailtest.Server, kv ...string) sdk.Connection {
	c := sdk.Connection{ID: "conn-1", Config: map[string]string{"base_url": s.BaseURL()},
		Token: &sdk.Token{AccessToken: token, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Config[kv[i]] = kv[i+1]
	}
	return c
}

type run struct {
	records []sdk.Record
	pages   int
	resets  []int // pages (from 1) that said Reset
	cursors []string
	cursor  string
}

func (r *run) ids() map[string]int {
	out := map[string]int{}
	for _, rec := range r.records {
		out[rec.ExternalID]++
	}
	return out
}

func (r *run) find(id string) *sdk.Record {
	for i := len(r.records) - 1; i >= 0; i-- {
		if r.records[i].ExternalID == id {
			return &r.records[i]
		}
	}
	return nil
}

// syncPages calls Sync from cursor until HasMore is false, or for at most
// limit pages (0: no limit).
func syncPages(t *testing.T, p *plugintest.Plugin, conn sdk.Connection, cursor string, limit int) *run {
	t.Helper()
	r := &run{cursor: cursor}
	for {
		resp, err := p.Integration.Sync(context.Background(), &sdk.SyncRequest{Connection: conn, Cursor: r.cursor})
		if err != nil {
			t.Fatalf("sync page %d: %v", r.pages+1, err)
		}
		r.pages++
		if resp.Reset {
			r.resets = append(r.resets, r.pages)
		}
		if resp.NextCursor == "" || len(resp.Deletes) > 0 {
			t.Fatalf("page %d: cursor %q, deletes %v", r.pages, resp.NextCursor, resp.Deletes)
		}
		r.records = append(r.records, resp.Upserts...)
		r.cursor = resp.NextCursor
		r.cursors = append(r.cursors, r.cursor)
		if !resp.HasMore || (limit > 0 && r.pages == limit) {
			return r
		}
	}
}

// calls returns the API requests of the log as "name" strings: profile,
// list, get, history.
func calls(s *gmailtest.Server) []gmailtest.Request {
	var out []gmailtest.Request
	for _, r := range s.Log() {
		if strings.HasPrefix(r.Path, "/gmail/v1/users/me/") {
			out = append(out, r)
		}
	}
	return out
}

func kind(r gmailtest.Request) string {
	p := strings.TrimPrefix(r.Path, "/gmail/v1/users/me/")
	switch {
	case p == "profile":
		return "profile"
	case p == "messages":
		return "list"
	case strings.HasPrefix(p, "messages/"):
		return "get"
	case p == "history":
		return "history"
	}
	return p
}

func kinds(rs []gmailtest.Request) string {
	var out []string
	for _, r := range rs {
		if k := kind(r); len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return strings.Join(out, ",")
}

func code(err error) (sdk.Code, time.Duration) {
	var e *sdk.Error
	if errors.As(err, &e) {
		return e.Code, e.RetryAfter
	}
	return "", 0
}

func data(t *testing.T, r *sdk.Record) connector.Data {
	t.Helper()
	var d connector.Data
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("%s: Data %s: %v", r.ExternalID, r.Data, err)
	}
	return d
}

// TestPluginProcess builds the plugin and calls it over gRPC as its own
// process, started the way the host starts plugins, against the local
// Gmail.
func TestPluginProcess(t *testing.T) {
	bin := plugintest.Build(t, ".")
	p := plugintest.Start(t, bin)
	ctx := context.Background()

	t.Run("conformance", func(t *testing.T) {
		s := gmailtest.Start(t, gmailtest.Options{})
		s.AddToken(token)
		s.Seed(120)
		plugintest.RunIntegration(t, p, conformance.Options{Connection: connection(s), MaxSyncPages: 20})
	})

	t.Run("manifest", func(t *testing.T) {
		m, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		o := m.Auth.OAuth2
		if m.Name != "gmail" || m.Auth.Type != sdk.AuthOAuth2 || o == nil || !m.Has(sdk.CapEmailRead) || m.Has(sdk.CapTasksPush) ||
			!m.Implements("Sync") || m.Validate() != nil {
			t.Fatalf("manifest %+v (%v)", m, m.Validate())
		}
		if o.AuthURL != "https://accounts.google.com/o/oauth2/auth" || o.TokenURL != "https://oauth2.googleapis.com/token" || !o.PKCE ||
			!slices.Equal(o.Scopes, []string{"https://www.googleapis.com/auth/gmail.readonly"}) ||
			o.AuthParams["access_type"] != "offline" || o.AuthParams["prompt"] != "consent" {
			t.Errorf("oauth %+v", o)
		}
		m, err = p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{
			"auth_url": "http://127.0.0.1:9/o/oauth2/auth", "token_url": "http://127.0.0.1:9/token"}}})
		if err != nil || m.Auth.OAuth2.AuthURL != "http://127.0.0.1:9/o/oauth2/auth" || m.Auth.OAuth2.TokenURL != "http://127.0.0.1:9/token" {
			t.Errorf("configured endpoints %+v %v", m.Auth.OAuth2, err)
		}
		for key, v := range map[string]string{"base_url": "gmail.googleapis.com", "auth_url": "/auth", "bootstrap_days": "0", "page_size": "501"} {
			_, err := p.Integration.Describe(ctx, &sdk.DescribeRequest{Connection: sdk.Connection{Config: map[string]string{key: v}}})
			if c, _ := code(err); c != sdk.CodeInvalidConfig || !strings.Contains(err.Error(), "config."+key) {
				t.Errorf("%s=%q: %v", key, v, err)
			}
		}
	})

	t.Run("bootstrap records the history id first, then incremental history across pages", func(t *testing.T) {
		s := gmailtest.Start(t, gmailtest.Options{})
		s.AddToken(token)
		seeded := s.Seed(120)
		old := s.Add(gmailtest.Mail{From: "old@example.org", To: gmailtest.Email, Subject: "a month ago", Text: "old", Date: time.Now().AddDate(0, 0, -30)})
		draft := s.Add(gmailtest.Mail{From: gmailtest.Email, To: "x@example.org", Subject: "draft", Text: "unsent", Labels: []string{"DRAFT"}})
		h0 := s.HistoryID()
		s.ResetLog()
		conn := connection(s, "page_size", "50")
		boot := syncPages(t, p, conn, "", 0)
		got := boot.ids()
		if len(got) != 120 || len(boot.records) != 120 || boot.pages != 3 || !slices.Equal(boot.resets, []int{1}) {
			t.Fatalf("bootstrap: %d records (%d distinct), %d pages, resets %v", len(boot.records), len(got), boot.pages, boot.resets)
		}
		for _, id := range seeded {
			if got[id] != 1 {
				t.Fatalf("message %s came %d times", id, got[id])
			}
		}
		if got[old] != 0 || got[draft] != 0 {
			t.Errorf("the old message or the draft came: %v %v", got[old], got[draft])
		}
		cs := calls(s)
		if kinds(cs) != "profile,list,get,list,get,list,get" {
			t.Errorf("bootstrap calls %s, want the profile first", kinds(cs))
		}
		for _, r := range cs {
			if kind(r) == "list" && (r.Query.Get("q") != "newer_than:14d -in:chats" || r.Query.Get("maxResults") != "50") {
				t.Errorf("list query %v", r.Query)
			}
			if kind(r) == "get" && r.Query.Get("format") != "full" {
				t.Errorf("get query %v", r.Query)
			}
		}
		rec := boot.find(seeded[7])
		if rec.Kind != sdk.RecordEmail || rec.URL != "https://mail.google.com/mail/u/0/#all/"+seeded[7] || rec.Email == nil ||
			rec.Email.Subject != "Message 7" || rec.Email.Body != "Body of message 7." || rec.Email.ThreadID != seeded[7] {
			t.Errorf("record %+v %+v", rec, rec.Email)
		}

		// Mail arriving: 5 messages, read in history pages of 2 (3 pages);
		// every page asks from the same history id, and the id moves
		// only with the last page.
		var added []string
		for i := range 5 {
			added = append(added, s.Add(gmailtest.Mail{From: "new@example.org", To: gmailtest.Email, Subject: "new " + strconv.Itoa(i), Text: "hello"}))
		}
		s.AddLabel(seeded[0], "STARRED") // not a messageAdded: not read
		h1 := s.HistoryID()
		s.ResetLog()
		inc := syncPages(t, p, connection(s, "page_size", "2"), boot.cursor, 0)
		if len(inc.resets) != 0 || inc.pages != 3 || len(inc.records) != 5 {
			t.Fatalf("incremental: %d pages, %d records, resets %v", inc.pages, len(inc.records), inc.resets)
		}
		for _, id := range added {
			if inc.ids()[id] != 1 {
				t.Errorf("new message %s came %d times", id, inc.ids()[id])
			}
		}
		hist := 0
		for _, r := range calls(s) {
			if kind(r) != "history" {
				continue
			}
			hist++
			if r.Query.Get("startHistoryId") != strconv.FormatUint(h0, 10) || r.Query.Get("historyTypes") != "messageAdded" {
				t.Errorf("history request %d: %v (want startHistoryId %d)", hist, r.Query, h0)
			}
			if (hist == 1) != (r.Query.Get("pageToken") == "") {
				t.Errorf("history request %d: pageToken %q", hist, r.Query.Get("pageToken"))
			}
		}
		if hist != 3 {
			t.Errorf("%d history requests", hist)
		}
		// A run cut after its first page continues in a new process from
		// the stored cursor (same start, the next page).
		other := plugintest.Start(t, bin)
		s.ResetLog()
		rest := syncPages(t, other, connection(s, "page_size", "2"), inc.cursors[0], 0)
		if rest.pages != 2 || len(rest.records) != 3 {
			t.Errorf("continued run: %d pages, %d records", rest.pages, len(rest.records))
		}
		if r := calls(s)[0]; r.Query.Get("pageToken") == "" || r.Query.Get("startHistoryId") != strconv.FormatUint(h0, 10) {
			t.Errorf("the continued run asked %v", r.Query)
		}
		// The next run starts at the history id of the last page.
		s.ResetLog()
		next := syncPages(t, p, conn, inc.cursor, 0)
		if r := calls(s); len(next.records) != 0 || len(r) != 1 || r[0].Query.Get("startHistoryId") != strconv.FormatUint(h1, 10) {
			t.Errorf("next run: %d records, calls %+v (want startHistoryId %d)", len(next.records), r, h1)
		}
	})

	t.Run("a 404 on an old history id starts a fresh bootstrap with Reset", func(t *testing.T) {
		s := gmailtest.Start(t, gmailtest.Options{})
		s.AddToken(token)
		s.Seed(30)
		conn := connection(s, "page_size", "20")
		boot := syncPages(t, p, conn, "", 0)
		gone := s.HistoryID()
		s.Add(gmailtest.Mail{From: "late@example.org", To: gmailtest.Email, Subject: "after a long pause", Text: "x"})
		h := s.HistoryID()
		s.ExpireHistoryBefore(h) // the bootstrap's id is older
		s.ResetLog()
		again := syncPages(t, p, conn, boot.cursor, 0)
		if !slices.Equal(again.resets, []int{1}) || len(again.ids()) != 31 || again.pages != 2 {
			t.Fatalf("re-bootstrap: resets %v, %d messages, %d pages", again.resets, len(again.ids()), again.pages)
		}
		cs := calls(s)
		if kinds(cs) != "history,profile,list,get,list,get" || cs[0].Status != 404 {
			t.Errorf("calls %s (first answered %d)", kinds(cs), cs[0].Status)
		}
		for _, r := range cs[1:] {
			if kind(r) == "history" {
				t.Errorf("the expired id %d was asked again", gone)
			}
		}
		s.ResetLog()
		syncPages(t, p, conn, again.cursor, 0)
		if cs := calls(s); len(cs) != 1 || cs[0].Query.Get("startHistoryId") != strconv.FormatUint(h, 10) {
			t.Errorf("after the re-bootstrap: %+v, want startHistoryId %d", cs, h)
		}
	})

	t.Run("decoding", func(t *testing.T) {
		s := gmailtest.Start(t, gmailtest.Options{})
		s.AddToken(token)
		for _, name := range []string{"message-full-multipart-alternative.json", "message-full-multipart-mixed-attachments.json",
			"message-full-reply-with-attachment.json", "message-full-draft-multipart-alternative.json",
			"message-metadata-reply.json", "message-metadata-multipart-mixed.json"} {
			if _, err := s.AddRaw(sharedfixtures.Read(t, "gmail", name)); err != nil {
				t.Fatal(name, err)
			}
		}
		latin1 := s.Add(gmailtest.Mail{From: "=?ISO-8859-1?Q?J=FCrg_M=FCller?= <jurg@example.ch>", To: "Ann <ann@example.com>, bob@example.com",
			Subject: "=?ISO-8859-1?Q?Gr=FC=DFe_aus_Z=FCrich?=", Text: "Grüße aus Zürich: café, crème brûlée à 10 h.", Charset: "ISO-8859-1"})
		htmlOnly := s.Add(gmailtest.Mail{From: "news@example.org", To: gmailtest.Email, Subject: "HTML only",
			HTML: `<html><head><style>p{color:red}</style><title>t</title></head><body><script>alert(1)</script>` +
				`<p>Please review the <a href="https://example.org/doc">draft</a> by&nbsp;Friday &amp; reply.</p><ul><li>one</li><li>two</li></ul></body></html>`})
		all := syncPages(t, p, connection(s, "bootstrap_days", "3650", "skip_labels", "none"), "", 0)
		if n := len(all.ids()); n != 8 {
			t.Fatalf("%d messages decoded, want 8", n)
		}

		alt := all.find("1926ab2f388ee820")
		if d := data(t, alt); alt.Email.From != "Hassan Wari <hassanwari254@gmail.com>" ||
			!slices.Equal(alt.Email.To, []string{"Hassan Wari <hassanwari254@gmail.com>"}) || alt.Email.Body != "" ||
			d.MessageID != "<CAJd6VjKant=0C8wK8P_VaeCGQbKUQiqpE_-nHt7zauAT6yustg@mail.gmail.com>" || d.ThreadID != "1926ab2eb6b97dbd" ||
			d.Date != "2024-10-08T05:54:04Z" || !alt.UpdatedAt.Equal(time.UnixMilli(1728366844000)) ||
			!slices.Equal(alt.Email.Labels, []string{"UNREAD", "IMPORTANT", "SENT", "INBOX"}) {
			t.Errorf("multipart/alternative: %+v %+v %s", alt, alt.Email, alt.Data)
		}
		mixed := all.find("1926aae406722332")
		if d := data(t, mixed); mixed.Email.Body != "This is an example body" || mixed.Email.Subject != "THIS IS AN EXAMPLE" ||
			len(d.Attachments) != 2 || d.Attachments[0] != (connector.Attachment{Filename: "img.PNG", MimeType: "image/png", Size: 19165}) ||
			d.Attachments[1].Filename != "imageee.PNG" || d.BodyFormat != "text" || d.InReplyTo != "" {
			t.Errorf("multipart/mixed: %+v %s", mixed.Email, mixed.Data)
		}
		reply := all.find("1926aae906133846")
		if d := data(t, reply); !strings.HasPrefix(reply.Email.Body, "Response\r\n\r\nOn Tue, Oct 8, 2024 at 8:48\u202fAM Hassan Wari") ||
			!strings.Contains(reply.Email.Body, "> This is an example body") ||
			d.InReplyTo != "<CAJd6Vj+pug5qq8Kg4ZXuSz_5n9w3cpmFA5ax_HSP=2mYopcJFA@mail.gmail.com>" ||
			!slices.Equal(d.References, []string{"<CAJd6Vj+pug5qq8Kg4ZXuSz_5n9w3cpmFA5ax_HSP=2mYopcJFA@mail.gmail.com>"}) ||
			reply.Email.ThreadID != "1926aade210af14d" || reply.Email.Subject != "Re: THIS IS AN EXAMPLE" ||
			!strings.Contains(reply.Email.Snippet, "<hassanwari254@gmail.com> wrote") || len(d.Attachments) != 1 {
			t.Errorf("reply: %q %+v %s", reply.Email.Body, reply.Email, reply.Data)
		}
		if mixed.Email.ThreadID != reply.Email.ThreadID || data(t, mixed).MessageID != data(t, reply).InReplyTo {
			t.Errorf("the reply does not point at the first message")
		}
		dr := all.find("1926aae5958a57a8")
		if dr == nil || !slices.Equal(dr.Email.Labels, []string{"DRAFT"}) {
			t.Errorf("draft %+v", dr)
		}
		meta := all.find("19dda3e42064b8b2")
		if d := data(t, meta); d.MessageID != "<CAPvkvP6A_x5cWH_Ym=6t8i1jZCs6w67CiBYe_Tw8xChtPSVk_Q@mail.gmail.com>" ||
			d.InReplyTo != "<CAPvkvP60LrwryROvPcVjbEkH+000NZ+D8_Q858k1xQr2_N0+CQ@mail.gmail.com>" || meta.Email.From != "api@nango.dev" ||
			meta.Email.Body != "" || meta.Email.Snippet != "reply" {
			t.Errorf("headers without a body (Message-Id): %+v %s", meta.Email, meta.Data)
		}
		if d := data(t, all.find("19ddaab064b93cf0")); d.ReplyTo != "api@nango.dev" {
			t.Errorf("Reply-To: %s", all.find("19ddaab064b93cf0").Data)
		}
		l1 := all.find(latin1)
		if l1.Email.Body != "Grüße aus Zürich: café, crème brûlée à 10 h." || l1.Email.Subject != "Grüße aus Zürich" ||
			l1.Email.From != "Jürg Müller <jurg@example.ch>" ||
			!slices.Equal(l1.Email.To, []string{"Ann <ann@example.com>", "bob@example.com"}) {
			t.Errorf("ISO-8859-1: %+v", l1.Email)
		}
		h := all.find(htmlOnly)
		want := "Please review the draft (https://example.org/doc) by Friday & reply.\n\n- one\n- two"
		if h.Email.Body != want || data(t, h).BodyFormat != "html" {
			t.Errorf("HTML only:\n%q\nwant\n%q (%s)", h.Email.Body, want, h.Data)
		}

		// The default label filter leaves the draft out.
		def := syncPages(t, p, connection(s, "bootstrap_days", "3650"), "", 0)
		if def.find("1926aae5958a57a8") != nil || len(def.ids()) != 7 {
			t.Errorf("default filter: %d messages, draft %v", len(def.ids()), def.find("1926aae5958a57a8") != nil)
		}
	})

	t.Run("errors", func(t *testing.T) {
		s := gmailtest.Start(t, gmailtest.Options{})
		s.AddToken(token)
		s.Seed(3)
		conn := connection(s)
		sync := func(c sdk.Connection) error {
			_, err := p.Integration.Sync(ctx, &sdk.SyncRequest{Connection: c})
			return err
		}
		cases := []struct {
			name   string
			status int
			reason string
			retry  time.Duration
			want   sdk.Code
			wait   time.Duration
		}{
			{"429 with Retry-After", 429, "rateLimitExceeded", 7 * time.Second, sdk.CodeRateLimited, 7 * time.Second},
			{"403 rateLimitExceeded", 403, "rateLimitExceeded", 0, sdk.CodeRateLimited, time.Minute},
			{"403 userRateLimitExceeded", 403, "userRateLimitExceeded", 0, sdk.CodeRateLimited, time.Minute},
			{"403 insufficientPermissions", 403, "insufficientPermissions", 0, sdk.CodeNeedsReauth, 0},
			{"500 backendError", 500, "backendError", 0, sdk.CodeTemporary, 0},
			{"503", 503, "backendError", 2 * time.Second, sdk.CodeTemporary, 2 * time.Second},
			{"400", 400, "invalidArgument", 0, sdk.CodePermanent, 0},
		}
		for _, c := range cases {
			s.Fail(1, c.status, c.reason, c.retry)
			err := sync(conn)
			if got, wait := code(err); got != c.want || wait != c.wait || !strings.Contains(err.Error(), strconv.Itoa(c.status)) {
				t.Errorf("%s: %v (code %s, wait %s)", c.name, err, got, wait)
			}
		}
		// A message deleted between the list and its read (404) is left
		// out; a 500 on a message read fails the page.
		ids := s.Seed(2)
		var status int
		s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/messages/"+ids[0]) && status != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"error":{"code":` + strconv.Itoa(status) + `,"message":"x","errors":[{"reason":"backendError"}]}}`))
				return true
			}
			return false
		})
		status = 404
		r := syncPages(t, p, conn, "", 0)
		if len(r.ids()) != 4 || r.find(ids[0]) != nil || r.find(ids[1]) == nil {
			t.Errorf("a message gone meanwhile: %d records", len(r.ids()))
		}
		status = 500
		if c, _ := code(sync(conn)); c != sdk.CodeTemporary {
			t.Errorf("a 500 on a message read: %s", c)
		}
		s.Intercept(nil)
		noToken := conn
		noToken.Token = nil
		if c, _ := code(sync(noToken)); c != sdk.CodeNeedsReauth {
			t.Errorf("no token: %s", c)
		}
		s.RevokeToken(token)
		err := sync(conn)
		if c, _ := code(err); c != sdk.CodeNeedsReauth || !strings.Contains(err.Error(), "401") {
			t.Errorf("revoked token: %v", err)
		}
	})
}
