package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/ai"
	"github.com/consilium-hq/consilium/core/chat"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/note"
	"github.com/consilium-hq/consilium/core/plan"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/core/user"
)

// Services are the core services the tools call; every one is required.
type Services struct {
	// DB is the database the services use: the create tools look up
	// earlier attempts of a call in it.
	DB    *db.DB
	Notes *note.Service
	Tasks *task.Service
	Plan  *plan.Service
	AI    *ai.Service
	Users *user.Service
	// Now is the clock (time.Now when nil): it decides today for overdue
	// tasks and the planning summary.
	Now func() time.Time
}

// Names of the tools, as agents' configs list them (config.AgentTools).
const (
	NameSearch          = "search"
	NameListTasks       = "list_tasks"
	NameCreateTask      = "create_task"
	NameUpdateTask      = "update_task"
	NameSetTaskStatus   = "set_task_status"
	NameDeleteTask      = "delete_task"
	NameListGoals       = "list_goals"
	NameCreateGoal      = "create_goal"
	NameUpdateGoal      = "update_goal"
	NameWriteReflection = "write_reflection"
	NamePlanningSummary = "planning_summary"
)

// BulkThreshold is the number of tasks above which a call that changes
// tasks is bulk (it waits for the user's approval).
const BulkThreshold = 5

// MaxTaskIDs bounds the tasks one call may change.
const MaxTaskIDs = 50

// New returns the tools, in the order of config.AgentTools.
func New(s Services) []chat.Tool {
	if s.DB == nil || s.Notes == nil || s.Tasks == nil || s.Plan == nil || s.AI == nil || s.Users == nil {
		panic("tools.New: DB, Notes, Tasks, Plan, AI and Users are required")
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	t := &toolset{Services: s}
	return []chat.Tool{
		t.search(),
		t.listTasks(),
		t.createTask(),
		t.updateTask(),
		t.setTaskStatus(),
		t.deleteTask(),
		t.listGoals(),
		t.createGoal(),
		t.updateGoal(),
		t.writeReflection(),
		t.planningSummary(),
	}
}

type toolset struct {
	Services
}

// location is the user's time zone preference (UTC when unset or bad).
func (t *toolset) location(ctx context.Context, userID uuid.UUID) (*time.Location, json.RawMessage, error) {
	u, err := t.Users.Get(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("read the user's preferences: %w", err)
	}
	var prefs plan.Preferences
	loc := time.UTC
	if json.Unmarshal(u.Preferences, &prefs) == nil && prefs.Timezone != "" {
		if l, err := field.TimeZone("timezone", prefs.Timezone); err == nil {
			loc = l
		}
	}
	return loc, u.Preferences, nil
}

// today is the date in the user's time zone.
func (t *toolset) today(ctx context.Context, userID uuid.UUID) (string, error) {
	loc, _, err := t.location(ctx, userID)
	if err != nil {
		return "", err
	}
	return t.Now().In(loc).Format(time.DateOnly), nil
}

// result is a tool's answer: content as compact JSON.
func result(content any, summary string) (*chat.ToolResult, error) {
	b, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode tool result: %w", err)
	}
	return &chat.ToolResult{Content: string(b), Summary: summary}, nil
}

// quote is a title as a summary shows it: quoted, at most 60 characters.
func quote(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
