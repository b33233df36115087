package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// cursorVersion is written into every cursor; a cursor of another version
// starts a full sync.
const cursorVersion = 1

const phaseCatchUp = "catchup"

// cursor is where a sync stands. Between runs Teams is empty and Since
// holds each workspace's watermark: the newest date_updated (ms) seen by
// the last run that reached its final page. A run lists the workspaces
// (one request, one empty page), then reads each workspace's task query
// page by page, newest change first; a workspace's watermark moves only
// after its last page, so a run that stops midway (a crash, a restart, the
// host's page budget) continues from the stored page with the same query
// and never skips a change.
type cursor struct {
	V     int      `json:"v"`
	Teams []string `json:"teams,omitempty"`
	Team  int      `json:"team,omitempty"`
	Page  int      `json:"page,omitempty"`
	// Phase is "" (the query) or "catchup": after a full run's last page,
	// the tasks changed after its first page are read, so a task changed
	// during the run (it moved to page 0, already read, and was missing
	// from the page it was on) is seen before the run ends and the host
	// never takes it for deleted.
	Phase string `json:"phase,omitempty"`
	// Full: this run reads everything (no date_updated_gt).
	Full bool `json:"full,omitempty"`
	// RunStart is the newest date_updated of the workspace's first page in
	// this run; RunMax the newest seen in this run.
	RunStart int64            `json:"run_start,omitempty"`
	RunMax   int64            `json:"run_max,omitempty"`
	Since    map[string]int64 `json:"since,omitempty"`
}

func (c *cursor) encode() string {
	raw, _ := json.Marshal(c)
	return "cu1." + base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor reads a cursor; an empty or unreadable one starts a full
// sync (reset).
func decodeCursor(s string) (c *cursor, reset bool) {
	full := &cursor{V: cursorVersion, Full: true}
	if s == "" {
		return full, true
	}
	b64, ok := strings.CutPrefix(s, "cu1.")
	if !ok {
		return full, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return full, true
	}
	var cur cursor
	if json.Unmarshal(raw, &cur) != nil || cur.V != cursorVersion || cur.Team < 0 || cur.Page < 0 ||
		(len(cur.Teams) > 0 && cur.Team >= len(cur.Teams)) {
		return full, true
	}
	return &cur, false
}

// Sync answers one page: one request to ClickUp per call (the host's rate
// limit of RequestsPerMinute per connection is ClickUp's per token). An
// empty cursor is a full sync whose first page says Reset. ClickUp's task
// query shows no deleted tasks: a deletion outside is known only from a
// full sync (Reset) that no longer lists the task; Deletes stays empty.
func (p *Plugin) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	cur, reset := decodeCursor(req.Cursor)
	resp := &sdk.SyncResponse{Reset: reset}
	if len(cur.Teams) == 0 {
		if err := p.startRun(ctx, s, c, cur); err != nil {
			return nil, err
		}
		resp.HasMore = len(cur.Teams) > 0
		if !resp.HasMore {
			cur.Full = false
		}
		resp.NextCursor = cur.encode()
		return resp, nil
	}

	team := cur.Teams[cur.Team]
	q := url.Values{"page": {strconv.Itoa(cur.Page)}, "order_by": {"updated"}, "include_closed": {"true"}, "subtasks": {"true"}}
	switch {
	case cur.Phase == phaseCatchUp:
		// Strictly after the first page: only what changed during the
		// run (no overlap, so a quiet run reads nothing twice).
		q.Set("date_updated_gt", strconv.FormatInt(cur.RunStart, 10))
	case !cur.Full && cur.Since[team] > 0:
		q.Set("date_updated_gt", strconv.FormatInt(max(0, cur.Since[team]-s.overlap.Milliseconds()), 10))
	}
	var page cuTaskPage
	err = c.do(ctx, "GET", "team/"+url.PathEscape(team)+"/task", q, nil, &page)
	switch {
	case ecodeOf(err) == "OAUTH_027":
		// The workspace left the token's reach during the run: go on
		// with the others; it is forgotten at the next run.
		page = cuTaskPage{}
	case err != nil:
		return nil, err
	}
	var newest int64
	for i := range page.Tasks {
		t := &page.Tasks[i]
		if t.ID == "" {
			continue
		}
		resp.Upserts = append(resp.Upserts, toRecord(t, s.onHold))
		newest = max(newest, int64(t.DateUpdated))
	}
	cur.RunMax = max(cur.RunMax, newest)
	if cur.Page == 0 && cur.Phase == "" {
		cur.RunStart = newest
	}
	last := len(page.Tasks) == 0 || (page.LastPage != nil && *page.LastPage) ||
		(page.LastPage == nil && len(page.Tasks) < 100)
	switch {
	case !last:
		cur.Page++
	case cur.Full && cur.Phase == "" && cur.RunStart > 0:
		cur.Phase, cur.Page = phaseCatchUp, 0
	default:
		// The workspace's last page: its watermark moves.
		if cur.Since == nil {
			cur.Since = map[string]int64{}
		}
		cur.Since[team] = max(cur.Since[team], cur.RunMax)
		cur.Team++
		cur.Page, cur.Phase, cur.RunStart, cur.RunMax = 0, "", 0, 0
		if cur.Team >= len(cur.Teams) {
			cur.Teams, cur.Team, cur.Full = nil, 0, false
		}
	}
	resp.HasMore = len(cur.Teams) > 0
	resp.NextCursor = cur.encode()
	return resp, nil
}

// startRun lists the token's workspaces (config.teams narrows them) into
// the cursor and forgets the watermarks of workspaces gone.
func (p *Plugin) startRun(ctx context.Context, s *settings, c *client, cur *cursor) error {
	var teams cuTeams
	if err := c.do(ctx, "GET", "team", nil, nil, &teams); err != nil {
		return err
	}
	var ids []string
	for _, t := range teams.Teams {
		if t.ID != "" && (len(s.teams) == 0 || slices.Contains(s.teams, t.ID)) {
			ids = append(ids, t.ID)
		}
	}
	if len(s.teams) > 0 && len(ids) == 0 {
		return sdk.InvalidConfig("config.%s: none of the workspaces %v is among those the token sees", KeyTeams, s.teams)
	}
	for id := range cur.Since {
		if !slices.Contains(ids, id) {
			delete(cur.Since, id)
		}
	}
	cur.Teams, cur.Team, cur.Page, cur.Phase, cur.RunStart, cur.RunMax = ids, 0, 0, "", 0, 0
	return nil
}
