package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/field"
)

// Periods of a review summary and the goal timeframe each one shows.
var periodTimeframe = map[string]string{"week": "weekly", "month": "monthly", "quarter": "quarterly"}

// Each task list of a summary is capped (counts stay exact).
const (
	DefaultSummaryItems = 50
	MaxSummaryItems     = 200
)

// Period is a span of whole days in the user's time zone: [Start, End).
type Period struct {
	Kind     string
	Start    time.Time // midnight in Location
	End      time.Time // midnight after the last day
	Location *time.Location
}

// LastDay is the period's last date.
func (p Period) LastDay() time.Time { return p.End.AddDate(0, 0, -1) }

// Preferences are the user preferences the summary reads.
type Preferences struct {
	Timezone  string `json:"timezone"`
	WeekStart string `json:"week_start"`
}

// PeriodFor returns the period of the given kind containing the date, with
// weeks starting on prefs.WeekStart (Monday by default) in prefs.Timezone
// (UTC by default).
func PeriodFor(kind string, date time.Time, prefs Preferences) (Period, error) {
	if _, ok := periodTimeframe[kind]; !ok {
		return Period{}, apperr.Field("period", "must be week, month or quarter", kind)
	}
	loc := time.UTC
	if prefs.Timezone != "" {
		l, err := field.TimeZone("timezone", prefs.Timezone)
		if err != nil {
			return Period{}, apperr.New(apperr.Invalid, "the timezone preference %q is not an IANA time zone: fix it with PUT /api/users/preferences", prefs.Timezone)
		}
		loc = l
	}
	day := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, loc)
	var start, end time.Time
	switch kind {
	case "week":
		ws := time.Monday
		if prefs.WeekStart != "" {
			w, err := field.Weekday("week_start", prefs.WeekStart)
			if err != nil {
				return Period{}, apperr.New(apperr.Invalid, "the week_start preference %q is not a weekday name", prefs.WeekStart)
			}
			ws = w
		}
		back := (int(day.Weekday()) - int(ws) + 7) % 7
		start = day.AddDate(0, 0, -back)
		end = start.AddDate(0, 0, 7)
	case "month":
		start = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, loc)
		end = start.AddDate(0, 1, 0)
	case "quarter":
		q := (int(day.Month()) - 1) / 3
		start = time.Date(day.Year(), time.Month(q*3+1), 1, 0, 0, 0, 0, loc)
		end = start.AddDate(0, 3, 0)
	}
	// The period is shown with its first instant and the instant it ends
	// (exclusive), in the user's zone: both must be writable (years 1 to
	// 9999). So the last period that can be summarised is the last one that
	// ends by 9999-12-31 00:00 (e.g. November 9999 for a month), and the
	// first one starts on 0001-01-01 (a week starting on Sunday cannot hold
	// 0001-01-01, a Monday).
	if !field.WritableInstant(start) || !field.WritableInstant(end) {
		return Period{}, apperr.Field("date", fmt.Sprintf(
			"must lie in a %s that starts on or after 0001-01-01 and ends by 9999-12-31 (the %s of %s starts %s and ends %s)",
			kind, kind, day.Format(field.DateLayout), start.Format(field.DateLayout), end.Format(field.DateLayout)),
			day.Format(field.DateLayout))
	}
	return Period{Kind: kind, Start: start, End: end, Location: loc}, nil
}

// SummaryTask is a task as a summary lists it.
type SummaryTask struct {
	ID          uuid.UUID
	NoteID      uuid.UUID
	Title       string
	Status      string
	Priority    *string
	DueDate     *time.Time
	CompletedAt *time.Time
	GoalID      *uuid.UUID
}

// TaskList is a capped list with the exact count.
type TaskList struct {
	Count int
	Items []SummaryTask
}

// Summary is what a review screen shows for a period.
type Summary struct {
	Period      Period
	Completed   TaskList
	DueOpen     TaskList
	Overdue     TaskList
	Goals       []*Goal
	Reflections []*Reflection
}

const summaryTaskColumns = `id, note_id, title, status, priority, due_date, completed_at, goal_id`

