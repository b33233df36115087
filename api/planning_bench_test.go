package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consilium-hq/consilium/api/apitest"
)

// seedTaskRows writes task index rows straight into the tasks table (COPY),
// spread over notes it creates the same way. It is for read benchmarks
// only: the note contents do not hold these blocks.
func seedTaskRows(b *testing.B, e *apitest.Env, userID uuid.UUID, n, notes int, row func(i int) (status string, due *time.Time, completedAt *time.Time, goal *uuid.UUID, size *float64)) {
	b.Helper()
	ctx := context.Background()
	noteIDs := make([]uuid.UUID, notes)
	noteRows := make([][]any, notes)
	for i := range noteIDs {
		noteIDs[i] = uuid.New()
		noteRows[i] = []any{noteIDs[i], userID, fmt.Sprintf("seeded note %d", i)}
	}
	if _, err := e.DB.Pool.CopyFrom(ctx, pgx.Identifier{"notes"}, []string{"id", "user_id", "title"}, pgx.CopyFromRows(noteRows)); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, 0, n)
	for i := range n {
		status, due, completedAt, goal, size := row(i)
		rows = append(rows, []any{uuid.New(), userID, noteIDs[i%notes], fmt.Sprintf("b%d", i), "task", i / notes,
			fmt.Sprintf("seeded task %d", i), status, due, size, goal, completedAt})
	}
	cols := []string{"id", "user_id", "note_id", "block_id", "block_type", "position", "title", "status", "due_date", "size", "goal_id", "completed_at"}
	if _, err := e.DB.Pool.CopyFrom(ctx, pgx.Identifier{"tasks"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	// As autovacuum would have by then: statistics and the visibility map
	// (for index-only scans).
	for _, t := range []string{"tasks", "goals", "notes"} {
		if _, err := e.DB.Pool.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetGoalWithLargeTree: GET /api/goals/{id} for a goal whose
// subtree (4 children, 16 grandchildren, 64 great-grandchildren) serves
// 2,000 tasks, progress rolled up on every read; 8 concurrent clients.
func BenchmarkGetGoalWithLargeTree(b *testing.B) {
	e := benchEnv(b)
	u := e.NewUser()
	bearer := "Bearer " + u.AccessToken
	create := func(parent any, title string) string {
		body := map[string]any{"title": title}
		if parent != nil {
			body["parent_goal_id"] = parent
		}
		res := e.Do("POST", "/api/goals", body, u.Bearer())
		if res.Status != http.StatusCreated {
			b.Fatalf("create goal: %s", res)
		}
		return res.Map(b)["id"].(string)
	}
	root := create(nil, "root")
	all := []string{root}
	level := []string{root}
	for depth := range 3 {
		var next []string
		for _, p := range level {
			for i := range 4 {
				next = append(next, create(p, fmt.Sprintf("goal %d.%d", depth, i)))
			}
		}
		all = append(all, next...)
		level = next
	}
	statuses := []string{"not_started", "in_progress", "completed", "deferred"}
	r := rand.New(rand.NewPCG(1, 2))
	seedTaskRows(b, e, uuid.MustParse(u.ID), 2000, 50, func(i int) (string, *time.Time, *time.Time, *uuid.UUID, *float64) {
		g := uuid.MustParse(all[i%len(all)])
		var size *float64
		if i%3 == 0 {
			s := float64(1 + r.IntN(5))
			size = &s
		}
		return statuses[r.IntN(len(statuses))], nil, nil, &g, size
	})
	// A second user's data in the same tables, as in production.
	other := e.NewUser()
	seedTaskRows(b, e, uuid.MustParse(other.ID), 20000, 200, func(int) (string, *time.Time, *time.Time, *uuid.UUID, *float64) {
		return "not_started", nil, nil, nil, nil
	})
	b.ResetTimer()
	for range b.N {
		res := apitest.Load(apitest.LoadOptions{Concurrency: 8, Duration: benchDuration()}, func(int) error {
			return get(e, "/api/goals/"+root, bearer)
		})
		res.Report(b)
	}
}

// BenchmarkPlanningSummary: GET /api/planning/summary?period=week for a
// user with 100,000 tasks (due dates over two years, a third completed at
// times over two years), at 1 and 4 concurrent clients.
func BenchmarkPlanningSummary(b *testing.B) {
	e := benchEnv(b)
	u := e.NewUser()
	bearer := "Bearer " + u.AccessToken
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	seedTaskRows(b, e, uuid.MustParse(u.ID), 100_000, 5_000, func(i int) (string, *time.Time, *time.Time, *uuid.UUID, *float64) {
		due := base.AddDate(0, 0, r.IntN(730)-365)
		switch i % 3 {
		case 0:
			done := base.Add(time.Duration(r.Int64N(int64(730 * 24 * time.Hour)))).Add(-365 * 24 * time.Hour)
			return "completed", &due, &done, nil, nil
		case 1:
			return "in_progress", &due, nil, nil, nil
		default:
			return "not_started", nil, nil, nil, nil
		}
	})
	for i := range 20 {
		e.Do("POST", "/api/goals", map[string]any{"title": fmt.Sprintf("weekly %d", i), "timeframe": "weekly"}, u.Bearer())
	}
	b.ResetTimer()
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			for range b.N {
				res := apitest.Load(apitest.LoadOptions{Concurrency: clients, Duration: benchDuration()}, func(int) error {
					return get(e, "/api/planning/summary?period=week&date=2026-03-11", bearer)
				})
				res.Report(b)
			}
		})
	}
}
