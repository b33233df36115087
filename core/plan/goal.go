package plan

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// Allowed values.
var (
	Timeframes     = []string{"long_term", "yearly", "quarterly", "monthly", "weekly", "daily"}
	GoalStatuses   = []string{"not_started", "in_progress", "completed", "deferred", "abandoned"}
	Priorities     = []string{"high", "medium", "low"}
	ProgressModes  = []string{"manual", "auto"}
	ReflectionKind = []string{"daily", "weekly", "monthly", "quarterly", "yearly", "goal_review"}
)

// Goal is a goal as stored, plus the derived fields of a read.
type Goal struct {
	ID           uuid.UUID
	UserID       uuid.UUID
	Title        string
	Description  string
	Timeframe    string
	ParentGoalID *uuid.UUID
	Status       string
	// ManualProgress is what the user set; Progress is the effective value.
	ManualProgress int
	Progress       int
	// ProgressModeSet is the mode the user chose, empty when never chosen;
	// ProgressMode is the effective one.
	ProgressModeSet string
	ProgressMode    string
	Priority        string
	DueDate         *time.Time
	Metadata        json.RawMessage
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time

	TaskTotal     int
	TaskCompleted int
	ChildrenCount int
}

// GoalFields are the writable fields; nil means "not sent".
type GoalFields struct {
	Title        *string
	Description  *string
	Timeframe    *string
	ParentGoalID **uuid.UUID // non-nil pointer to nil: clear the parent
	Status       *string
	Progress     *int
	ProgressMode *string
	Priority     *string
	DueDate      **time.Time
	Metadata     *json.RawMessage
}

func (f *GoalFields) validate(creating bool) error {
	var errs []apperr.FieldError
	bad := func(loc, msg string, v any) {
		errs = append(errs, apperr.FieldError{Location: loc, Message: msg, Value: v})
	}
	if f.Title != nil {
		t := strings.TrimSpace(*f.Title)
		f.Title = &t
		if t == "" {
			bad("body.title", "must not be empty", nil)
		} else if len(t) > 500 {
			bad("body.title", "must be at most 500 characters", nil)
		}
	} else if creating {
		bad("body.title", "is required", nil)
	}
	if f.Description != nil && len(*f.Description) > 20000 {
		bad("body.description", "must be at most 20000 characters", nil)
	}
	oneOf := func(loc string, v *string, allowed []string) {
		if v != nil && !slices.Contains(allowed, *v) {
			bad(loc, "must be one of "+strings.Join(allowed, ", "), *v)
		}
	}
	oneOf("body.timeframe", f.Timeframe, Timeframes)
	oneOf("body.status", f.Status, GoalStatuses)
	oneOf("body.priority", f.Priority, Priorities)
	oneOf("body.progress_mode", f.ProgressMode, ProgressModes)
	if f.DueDate != nil && *f.DueDate != nil && !field.InDateRange(**f.DueDate) {
		bad("body.due_date", field.DateRule, (**f.DueDate).Format(field.DateLayout))
	}
	if f.Progress != nil && (*f.Progress < 0 || *f.Progress > 100) {
		bad("body.progress", "must be between 0 and 100", *f.Progress)
	}
	if f.Metadata != nil {
		var m map[string]any
		if json.Unmarshal(*f.Metadata, &m) != nil || m == nil {
			bad("body.metadata", "must be a JSON object", nil)
		}
	}
	if len(errs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: errs}
	}
	return nil
}
