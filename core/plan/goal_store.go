package plan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/field"
	"github.com/consilium-hq/consilium/core/page"
)

const goalColumns = `g.id, g.user_id, g.title, g.description, g.timeframe, g.parent_goal_id, g.status,
	g.progress, coalesce(g.progress_mode, ''), g.priority, g.due_date, g.metadata, g.version, g.created_at, g.updated_at`

func scanGoal(row pgx.Row) (*Goal, error) {
	var g Goal
	err := row.Scan(&g.ID, &g.UserID, &g.Title, &g.Description, &g.Timeframe, &g.ParentGoalID, &g.Status,
		&g.ManualProgress, &g.ProgressModeSet, &g.Priority, &g.DueDate, &g.Metadata, &g.Version, &g.CreatedAt, &g.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errGoalNotFound
	}
	return &g, err
}

var errGoalNotFound = apperr.New(apperr.NotFound, "goal not found")

// Querier is what the store needs of a pool or a transaction.
type Querier = db.Querier

// getGoalRow reads one goal of the user; lock takes a row lock for an update.
func getGoalRow(ctx context.Context, q Querier, userID, id uuid.UUID, lock bool) (*Goal, error) {
	sql := `SELECT ` + goalColumns + ` FROM goals g WHERE g.user_id = $1 AND g.id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	return scanGoal(q.QueryRow(ctx, sql, userID, id))
}

// checkParent refuses a parent that is missing, another user's, or a
// descendant of the goal itself (a cycle).
func checkParent(ctx context.Context, q Querier, userID uuid.UUID, goalID *uuid.UUID, parent uuid.UUID) error {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goals WHERE user_id = $1 AND id = $2)`, userID, parent).Scan(&exists); err != nil {
		return fmt.Errorf("check parent goal: %w", err)
	}
	if !exists {
		return apperr.Field("parent_goal_id", "no such goal", parent.String())
	}
	if goalID == nil {
		return nil
	}
	if parent == *goalID {
		return apperr.Field("parent_goal_id", "a goal cannot be its own parent", parent.String())
	}
	// Walk up from the new parent; meeting the goal means a cycle. Cycles
	// of any length are found: hierarchies are not bounded in depth (a
	// bound would be an arbitrary product rule, and the walk it cut short
	// let a chain longer than the bound close into a cycle). The walk costs
	// one index lookup per ancestor of the new parent and stops at the goal
	// itself; UNION, not UNION ALL, ends it even on a cycle already stored.
	var cycle bool
	err := q.QueryRow(ctx, `
		WITH RECURSIVE up(id, parent_goal_id) AS (
			SELECT id, parent_goal_id FROM goals WHERE user_id = $1 AND id = $2
			UNION
			SELECT g.id, g.parent_goal_id FROM goals g JOIN up ON g.id = up.parent_goal_id
			WHERE g.user_id = $1 AND up.id <> $3
		)
		SELECT EXISTS (SELECT 1 FROM up WHERE id = $3)`, userID, parent, *goalID).Scan(&cycle)
	if err != nil {
		return fmt.Errorf("check goal cycle: %w", err)
	}
	if cycle {
		return apperr.Field("parent_goal_id", "would make a cycle: the parent is this goal's own descendant", parent.String())
	}
	return nil
}

// dateFilter is a date of a list filter and where it came from; nil is not
// filtered.
type dateFilter struct {
	loc string
	t   *time.Time
}

func checkDateFilters(fs ...dateFilter) error {
	for _, f := range fs {
		if f.t != nil {
			if err := field.CheckDate(f.loc, *f.t); err != nil {
				return err
			}
		}
	}
	return nil
}

// GoalFilter selects goals for a list.
type GoalFilter struct {
	Timeframe    string
	Status       string
	ParentGoalID *uuid.UUID
	Root         bool
	DueBefore    *time.Time
	DueAfter     *time.Time
	Q            string
	Limit        int
	Cursor       string
}

func listGoalRows(ctx context.Context, q Querier, userID uuid.UUID, f *GoalFilter) (*page.Page[*Goal], error) {
	l, err := page.NewList(f.Limit, f.Cursor, func(g *Goal) page.CreatedKey { return page.CreatedKey{At: g.CreatedAt, ID: g.ID} })
	if err != nil {
		return nil, err
	}
	l.Where("g.user_id = @user_id", pgx.NamedArgs{"user_id": userID})
	if f.Timeframe != "" {
		l.Where("g.timeframe = @timeframe", pgx.NamedArgs{"timeframe": f.Timeframe})
	}
	if f.Status != "" {
		l.Where("g.status = @status", pgx.NamedArgs{"status": f.Status})
	}
	if f.ParentGoalID != nil {
		l.Where("g.parent_goal_id = @parent_goal_id", pgx.NamedArgs{"parent_goal_id": *f.ParentGoalID})
	}
	if f.Root {
		l.Where("g.parent_goal_id IS NULL")
	}
	if err := checkDateFilters(dateFilter{"due_before", f.DueBefore}, dateFilter{"due_after", f.DueAfter}); err != nil {
		return nil, err
	}
	if f.DueBefore != nil {
		l.Where("g.due_date <= @due_before", pgx.NamedArgs{"due_before": *f.DueBefore})
	}
	if f.DueAfter != nil {
		l.Where("g.due_date >= @due_after", pgx.NamedArgs{"due_after": *f.DueAfter})
	}
	if err := field.Text("q", f.Q, MaxQueryLength); err != nil {
		return nil, err
	}
	if f.Q != "" {
		l.Where("g.search @@ websearch_to_tsquery('simple', @q)", pgx.NamedArgs{"q": f.Q})
	}
	l.OrderBy(page.Desc, "g.created_at", "g.id")
	out, err := l.Fetch(ctx, q, `SELECT `+goalColumns+` FROM goals g`, scanGoal)
	if err != nil {
		return nil, fmt.Errorf("list goals: %w", err)
	}
	return out, nil
}
