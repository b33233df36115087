package plan

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// Limits on goal and reflection fields, in characters.
const (
	MaxGoalTitleLength   = 500
	MaxDescriptionLength = 20_000
	MaxReflectionLength  = 200_000
	MaxQueryLength       = 200
)

// addFields adds the fields an invalid-input error names to errs; any other
// error cannot happen in a field rule.
func addFields(errs *[]apperr.FieldError, err error) {
	var e *apperr.Error
	if errors.As(err, &e) {
		*errs = append(*errs, e.Fields...)
	}
}

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
		t, err := field.Title("title", *f.Title, MaxGoalTitleLength)
		f.Title = &t
		if err == nil {
			err = field.Required("title", t)
		}
		addFields(&errs, err)
	} else if creating {
		bad("title", "is required", nil)
	}
	if f.Description != nil {
		addFields(&errs, field.Text("description", *f.Description, MaxDescriptionLength))
	}
	oneOf := func(loc string, v *string, allowed []string) {
		if v != nil && !slices.Contains(allowed, *v) {
			bad(loc, "must be one of "+strings.Join(allowed, ", "), *v)
		}
	}
	oneOf("timeframe", f.Timeframe, Timeframes)
	oneOf("status", f.Status, GoalStatuses)
	oneOf("priority", f.Priority, Priorities)
	oneOf("progress_mode", f.ProgressMode, ProgressModes)
	if f.DueDate != nil && *f.DueDate != nil && !field.InDateRange(**f.DueDate) {
		bad("due_date", field.DateRule, (**f.DueDate).Format(field.DateLayout))
	}
	if f.Progress != nil && (*f.Progress < 0 || *f.Progress > 100) {
		bad("progress", "must be between 0 and 100", *f.Progress)
	}
	if f.Metadata != nil {
		m, err := field.Object("metadata", *f.Metadata)
		f.Metadata = &m
		addFields(&errs, err)
	}
	if len(errs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "validation failed", Fields: errs}
	}
	return nil
}
