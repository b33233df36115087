package connector

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/consilium-hq/consilium/sdk"
)

// listTTL is how long a list's statuses are reused.
const listTTL = 10 * time.Minute

type cachedList struct {
	at       time.Time
	statuses []cuStatus
}

// statuses answers a list's statuses (GET /list/{id}), cached per list.
func (p *Plugin) statuses(ctx context.Context, s *settings, c *client, listID string) ([]cuStatus, error) {
	key := s.baseURL + "|" + listID
	p.mu.Lock()
	if p.lists == nil {
		p.lists = map[string]cachedList{}
	}
	if e, ok := p.lists[key]; ok && time.Since(e.at) < listTTL {
		p.mu.Unlock()
		return e.statuses, nil
	}
	p.mu.Unlock()
	var l cuList
	if err := c.do(ctx, "GET", "list/"+url.PathEscape(listID), nil, nil, &l); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.lists[key] = cachedList{at: time.Now(), statuses: l.Statuses}
	p.mu.Unlock()
	return l.Statuses, nil
}

func (p *Plugin) forgetList(s *settings, listID string) {
	p.mu.Lock()
	delete(p.lists, s.baseURL+"|"+listID)
	p.mu.Unlock()
}

// statusMeaning is the meaning of the list's status named name, "" when
// the list has no such status.
func statusMeaning(sts []cuStatus, name string, onHold []string) sdk.TaskStatus {
	for _, st := range sts {
		if strings.EqualFold(st.Status, name) {
			return meaning(st.Type, st.Status, onHold)
		}
	}
	return ""
}

// pickStatus chooses the list's status for a meaning: the first of that
// meaning in the list's order; done prefers the closed status (closing the
// task) to a done one; cancelled is closed. "" when the list has none.
func pickStatus(sts []cuStatus, want sdk.TaskStatus, onHold []string) string {
	if want == sdk.TaskDone || want == sdk.TaskCancelled {
		for _, st := range sts {
			if strings.EqualFold(st.Type, "closed") {
				return st.Status
			}
		}
		want = sdk.TaskDone
	}
	for _, st := range sts {
		if meaning(st.Type, st.Status, onHold) == want {
			return st.Status
		}
	}
	return ""
}

// PushTask applies a change in ClickUp: create (POST /list/{id}/task),
// update (PUT /task/{id} with only the fields named in Fields; all of them
// when Fields is empty, as hosts before Fields send) or delete (DELETE
// /task/{id}; a task already gone is not an error).
//
// Status goes out as the list's own status of the meaning asked for, and
// not at all when the task's current status (Task.StatusName) already has
// that meaning: a custom "in review" is never flattened to "in progress".
// The answer's UpdatedAt is ClickUp's date_updated after the change (zero
// when nothing needed sending): the next sync brings the task back with it.
func (p *Plugin) PushTask(ctx context.Context, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	s, c, err := p.setup(&req.Connection)
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case sdk.PushCreate:
		return p.create(ctx, s, c, req)
	case sdk.PushUpdate:
		return p.update(ctx, s, c, req)
	case sdk.PushDelete:
		if req.ExternalID == "" {
			return nil, sdk.Permanent("delete: the task's ExternalID is empty")
		}
		err := c.do(ctx, "DELETE", "task/"+url.PathEscape(req.ExternalID), nil, nil, nil)
		if err != nil && sdk.CodeOf(err) != sdk.CodeNotFound {
			return nil, err
		}
		return &sdk.PushTaskResponse{ExternalID: req.ExternalID}, nil
	}
	return nil, sdk.Permanent("unknown push action %q", req.Action)
}

func response(t *cuTask) *sdk.PushTaskResponse {
	return &sdk.PushTaskResponse{ExternalID: t.ID, URL: t.URL, UpdatedAt: t.DateUpdated.Time()}
}

func dueFields(body map[string]any, t *sdk.Task) {
	if t.Due.IsZero() {
		body["due_date"] = nil
		return
	}
	body["due_date"] = t.Due.UnixMilli()
	body["due_date_time"] = t.DueHasTime
}

