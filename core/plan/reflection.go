package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

// Reflection is a piece of writing looking back on a period or a goal.
type Reflection struct {
	ID             uuid.UUID
	UserID         uuid.UUID
	Content        string
	ReflectionType string
	GoalID         *uuid.UUID
	PeriodStart    *time.Time
	PeriodEnd      *time.Time
	Metadata       json.RawMessage
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ReflectionFields are the writable fields; nil means "not sent".
type ReflectionFields struct {
	Content        *string
	ReflectionType *string
	GoalID         **uuid.UUID
	PeriodStart    **time.Time
	PeriodEnd      **time.Time
	Metadata       *json.RawMessage
}

const reflectionColumns = `id, user_id, content, reflection_type, goal_id, period_start, period_end, metadata, created_at, updated_at`

// reflectionColumnsOf is reflectionColumns qualified by a table alias.
func reflectionColumnsOf(alias string) string {
	cols := strings.Split(reflectionColumns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

func scanReflection(row pgx.Row) (*Reflection, error) {
	var r Reflection
	err := row.Scan(&r.ID, &r.UserID, &r.Content, &r.ReflectionType, &r.GoalID, &r.PeriodStart, &r.PeriodEnd,
		&r.Metadata, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "reflection not found")
	}
	return &r, err
}

// validate checks the fields merged over the current reflection (nil when creating).
func (f *ReflectionFields) validate(ctx context.Context, q Querier, userID uuid.UUID, cur *Reflection) error {
	var errs []apperr.FieldError
	bad := func(loc, msg string, v any) {
		errs = append(errs, apperr.FieldError{Location: loc, Message: msg, Value: v})
	}
	if f.Content != nil {
		err := field.Required("content", *f.Content)
		if err == nil {
			err = field.Text("content", *f.Content, MaxReflectionLength)
		}
		addFields(&errs, err)
	} else if cur == nil {
		bad("content", "is required", nil)
	}
	typ := ""
	if cur != nil {
		typ = cur.ReflectionType
	}
	if f.ReflectionType != nil {
		typ = *f.ReflectionType
		if !slices.Contains(ReflectionKind, typ) {
			bad("reflection_type", "must be one of "+strings.Join(ReflectionKind, ", "), typ)
		}
	} else if cur == nil {
		bad("reflection_type", "is required", nil)
	}
	var goal *uuid.UUID
	if cur != nil {
		goal = cur.GoalID
	}
	if f.GoalID != nil {
		goal = *f.GoalID
	}
	if typ == "goal_review" && goal == nil {
		bad("goal_id", "is required for a goal_review", nil)
	}
	if f.GoalID != nil && *f.GoalID != nil {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goals WHERE user_id = $1 AND id = $2)`, userID, **f.GoalID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			bad("goal_id", "no such goal", (*f.GoalID).String())
		}
	}
	for _, d := range []struct {
		loc string
		t   **time.Time
	}{{"period_start", f.PeriodStart}, {"period_end", f.PeriodEnd}} {
		if d.t != nil && *d.t != nil && !field.InDateRange(**d.t) {
			bad(d.loc, field.DateRule, (**d.t).Format(field.DateLayout))
		}
	}
	var start, end *time.Time
	if cur != nil {
		start, end = cur.PeriodStart, cur.PeriodEnd
	}
	if f.PeriodStart != nil {
		start = *f.PeriodStart
	}
	if f.PeriodEnd != nil {
		end = *f.PeriodEnd
	}
	if start != nil && end != nil && end.Before(*start) {
		bad("period_end", "must not be before period_start", nil)
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

func dateArg(p **time.Time) (set bool, v any) {
	if p == nil {
		return false, nil
	}
	if *p == nil {
		return true, nil
	}
	return true, **p
}

// CreateReflection adds a reflection.
func (s *Service) CreateReflection(ctx context.Context, userID uuid.UUID, f *ReflectionFields) (*Reflection, error) {
	if err := f.validate(ctx, s.db.Q(ctx), userID, nil); err != nil {
		return nil, err
	}
	meta := json.RawMessage(`{}`)
	if f.Metadata != nil {
		meta = *f.Metadata
	}
	var goal *uuid.UUID
	if f.GoalID != nil {
		goal = *f.GoalID
	}
	_, start := dateArg(f.PeriodStart)
	_, end := dateArg(f.PeriodEnd)
	return scanReflection(s.db.Q(ctx).QueryRow(ctx, `
		INSERT INTO reflections (user_id, content, reflection_type, goal_id, period_start, period_end, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+reflectionColumns,
		userID, *f.Content, *f.ReflectionType, goal, start, end, meta))
}

// GetReflection returns one reflection of the user.
func (s *Service) GetReflection(ctx context.Context, userID, id uuid.UUID) (*Reflection, error) {
	return scanReflection(s.db.Q(ctx).QueryRow(ctx,
		`SELECT `+reflectionColumns+` FROM reflections WHERE user_id = $1 AND id = $2`, userID, id))
}

// UpdateReflection changes the fields sent.
func (s *Service) UpdateReflection(ctx context.Context, userID, id uuid.UUID, f *ReflectionFields) (*Reflection, error) {
	var out *Reflection
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		cur, err := scanReflection(tx.QueryRow(ctx,
			`SELECT `+reflectionColumns+` FROM reflections WHERE user_id = $1 AND id = $2 FOR UPDATE`, userID, id))
		if err != nil {
			return err
		}
		if err := f.validate(ctx, tx, userID, cur); err != nil {
			return err
		}
		setGoal, goal := false, (*uuid.UUID)(nil)
		if f.GoalID != nil {
			setGoal, goal = true, *f.GoalID
		}
		setStart, start := dateArg(f.PeriodStart)
		setEnd, end := dateArg(f.PeriodEnd)
		var meta any
		if f.Metadata != nil {
			meta = []byte(*f.Metadata)
		}
		// A change that changes nothing (metadata compared as jsonb values)
		// updates no row and answers the reflection as it is.
		out, err = scanReflection(tx.QueryRow(ctx, `
			UPDATE reflections r SET
				content = n.content, reflection_type = n.reflection_type, goal_id = n.goal_id,
				period_start = n.period_start, period_end = n.period_end, metadata = n.metadata,
				updated_at = now()
			FROM (SELECT
				coalesce($3, content) AS content,
				coalesce($4, reflection_type) AS reflection_type,
				CASE WHEN $5 THEN $6::uuid ELSE goal_id END AS goal_id,
				CASE WHEN $7 THEN $8::date ELSE period_start END AS period_start,
				CASE WHEN $9 THEN $10::date ELSE period_end END AS period_end,
				coalesce($11::jsonb, metadata) AS metadata
				FROM reflections WHERE user_id = $1 AND id = $2) n
			WHERE r.user_id = $1 AND r.id = $2
				AND (n.content, n.reflection_type, n.goal_id, n.period_start, n.period_end, n.metadata)
				IS DISTINCT FROM (r.content, r.reflection_type, r.goal_id, r.period_start, r.period_end, r.metadata)
			RETURNING `+reflectionColumnsOf("r"),
			userID, id, f.Content, f.ReflectionType, setGoal, goal, setStart, start, setEnd, end, meta))
		if apperr.Is(err, apperr.NotFound) {
			out, err = cur, nil // locked above, so it exists: nothing changed
		}
		return err
	})
	return out, err
}

