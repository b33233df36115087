package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"google.golang.org/api/gmail/v1"

	"github.com/consilium-hq/consilium/sdk"
)

// cursorVersion is written into every cursor; a cursor of another version
// starts a bootstrap.
const cursorVersion = 1

const cursorPrefix = "gm1."

// Phases of a cursor.
const (
	phaseBootstrap = "bootstrap"
	phaseHistory   = "history"
)

// cursor is where a sync stands (opaque to the host: "gm1." and base64url
// JSON).
//
// Between runs Phase is history, HistoryID the mailbox history id the
// last run reached and PageToken empty. A bootstrap (no cursor, an
// unreadable one, or Gmail forgot the history id) reads the mailbox's
// history id first, then lists the last days' messages page by page with
// Phase bootstrap and the list's PageToken; after its last page the
// history id read first becomes the start of the history, so nothing that
// arrived during the bootstrap is missed. An incremental run walks
// history.list from HistoryID page by page (PageToken); HistoryID moves to
// the history's new id only with the last page, so a run stopped midway
// continues from the stored page and never skips a change.
type cursor struct {
	V         int    `json:"v"`
	Phase     string `json:"phase"`
	HistoryID uint64 `json:"history_id,string"`
	PageToken string `json:"page_token,omitempty"`
}

func (c *cursor) encode() string {
	raw, _ := json.Marshal(c)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor reads a cursor; nil when it is empty or unreadable (a
// bootstrap follows).
func decodeCursor(s string) *cursor {
	b64, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return nil
	}
	var c cursor
	if json.Unmarshal(raw, &c) != nil || c.V != cursorVersion || c.HistoryID == 0 ||
		(c.Phase != phaseBootstrap && c.Phase != phaseHistory) {
		return nil
	}
	return &c
}

// Sync answers one page: a page of the bootstrap's message list, or a
// page of the mailbox history, each with its messages read in full.
// Gmail keeps no deleted messages in what is read here: Deletes stays
// empty.
func (p *Plugin) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	s, err := parseSettings(&req.Connection)
	if err != nil {
		return nil, err
	}
	if req.PageSize > 0 {
		s.pageSize = min(req.PageSize, MaxPageSize)
	}
	svc, err := p.service(ctx, &req.Connection, s)
	if err != nil {
		return nil, err
	}
	cur := decodeCursor(req.Cursor)
	if cur == nil {
		return p.bootstrap(ctx, svc, s, nil)
	}
	if cur.Phase == phaseBootstrap {
		return p.bootstrap(ctx, svc, s, cur)
	}
	return p.history(ctx, svc, s, cur)
}

// bootstrap reads one page of the last days' messages. cur nil starts it:
// the mailbox's history id is read (and kept) before anything else, and
// the page says Reset.
func (p *Plugin) bootstrap(ctx context.Context, svc *gmail.Service, s *settings, cur *cursor) (*sdk.SyncResponse, error) {
	resp := &sdk.SyncResponse{}
	if cur == nil {
		prof, err := svc.Users.GetProfile("me").Context(ctx).Do()
		if err != nil {
			return nil, mapError(ctx, "GET users/me/profile", err)
		}
		if prof.HistoryId == 0 {
			return nil, sdk.Temporary("GET users/me/profile: Gmail answered no historyId")
		}
		cur = &cursor{V: cursorVersion, Phase: phaseBootstrap, HistoryID: prof.HistoryId}
		resp.Reset = true
	}
	q := fmt.Sprintf("newer_than:%dd", s.days)
	if s.query != "" {
		q += " " + s.query
	}
	call := svc.Users.Messages.List("me").Q(q).MaxResults(int64(s.pageSize)).Context(ctx)
	if cur.PageToken != "" {
		call = call.PageToken(cur.PageToken)
	}
	list, err := call.Do()
	if err != nil {
		return nil, mapError(ctx, "GET users/me/messages", err)
	}
	ids := make([]string, 0, len(list.Messages))
	for _, m := range list.Messages {
		if m != nil && m.Id != "" && !slices.Contains(ids, m.Id) && !s.skipped(m.LabelIds) {
			ids = append(ids, m.Id)
		}
	}
	if resp.Upserts, err = p.fetch(ctx, svc, s, ids); err != nil {
		return nil, err
	}
	if list.NextPageToken != "" {
		cur.PageToken = list.NextPageToken
		resp.HasMore = true
	} else {
		// The bootstrap's last page: the history starts at the id read
		// before the first.
		cur.Phase, cur.PageToken = phaseHistory, ""
	}
	resp.NextCursor = cur.encode()
	return resp, nil
}

