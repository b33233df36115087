package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
)

// BenchmarkClickUpSync (make bench): the real plugin under the real host,
// River and Postgres against the local ClickUp.
//
//   - first-10k: the first sync of 10,000 tasks (4 lists, every tenth a
//     subtask, a third done or closed: those become references only) into
//     the list notes and the task index, the local ClickUp's limit off;
//     tasks/s counts ClickUp tasks read and stored, placed/s the task blocks
//     written into notes and indexed.
//   - first-10k-limited: the same with ClickUp's 100 requests per minute
//     per token on (the host also holds the manifest's 100 per minute):
//     minutes taken, requests used, and the floor: requests ÷ 100 per
//     minute.
//   - incremental-10: a sync that brings 10 changed tasks (ms).
//   - floor: a SELECT 1 round trip on the same pool (ms).
func BenchmarkClickUpSync(b *testing.B) {
	const tasks = 10000
	// The environments belong to the parent benchmark (a sub-benchmark's
	// cleanup would stop them when it ends); each sub-benchmark runs once.
	first := func(b *testing.B, e *e2e) (time.Duration, int) {
		before := e.cu.Requests()
		start := time.Now()
		e.sync(b, false)
		took := time.Since(start)
		if n := e.scalar(b, `SELECT count(*) FROM external_refs WHERE user_id = $1`, e.uid); n != tasks {
			b.Fatalf("%d references, want %d", n, tasks)
		}
		return took, e.cu.Requests() - before
	}
	e := newE2E(b, e2eOptions{Tasks: tasks, Lists: 4})
	limited := newE2E(b, e2eOptions{Tasks: tasks, Lists: 4, RateLimit: 100})
	b.Run("first-10k", func(b *testing.B) {
		took, reqs := first(b, e)
		placed := e.scalar(b, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid)
		b.ReportMetric(took.Seconds(), "s")
		b.ReportMetric(tasks/took.Seconds(), "tasks/s")
		b.ReportMetric(float64(placed)/took.Seconds(), "placed/s")
		b.ReportMetric(float64(reqs), "requests")
	})
	b.Run("incremental-10", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			ids := e.placed()
			for j := range 10 {
				if _, err := e.cu.UpdateTask(ids[j*37].ID, func(tk *clickuptest.Task) { tk.Name = fmt.Sprintf("bench %d.%d", i, j) }); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			e.sync(b, false)
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/sync")
	})
	b.Run("floor", func(b *testing.B) {
		ctx := context.Background()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			var one int
			if err := e.DB.Pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/select1")
	})
	b.Run("first-10k-limited", func(b *testing.B) {
		took, reqs := first(b, limited)
		b.ReportMetric(took.Minutes(), "min")
		b.ReportMetric(float64(reqs), "requests")
		b.ReportMetric(float64(reqs)/100, "floor-min")
	})
}