// DeleteReflection deletes a reflection.
func (s *Service) DeleteReflection(ctx context.Context, userID, id uuid.UUID) error {
	tag, err := s.db.Q(ctx).Exec(ctx, `DELETE FROM reflections WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return fmt.Errorf("delete reflection %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.NotFound, "reflection not found")
	}
	return nil
}

// ReflectionFilter selects reflections for a list. From and To compare with
// the reflection's date: its period_start, or the day it was written.
type ReflectionFilter struct {
	ReflectionType string
	GoalID         *uuid.UUID
	From, To       *time.Time
	Q              string
	Limit          int
	Cursor         string
}

// ListReflections returns a page of reflections, newest first.
func (s *Service) ListReflections(ctx context.Context, userID uuid.UUID, f *ReflectionFilter) (*page.Page[*Reflection], error) {
	l, err := page.NewList(f.Limit, f.Cursor, func(r *Reflection) page.CreatedKey { return page.CreatedKey{At: r.CreatedAt, ID: r.ID} })
	if err != nil {
		return nil, err
	}
	l.Where("user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if f.ReflectionType != "" {
		l.Where("reflection_type = @reflection_type", pgx.NamedArgs{"reflection_type": f.ReflectionType})
	}
	if f.GoalID != nil {
		l.Where("goal_id = @goal_id", pgx.NamedArgs{"goal_id": *f.GoalID})
	}
	if err := checkDateFilters(dateFilter{"from", f.From}, dateFilter{"to", f.To}); err != nil {
		return nil, err
	}
	if f.From != nil {
		l.Where("coalesce(period_start, created_at::date) >= @from", pgx.NamedArgs{"from": *f.From})
	}
	if f.To != nil {
		l.Where("coalesce(period_start, created_at::date) <= @to", pgx.NamedArgs{"to": *f.To})
	}
	if err := field.Text("q", f.Q, MaxQueryLength); err != nil {
		return nil, err
	}
	if f.Q != "" {
		l.Where("search @@ websearch_to_tsquery('simple', @q)", pgx.NamedArgs{"q": f.Q})
	}
	l.OrderBy(page.Desc, "created_at", "id")
	out, err := l.Fetch(ctx, s.db.Q(ctx), `SELECT `+reflectionColumns+` FROM reflections`, scanReflection)
	if err != nil {
		return nil, fmt.Errorf("list reflections: %w", err)
	}
	return out, nil
}
