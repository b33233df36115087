package connector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/core/sharedfixtures"
	"github.com/consilium-hq/consilium/sdk"
)

var onHold = sdk.SplitList(DefaultOnHoldWords)

func TestMeaning(t *testing.T) {
	for _, c := range []struct {
		typ, name string
		want      sdk.TaskStatus
	}{
		{"open", "to do", sdk.TaskOpen},
		{"open", "backlog", sdk.TaskOpen},
		{"custom", "in progress", sdk.TaskInProgress},
		{"custom", "in review", sdk.TaskInProgress},
		{"custom", "On Hold", sdk.TaskOnHold},
		{"custom", "blocked", sdk.TaskOnHold},
		{"custom", "Waiting for client", sdk.TaskOnHold},
		{"custom", "paused", sdk.TaskOnHold},
		{"done", "ready to ship", sdk.TaskDone},
		{"closed", "complete", sdk.TaskDone},
		{"CLOSED", "Closed", sdk.TaskDone},
		{"", "something new", sdk.TaskInProgress},
	} {
		if got := meaning(c.typ, c.name, onHold); got != c.want {
			t.Errorf("meaning(%q, %q) = %q, want %q", c.typ, c.name, got, c.want)
		}
	}
}

func TestPriorities(t *testing.T) {
	for in, want := range map[string]string{"urgent": "urgent", "high": "high", "normal": "medium", "low": "low", "": "", "weird": ""} {
		if got := priorityIn(in); got != want {
			t.Errorf("priorityIn(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]any{"urgent": 1, "high": 2, "medium": 3, "low": 4, "": nil, "none": nil} {
		if got := priorityOut(in); got != want {
			t.Errorf("priorityOut(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPickStatus(t *testing.T) {
	sts := []cuStatus{{Status: "backlog", Type: "open"}, {Status: "in review", Type: "custom"}, {Status: "on hold", Type: "custom"},
		{Status: "ready", Type: "done"}, {Status: "shipped", Type: "closed"}}
	for want, name := range map[sdk.TaskStatus]string{sdk.TaskOpen: "backlog", sdk.TaskInProgress: "in review", sdk.TaskOnHold: "on hold",
		sdk.TaskDone: "shipped", sdk.TaskCancelled: "shipped"} {
		if got := pickStatus(sts, want, onHold); got != name {
			t.Errorf("pickStatus(%s) = %q, want %q", want, got, name)
		}
	}
	plain := []cuStatus{{Status: "to do", Type: "open"}, {Status: "complete", Type: "closed"}}
	if got := pickStatus(plain, sdk.TaskOnHold, onHold); got != "" {
		t.Errorf("a list without an on-hold status picked %q", got)
	}
	if got := statusMeaning(sts, "In Review", onHold); got != sdk.TaskInProgress {
		t.Errorf("statusMeaning(In Review) = %q", got)
	}
	if got := statusMeaning(sts, "renamed away", onHold); got != "" {
		t.Errorf("statusMeaning of a status the list lacks = %q", got)
	}
}

func TestCursor(t *testing.T) {
	c, reset := decodeCursor("")
	if !reset || !c.Full {
		t.Fatalf("empty cursor: %+v reset %v", c, reset)
	}
	for _, bad := range []string{"x", "cu1.!!!", "cu1." + "eyJ2Ijo5fQ", "conformance:not-a-cursor"} {
		if _, reset := decodeCursor(bad); !reset {
			t.Errorf("cursor %q did not start a full sync", bad)
		}
	}
	in := &cursor{V: cursorVersion, Teams: []string{"a", "b"}, Team: 1, Page: 3, Since: map[string]int64{"a": 5}}
	out, reset := decodeCursor(in.encode())
	if reset || out.Team != 1 || out.Page != 3 || out.Since["a"] != 5 {
		t.Errorf("round trip: %+v reset %v", out, reset)
	}
	in.Team = 2 // beyond Teams
	if _, reset := decodeCursor(in.encode()); !reset {
		t.Error("a cursor pointing past its workspaces was accepted")
	}
}

// TestFixtureTasks maps ClickUp's recorded answers.
func TestFixtureTasks(t *testing.T) {
	var page cuTaskPage
	if err := json.Unmarshal(sharedfixtures.Read(t, "clickup", "tasks-list-page0.json"), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Tasks) != 6 || page.LastPage == nil || !*page.LastPage {
		t.Fatalf("%d tasks, last_page %v", len(page.Tasks), page.LastPage)
	}
	r := toRecord(&page.Tasks[0], onHold)
	want := time.UnixMilli(1779523195463).UTC()
	if r.ExternalID != "86c9w249g" || r.Kind != sdk.RecordTask || r.URL != "https://app.clickup.com/t/86c9w249g" ||
		!r.UpdatedAt.Equal(time.UnixMilli(1779199558581)) {
		t.Errorf("record %+v", r)
	}
	tk := r.Task
	if tk.Status != sdk.TaskOpen || tk.StatusName != "to do" || tk.Priority != "high" || !tk.Due.Equal(want) || tk.DueHasTime ||
		tk.ListID != "901523450959" || tk.List != "Get Started with ClickUp" || tk.Description == "" || tk.ParentExternalID != "" {
		t.Errorf("task %+v", tk)
	}
	var data map[string]any
	if err := json.Unmarshal(r.Data, &data); err != nil || data["team_id"] != "90152560096" || data["status_type"] != "open" {
		t.Errorf("data %s (%v)", r.Data, err)
	}

	var one cuTask
	if err := json.Unmarshal(sharedfixtures.Read(t, "clickup", "task-update-response.json"), &one); err != nil {
		t.Fatal(err)
	}
	resp := response(&one)
	if resp.ExternalID != "86c9w403t" || !resp.UpdatedAt.Equal(time.UnixMilli(1779205173437)) || resp.URL != "https://app.clickup.com/t/86c9w403t" {
		t.Errorf("push response %+v", resp)
	}
	var teams cuTeams
	if err := json.Unmarshal(sharedfixtures.Read(t, "clickup", "teams-list.json"), &teams); err != nil || len(teams.Teams) != 1 || teams.Teams[0].ID != "90152560096" {
		t.Errorf("teams %+v (%v)", teams, err)
	}
}