// history reads one page of the mailbox history since cur.HistoryID (only
// messageAdded). A 404 (Gmail no longer has that history) starts a fresh
// bootstrap at once, never a retry of the same id.
func (p *Plugin) history(ctx context.Context, svc *gmail.Service, s *settings, cur *cursor) (*sdk.SyncResponse, error) {
	call := svc.Users.History.List("me").StartHistoryId(cur.HistoryID).HistoryTypes("messageAdded").
		MaxResults(int64(s.pageSize)).Context(ctx)
	if cur.PageToken != "" {
		call = call.PageToken(cur.PageToken)
	}
	h, err := call.Do()
	if apiStatus(err) == http.StatusNotFound {
		return p.bootstrap(ctx, svc, s, nil)
	}
	if err != nil {
		return nil, mapError(ctx, "GET users/me/history", err)
	}
	var ids []string
	for _, rec := range h.History {
		if rec == nil {
			continue
		}
		for _, a := range rec.MessagesAdded {
			if a == nil || a.Message == nil || a.Message.Id == "" || slices.Contains(ids, a.Message.Id) || s.skipped(a.Message.LabelIds) {
				continue
			}
			ids = append(ids, a.Message.Id)
		}
	}
	resp := &sdk.SyncResponse{}
	if resp.Upserts, err = p.fetch(ctx, svc, s, ids); err != nil {
		return nil, err
	}
	if h.NextPageToken != "" {
		cur.PageToken = h.NextPageToken
		resp.HasMore = true
	} else {
		// The history's last page: its id is where the next run starts.
		if h.HistoryId > cur.HistoryID {
			cur.HistoryID = h.HistoryId
		}
		cur.PageToken = ""
	}
	resp.NextCursor = cur.encode()
	return resp, nil
}

// skipped says whether a message with these labels is left out.
func (s *settings) skipped(labels []string) bool {
	for _, l := range labels {
		if slices.Contains(s.skipLabels, strings.ToUpper(l)) {
			return true
		}
	}
	return false
}

// fetch reads messages in full (a few at a time) and decodes them, in the
// order given. A message gone meanwhile (404) is left out; one whose labels
// the filter skips too.
func (p *Plugin) fetch(ctx context.Context, svc *gmail.Service, s *settings, ids []string) ([]sdk.Record, error) {
	msgs := make([]*gmail.Message, len(ids))
	errs := make([]error, len(ids))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, concurrentGets)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			m, err := svc.Users.Messages.Get("me", id).Format("full").Context(ctx).Do()
			if apiStatus(err) == http.StatusNotFound {
				return
			}
			if err != nil {
				errs[i] = mapError(ctx, "GET users/me/messages/"+id, err)
				cancel()
				return
			}
			msgs[i] = m
		}()
	}
	wg.Wait()
	// The first error that is not the cancellation it caused.
	for _, err := range errs {
		if err != nil && sdk.CodeOf(err) != "" {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out := make([]sdk.Record, 0, len(ids))
	for _, m := range msgs {
		if m == nil || m.Id == "" || s.skipped(m.LabelIds) {
			continue
		}
		out = append(out, ToRecord(m))
	}
	return out, nil
}