func (p *Plugin) create(ctx context.Context, s *settings, c *client, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	t := &req.Task
	listID := t.ListID
	if listID == "" {
		listID = s.defaultList
	}
	if listID == "" {
		return nil, sdk.InvalidConfig("create: the task names no ClickUp list (Task.ListID) and config.%s is not set", KeyDefaultListID)
	}
	if strings.TrimSpace(t.Title) == "" {
		return nil, sdk.Permanent("create: the task's title is empty (ClickUp needs a name)")
	}
	body := map[string]any{"name": t.Title}
	if t.Description != "" {
		body["description"] = t.Description
	}
	if pr := priorityOut(t.Priority); pr != nil {
		body["priority"] = pr
	}
	if !t.Due.IsZero() {
		dueFields(body, t)
	}
	if t.ParentExternalID != "" {
		body["parent"] = t.ParentExternalID
	}
	if len(t.Tags) > 0 {
		body["tags"] = t.Tags
	}
	// Open is where a new task starts anyway: no status request.
	if (t.Status != "" && t.Status != sdk.TaskOpen) || t.StatusName != "" {
		sts, err := p.statuses(ctx, s, c, listID)
		if err != nil {
			return nil, err
		}
		want := t.Status
		if want == "" {
			want = sdk.TaskOpen
		}
		if t.StatusName != "" && statusMeaning(sts, t.StatusName, s.onHold) == want {
			body["status"] = t.StatusName
		} else if name := pickStatus(sts, want, s.onHold); name != "" {
			body["status"] = name
		}
	}
	var out cuTask
	if err := c.do(ctx, "POST", "list/"+url.PathEscape(listID)+"/task", nil, body, &out); err != nil {
		if _, sent := body["status"]; sent {
			p.forgetList(s, listID)
		}
		return nil, err
	}
	return response(&out), nil
}

func (p *Plugin) update(ctx context.Context, s *settings, c *client, req *sdk.PushTaskRequest) (*sdk.PushTaskResponse, error) {
	if req.ExternalID == "" {
		return nil, sdk.Permanent("update: the task's ExternalID is empty")
	}
	t := &req.Task
	fields := req.Fields
	if len(fields) == 0 {
		fields = []sdk.TaskField{sdk.FieldTitle, sdk.FieldDescription, sdk.FieldStatus, sdk.FieldDue, sdk.FieldPriority}
	}
	path := "task/" + url.PathEscape(req.ExternalID)
	body := map[string]any{}
	listID := ""
	for _, f := range fields {
		switch f {
		case sdk.FieldTitle:
			if strings.TrimSpace(t.Title) == "" {
				return nil, sdk.Permanent("update: the task's title is empty (ClickUp needs a name)")
			}
			body["name"] = t.Title
		case sdk.FieldDescription:
			if t.Description == "" {
				body["description"] = " " // ClickUp's way to clear it
			} else {
				body["description"] = t.Description
			}
		case sdk.FieldDue:
			dueFields(body, t)
		case sdk.FieldPriority:
			body["priority"] = priorityOut(t.Priority)
		case sdk.FieldStatus:
			if t.Status == "" {
				continue
			}
			current := t.StatusName
			listID = t.ListID
			if listID == "" {
				// The host knows no list: ask ClickUp (one more request),
				// and trust its current status over the host's.
				var now cuTask
				if err := c.do(ctx, "GET", path, nil, nil, &now); err != nil {
					return nil, err
				}
				listID, current = now.List.ID, now.Status.Status
			}
			sts, err := p.statuses(ctx, s, c, listID)
			if err != nil {
				return nil, err
			}
			if current != "" && statusMeaning(sts, current, s.onHold) == t.Status {
				continue // already means that: keep ClickUp's own status
			}
			if name := pickStatus(sts, t.Status, s.onHold); name != "" {
				body["status"] = name
			}
		}
		// A field this version does not know is left alone.
	}
	if len(body) == 0 {
		return &sdk.PushTaskResponse{ExternalID: req.ExternalID}, nil
	}
	var out cuTask
	if err := c.do(ctx, "PUT", path, nil, body, &out); err != nil {
		if _, sent := body["status"]; sent && listID != "" {
			p.forgetList(s, listID)
		}
		return nil, err
	}
	return response(&out), nil
}
