package plan

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/page"
)

// TaskLinks is what planning needs of the task service: when goals are
// deleted, the task blocks that point at them lose their goalId (in the
// note and in the index, in the same transaction).
type TaskLinks interface {
	UnlinkGoals(ctx context.Context, tx db.Tx, userID uuid.UUID, goalIDs []uuid.UUID) error
}

// Service is the planning service.
type Service struct {
	db    *db.DB
	tasks TaskLinks
}

// NewService returns the planning service.
func NewService(d *db.DB, tasks TaskLinks) *Service { return &Service{db: d, tasks: tasks} }

// GetGoal returns one goal with its progress and counts.
func (s *Service) GetGoal(ctx context.Context, userID, id uuid.UUID) (*Goal, error) {
	g, err := getGoalRow(ctx, s.db.Q(ctx), userID, id, false)
	if err != nil {
		return nil, err
	}
	if err := decorate(ctx, s.db.Q(ctx), userID, []*Goal{g}); err != nil {
		return nil, err
	}
	return g, nil
}

// ListGoals returns a page of goals, newest first.
func (s *Service) ListGoals(ctx context.Context, userID uuid.UUID, f *GoalFilter) (*page.Page[*Goal], error) {
	goals, err := listGoalRows(ctx, s.db.Q(ctx), userID, f)
	if err != nil {
		return nil, err
	}
	if err := decorate(ctx, s.db.Q(ctx), userID, goals.Items); err != nil {
		return nil, err
	}
	return goals, nil
}

// CreateGoal adds a goal.
func (s *Service) CreateGoal(ctx context.Context, userID uuid.UUID, f *GoalFields) (*Goal, error) {
	if err := f.validate(true); err != nil {
		return nil, err
	}
	var id uuid.UUID
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		var parent *uuid.UUID
		if f.ParentGoalID != nil && *f.ParentGoalID != nil {
			parent = *f.ParentGoalID
			if err := checkParent(ctx, tx, userID, nil, *parent); err != nil {
				return err
			}
		}
		meta := json.RawMessage(`{}`)
		if f.Metadata != nil {
			meta = *f.Metadata
		}
		var due any
		if f.DueDate != nil && *f.DueDate != nil {
			due = **f.DueDate
		}
		return tx.QueryRow(ctx, `
			INSERT INTO goals (user_id, title, description, timeframe, parent_goal_id, status, progress,
				progress_mode, priority, due_date, metadata)
			VALUES ($1, $2, coalesce($3, ''), coalesce($4, 'long_term'), $5, coalesce($6, 'not_started'),
				coalesce($7, 0), $8, coalesce($9, 'medium'), $10, $11)
			RETURNING id`,
			userID, *f.Title, f.Description, f.Timeframe, parent, f.Status, f.Progress, f.ProgressMode,
			f.Priority, due, meta).Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	return s.GetGoal(ctx, userID, id)
}