// Summarize builds the review summary of the period containing date (today
// in the user's zone when nil). now decides what is overdue: open tasks due
// before today in the user's zone.
func (s *Service) Summarize(ctx context.Context, userID uuid.UUID, kind string, date *time.Time, now time.Time, prefsJSON json.RawMessage, items int) (*Summary, error) {
	if items == 0 {
		items = DefaultSummaryItems
	}
	if items < 1 || items > MaxSummaryItems {
		return nil, apperr.Field("items", fmt.Sprintf("must be between 1 and %d", MaxSummaryItems), items)
	}
	if date != nil {
		if err := field.CheckDate("date", *date); err != nil {
			return nil, err
		}
	}
	var prefs Preferences
	_ = json.Unmarshal(prefsJSON, &prefs) // unknown shapes fall back to defaults
	day := now
	if date != nil {
		day = *date
	} else if p, err := PeriodFor(kind, now, prefs); err == nil {
		day = now.In(p.Location)
	}
	p, err := PeriodFor(kind, day, prefs)
	if err != nil {
		return nil, err
	}
	today := now.In(p.Location)
	todayDate := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	startDate := time.Date(p.Start.Year(), p.Start.Month(), p.Start.Day(), 0, 0, 0, 0, time.UTC)
	lastDate := startDate.AddDate(0, 0, int(p.End.Sub(p.Start).Hours()/24+0.5)-1)

	out := &Summary{Period: p}
	tx, err := s.db.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	lists := []struct {
		dst   *TaskList
		where string
		order string
		args  []any
	}{
		{&out.Completed, `completed_at >= $2 AND completed_at < $3`, `completed_at, id`, []any{p.Start, p.End}},
		// due_sort is due_date with no date sorting last; the task index's
		// (user_id, status, due_sort) index serves these two.
		{&out.DueOpen, `due_sort BETWEEN $2 AND $3 AND status IN ('not_started', 'in_progress')`, `due_sort, id`, []any{startDate, lastDate}},
		{&out.Overdue, `due_sort < $2 AND status IN ('not_started', 'in_progress')`, `due_sort, id`, []any{todayDate}},
	}
	for _, l := range lists {
		args := append([]any{userID}, l.args...)
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE user_id = $1 AND `+l.where, args...).Scan(&l.dst.Count); err != nil {
			return nil, fmt.Errorf("summary count: %w", err)
		}
		if l.dst.Count == 0 {
			continue
		}
		rows, err := tx.Query(ctx, `SELECT `+summaryTaskColumns+` FROM tasks WHERE user_id = $1 AND `+l.where+
			` ORDER BY `+l.order+fmt.Sprintf(` LIMIT %d`, items), args...)
		if err != nil {
			return nil, fmt.Errorf("summary tasks: %w", err)
		}
		for rows.Next() {
			var t SummaryTask
			if err := rows.Scan(&t.ID, &t.NoteID, &t.Title, &t.Status, &t.Priority, &t.DueDate, &t.CompletedAt, &t.GoalID); err != nil {
				rows.Close()
				return nil, err
			}
			l.dst.Items = append(l.dst.Items, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}

	rows, err := tx.Query(ctx, `SELECT `+goalColumns+` FROM goals g
		WHERE g.user_id = $1 AND g.timeframe = $2
		  AND ((g.due_date BETWEEN $3 AND $4) OR (g.due_date IS NULL AND g.status NOT IN ('completed', 'abandoned')))
		ORDER BY g.due_date NULLS LAST, g.created_at LIMIT 200`, userID, periodTimeframe[kind], startDate, lastDate)
	if err != nil {
		return nil, fmt.Errorf("summary goals: %w", err)
	}
	for rows.Next() {
		g, err := scanGoal(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out.Goals = append(out.Goals, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := decorate(ctx, tx, userID, out.Goals); err != nil {
		return nil, err
	}

	rows, err = tx.Query(ctx, `SELECT `+reflectionColumns+` FROM reflections
		WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at LIMIT 200`, userID, p.Start, p.End)
	if err != nil {
		return nil, fmt.Errorf("summary reflections: %w", err)
	}
	for rows.Next() {
		r, err := scanReflection(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out.Reflections = append(out.Reflections, r)
	}
	rows.Close()
	return out, rows.Err()
}
