package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/gmail/gmailtest"
)

// BenchmarkGmailSync (make bench): the real plugin under the real host,
// River and Postgres against the local Gmail, with no model (the offline
// rules decide, so no model time is counted). The mail is the project's
// labelled corpus (core/integration/testdata/mailcorpus), cycled and
// spread over the last week, so the scan makes tasks and suggestions as
// it would from real mail.
//
//   - bootstrap-2000: the first sync of 2,000 messages (pages of 50, the
//     plugin's default) until every message is stored and scanned;
//     messages/s for the whole, sync-messages/s for storing alone (the
//     sync job's end), and the tasks and suggestions made.
//   - incremental-10: a sync that brings 10 new messages (history.list),
//     stored and scanned (ms).
//   - floor: a plain HTTP client doing the plugin's Gmail requests for the
//     same 2,000 messages (profile, list pages of 50, every message in
//     full, four at a time as the plugin does) against the same local
//     server, with nothing stored (messages/s).
func BenchmarkGmailSync(b *testing.B) {
	const n = 2000
	corpus := benchCorpus(b)
	e := newMailEnv(b, mailEnvOptions{})
	now := time.Now()
	for i := range n {
		m := corpus[i%len(corpus)]
		m.To, m.Date = gmailtest.Email, now.Add(-time.Duration(n-i)*5*time.Minute)
		e.s.Add(m)
	}
	e.connect(b)
	ctx := context.Background()

	b.Run("bootstrap-2000", func(b *testing.B) {
		start := time.Now()
		ids, err := e.a.Integrations.SyncNow(ctx, e.alice, "gmail", false)
		if err != nil {
			b.Fatal(err)
		}
		// The sync job's end (storing), then the scan's.
		deadline := time.Now().Add(20 * time.Minute)
		var synced time.Duration
		for synced == 0 {
			var st string
			if err := e.a.DB.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, ids[0]).Scan(&st); err != nil {
				b.Fatal(err)
			}
			switch {
			case st == "completed":
				synced = time.Since(start)
			case st == "discarded" || st == "cancelled" || time.Now().After(deadline):
				b.Fatalf("sync job %s", st)
			default:
				time.Sleep(5 * time.Millisecond)
			}
		}
		e.syncAndScanWait(b, deadline)
		took := time.Since(start)
		if got := e.count(b, `SELECT count(*) FROM emails WHERE user_id = $1 AND scanned_at IS NOT NULL`, e.alice); got != n {
			b.Fatalf("%d messages stored and scanned, want %d", got, n)
		}
		b.ReportMetric(took.Seconds(), "s")
		b.ReportMetric(n/took.Seconds(), "messages/s")
		b.ReportMetric(n/synced.Seconds(), "sync-messages/s")
		b.ReportMetric(float64(e.count(b, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.alice)), "tasks")
		b.ReportMetric(float64(e.count(b, `SELECT count(*) FROM mail_suggestions WHERE user_id = $1`, e.alice)), "suggestions")
	})
	b.Run("incremental-10", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			for j := range 10 {
				m := corpus[(i*10+j*7)%len(corpus)]
				m.To, m.Date = gmailtest.Email, time.Now().Add(-time.Minute)
				e.s.Add(m)
			}
			before := e.count(b, `SELECT count(*) FROM emails WHERE user_id = $1 AND scanned_at IS NOT NULL`, e.alice)
			start := time.Now()
			e.syncAndScan(b, false)
			total += time.Since(start)
			if got := e.count(b, `SELECT count(*) FROM emails WHERE user_id = $1 AND scanned_at IS NOT NULL`, e.alice); got != before+10 {
				b.Fatalf("%d messages scanned, want %d", got, before+10)
			}
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/sync")
	})
	b.Run("floor", func(b *testing.B) {
		e.s.AddToken("bench-floor-token")
		var total time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			got := floorFetch(b, e.s.BaseURL(), "bench-floor-token", 50, 4)
			total += time.Since(start)
			if got < n {
				b.Fatalf("the floor read %d messages, want at least %d", got, n)
			}
		}
		b.ReportMetric(n*float64(b.N)/total.Seconds(), "messages/s")
	})
}

// syncAndScanWait waits, after a sync job, until every mail_scan job of
// Alice's connection is finished.
func (e *mailEnv) syncAndScanWait(tb testing.TB, deadline time.Time) {
	tb.Helper()
	conn := mustConn(tb, e.a, e.alice)
	for {
		busy := e.count(tb, `SELECT count(*) FROM river_job WHERE kind = 'integration.mail_scan'
			AND args->>'connection_id' = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`, conn.String())
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d scan jobs not finished", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// floorFetch does the bootstrap's Gmail requests with a plain client: the
// profile, the list pages of the last 14 days, every message in full with
// conc requests at a time; it answers how many messages it read.
func floorFetch(tb testing.TB, base, token string, pageSize, conc int) int {
	tb.Helper()
	client := &http.Client{Timeout: time.Minute}
	get := func(path string, q url.Values, v any) error {
		req, err := http.NewRequest(http.MethodGet, base+"/gmail/v1/users/me/"+path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	var prof map[string]any
	if err := get("profile", nil, &prof); err != nil {
		tb.Fatal(err)
	}
	read := 0
	token2 := ""
	for {
		q := url.Values{"q": {"newer_than:14d"}, "maxResults": {fmt.Sprint(pageSize)}}
		if token2 != "" {
			q.Set("pageToken", token2)
		}
		var list struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := get("messages", q, &list); err != nil {
			tb.Fatal(err)
		}
		sem := make(chan struct{}, conc)
		errs := make([]error, len(list.Messages))
		var wg sync.WaitGroup
		for i, m := range list.Messages {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				var full map[string]any
				errs[i] = get("messages/"+m.ID, url.Values{"format": {"full"}}, &full)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				tb.Fatal(err)
			}
		}
		read += len(list.Messages)
		if list.NextPageToken == "" {
			return read
		}
		token2 = list.NextPageToken
	}
}

// benchCorpus is the labelled mail corpus as local Gmail messages.
func benchCorpus(tb testing.TB) []gmailtest.Mail {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "core", "integration", "testdata", "mailcorpus", "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("the mail corpus is missing (%v)", err)
	}
	sort.Strings(files)
	var out []gmailtest.Mail
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct {
				From, Subject, Body string
				Headers             map[string]string
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				tb.Fatal(err)
			}
			out = append(out, gmailtest.Mail{From: m.From, Subject: m.Subject, Text: m.Body, InReplyTo: m.Headers["In-Reply-To"]})
		}
		fh.Close()
	}
	return out
}
