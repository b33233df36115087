package connector

import (
	"encoding/json"
	"strings"

	"github.com/consilium-hq/consilium/sdk"
)

// meaning is what a ClickUp status means to Consilium: type open →
// open; custom → in progress, or on hold when its name holds one of the
// on-hold words ("on hold", "blocked", "waiting"); done and closed → done.
// An unknown type is read as custom.
func meaning(typ, name string, onHold []string) sdk.TaskStatus {
	switch strings.ToLower(typ) {
	case "open":
		return sdk.TaskOpen
	case "closed", "done":
		return sdk.TaskDone
	}
	lower := strings.ToLower(name)
	for _, w := range onHold {
		if w != "" && strings.Contains(lower, w) {
			return sdk.TaskOnHold
		}
	}
	return sdk.TaskInProgress
}

// priorityIn maps ClickUp's priority names to the SDK's.
func priorityIn(p string) string {
	switch strings.ToLower(p) {
	case "urgent":
		return "urgent"
	case "high":
		return "high"
	case "normal":
		return "medium"
	case "low":
		return "low"
	}
	return ""
}

// priorityOut maps the SDK's priority to ClickUp's number (1 urgent .. 4
// low), nil for none.
func priorityOut(p string) any {
	switch strings.ToLower(p) {
	case "urgent":
		return 1
	case "high":
		return 2
	case "medium", "normal":
		return 3
	case "low":
		return 4
	}
	return nil
}

// recordData is what a record's Data carries beside the Task.
type recordData struct {
	TeamID         string `json:"team_id,omitempty"`
	SpaceID        string `json:"space_id,omitempty"`
	FolderID       string `json:"folder_id,omitempty"`
	Folder         string `json:"folder,omitempty"`
	CustomID       string `json:"custom_id,omitempty"`
	StatusType     string `json:"status_type"`
	StatusColor    string `json:"status_color,omitempty"`
	TopLevelParent string `json:"top_level_parent,omitempty"`
	DateCreated    int64  `json:"date_created,omitempty"`
	DateClosed     int64  `json:"date_closed,omitempty"`
	DateDone       int64  `json:"date_done,omitempty"`
	Archived       bool   `json:"archived,omitempty"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// toRecord maps a ClickUp task to a record.
func toRecord(t *cuTask, onHold []string) sdk.Record {
	task := &sdk.Task{
		Title:            t.Name,
		Description:      str(t.TextContent),
		Status:           meaning(t.Status.Type, t.Status.Status, onHold),
		StatusName:       t.Status.Status,
		Due:              t.DueDate.Time(),
		DueHasTime:       t.DueDate != 0 && t.DueDateTime != nil && *t.DueDateTime,
		ParentExternalID: str(t.Parent),
		List:             t.List.Name,
		ListID:           t.List.ID,
	}
	if strings.TrimSpace(task.Description) == "" {
		task.Description = str(t.Description)
	}
	if t.Priority != nil {
		task.Priority = priorityIn(t.Priority.Priority)
	}
	for _, tag := range t.Tags {
		if tag.Name != "" {
			task.Tags = append(task.Tags, tag.Name)
		}
	}
	d := recordData{TeamID: t.TeamID, SpaceID: t.Space.ID, CustomID: str(t.CustomID), StatusType: t.Status.Type,
		StatusColor: t.Status.Color, DateCreated: int64(t.DateCreated), DateClosed: int64(t.DateClosed),
		DateDone: int64(t.DateDone), Archived: t.Archived}
	if top := str(t.TopLevelParent); top != str(t.Parent) {
		d.TopLevelParent = top
	}
	if !t.Folder.Hidden {
		d.FolderID, d.Folder = t.Folder.ID, t.Folder.Name
	}
	data, _ := json.Marshal(d)
	return sdk.Record{ExternalID: t.ID, Kind: sdk.RecordTask, URL: t.URL, UpdatedAt: t.DateUpdated.Time(), Task: task, Data: data}
}