// UpdateGoal changes the fields sent. ifMatch, when not nil, is the version
// the caller last saw: a newer one answers precondition_failed.
func (s *Service) UpdateGoal(ctx context.Context, userID, id uuid.UUID, ifMatch *int, f *GoalFields) (*Goal, error) {
	if err := f.validate(false); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx db.Tx) error {
		g, err := getGoalRow(ctx, tx, userID, id, true)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != g.Version {
			return apperr.New(apperr.PreconditionFailed, "the goal changed since version %d (now %d): reload it and retry", *ifMatch, g.Version)
		}
		setParent, clearParent := false, false
		var parent *uuid.UUID
		if f.ParentGoalID != nil {
			setParent = true
			parent = *f.ParentGoalID
			if parent == nil {
				clearParent = true
			} else {
				if g.ParentGoalID == nil || *g.ParentGoalID != *parent {
					// One re-parenting per user at a time (as for notes): two
					// concurrent moves each check the tree as it was before
					// the other and could build a cycle together.
					if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('goal-tree:' || $1::text, 0))`, userID); err != nil {
						return fmt.Errorf("lock goal tree: %w", err)
					}
				}
				if err := checkParent(ctx, tx, userID, &id, *parent); err != nil {
					return err
				}
			}
		}
		// Setting progress by hand makes the goal manual unless a mode is sent.
		mode := f.ProgressMode
		if f.Progress != nil && mode == nil {
			manual := "manual"
			mode = &manual
		}
		var due any
		setDue := f.DueDate != nil
		if setDue && *f.DueDate != nil {
			due = **f.DueDate
		}
		var meta any
		if f.Metadata != nil {
			meta = []byte(*f.Metadata)
		}
		// A change that changes nothing (every field as it is, metadata
		// compared as jsonb values) keeps the version.
		_, err = tx.Exec(ctx, `
			UPDATE goals g SET
				title = n.title, description = n.description, timeframe = n.timeframe,
				parent_goal_id = n.parent_goal_id, status = n.status, progress = n.progress,
				progress_mode = n.progress_mode, priority = n.priority, due_date = n.due_date,
				metadata = n.metadata,
				version = g.version + 1,
				updated_at = now()
			FROM (SELECT
				coalesce($3, title) AS title,
				coalesce($4, description) AS description,
				coalesce($5, timeframe) AS timeframe,
				CASE WHEN $6 THEN $7::uuid ELSE parent_goal_id END AS parent_goal_id,
				coalesce($8, status) AS status,
				coalesce($9, progress) AS progress,
				coalesce($10, progress_mode) AS progress_mode,
				coalesce($11, priority) AS priority,
				CASE WHEN $12 THEN $13::date ELSE due_date END AS due_date,
				coalesce($14::jsonb, metadata) AS metadata
				FROM goals WHERE user_id = $1 AND id = $2) n
			WHERE g.user_id = $1 AND g.id = $2
				AND (n.title, n.description, n.timeframe, n.parent_goal_id, n.status, n.progress,
					n.progress_mode, n.priority, n.due_date, n.metadata)
				IS DISTINCT FROM (g.title, g.description, g.timeframe, g.parent_goal_id, g.status, g.progress,
					g.progress_mode, g.priority, g.due_date, g.metadata)`,
			userID, id, f.Title, f.Description, f.Timeframe, setParent, nilIf(clearParent, parent), f.Status,
			f.Progress, mode, f.Priority, setDue, due, meta)
		if err != nil {
			return fmt.Errorf("update goal %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetGoal(ctx, userID, id)
}

func nilIf(clear bool, id *uuid.UUID) *uuid.UUID {
	if clear {
		return nil
	}
	return id
}

// DeleteGoal deletes a goal. A goal with children answers conflict unless
// cascade is set, which deletes the whole subtree. Tasks of deleted goals
// stay and lose their link; so do reflections on them.
func (s *Service) DeleteGoal(ctx context.Context, userID, id uuid.UUID, ifMatch *int, cascade bool) error {
	return s.db.InTx(ctx, func(tx db.Tx) error {
		g, err := getGoalRow(ctx, tx, userID, id, true)
		if err != nil {
			return err
		}
		if ifMatch != nil && *ifMatch != g.Version {
			return apperr.New(apperr.PreconditionFailed, "the goal changed since version %d (now %d): reload it and retry", *ifMatch, g.Version)
		}
		rows, err := tx.Query(ctx, `
			WITH RECURSIVE sub AS (
				SELECT id FROM goals WHERE user_id = $1 AND id = $2
				UNION
				SELECT g.id FROM goals g JOIN sub ON g.parent_goal_id = sub.id WHERE g.user_id = $1
			) SELECT id FROM sub`, userID, id)
		if err != nil {
			return fmt.Errorf("delete goal %s: %w", id, err)
		}
		var ids []uuid.UUID
		for rows.Next() {
			var gid uuid.UUID
			if err := rows.Scan(&gid); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, gid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) > 1 && !cascade {
			return apperr.New(apperr.Conflict, "the goal has %d sub-goals: delete them first or pass cascade=true", len(ids)-1)
		}
		if s.tasks != nil {
			if err := s.tasks.UnlinkGoals(ctx, tx, userID, ids); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM goals WHERE user_id = $1 AND id = ANY($2)`, userID, ids); err != nil {
			return fmt.Errorf("delete goal %s: %w", id, err)
		}
		return nil
	})
}
