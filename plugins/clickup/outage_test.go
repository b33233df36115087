package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/consilium-hq/consilium/plugins/clickup/clickuptest"
)

// TestE2EOutage: ClickUp answers every request with 500s and 429s in turn
// for a sustained stretch, while a sync is queued and changes made here
// wait to be pushed. The jobs back off (each failed or throttled attempt
// is scheduled for later, never retried at once) and store nothing: the
// sync cursor stays where it was, the task index does not change. Once
// ClickUp heals, the sync completes and the pushes land: ClickUp's changes
// arrived, ours reached ClickUp exactly once each, every task is once in
// its note and the task index equals the notes. Retries are made due by
// the test rather than waited out (River's backoff grows to minutes); the
// seconds from the heal to a consistent state are logged.
func TestE2EOutage(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, e2eOptions{Tasks: 300, Lists: 3})
	e.sync(t, false)
	e.checkNotes(t, e.placed())
	var top []string
	for _, tk := range e.placed() {
		if tk.Parent == "" {
			top = append(top, tk.ID)
		}
	}
	cursor := func() string {
		t.Helper()
		var c string
		if err := e.DB.Pool.QueryRow(ctx, `SELECT sync_cursor FROM connections WHERE user_id = $1 AND provider = 'clickup'`, e.uid).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := cursor()
	tasksBefore := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid)
	versionsBefore := e.versions(t)

	e.cu.Outage(http.StatusInternalServerError, http.StatusTooManyRequests)
	e.cu.ResetLog()
	// Changed in ClickUp, and here (their pushes wait for ClickUp).
	theirs, ours := top[0:5], top[5:10]
	for i, id := range theirs {
		if _, err := e.cu.UpdateTask(id, func(tk *clickuptest.Task) { tk.Name = fmt.Sprintf("renamed in ClickUp during the outage %d", i) }); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ours {
		res := e.Do(http.MethodPut, "/api/tasks/"+e.taskID(t, id), map[string]any{"title": fmt.Sprintf("renamed here during the outage %d", i)}, e.user.Bearer())
		if res.Status != http.StatusOK {
			t.Fatalf("PUT task %s: %s", id, res)
		}
	}
	versionsOurs := e.versions(t)
	syncJob := e.startSync(t, false)

	// The outage lasts until the sync has failed attempts and been
	// throttled, and every push has failed or been throttled.
	jobIDs := `(SELECT id FROM river_job WHERE id = $2 OR (kind = 'integration.push'
		AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)))`
	waiting := 0
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var errs, snoozes int
		var state string
		if err := e.DB.Pool.QueryRow(ctx, `SELECT state, coalesce(array_length(errors, 1), 0), coalesce((metadata->>'snoozes')::int, 0)
			FROM river_job WHERE id = $1`, syncJob).Scan(&state, &errs, &snoozes); err != nil {
			t.Fatal(err)
		}
		if state == "completed" || state == "discarded" || state == "cancelled" {
			t.Fatalf("the sync job is %s during the outage", state)
		}
		pushesUntouched := e.scalar(t, `SELECT count(*) FROM river_job WHERE kind = 'integration.push' AND state <> 'completed'
			AND coalesce(array_length(errors, 1), 0) = 0 AND coalesce((metadata->>'snoozes')::int, 0) = 0
			AND (args->>'ref_id')::uuid IN (SELECT id FROM external_refs WHERE user_id = $1)`, e.uid)
		if errs >= 3 && snoozes >= 1 && pushesUntouched == 0 {
			t.Logf("outage: the sync failed %d attempts and was throttled %d times; ClickUp refused %d requests", errs, snoozes, e.cu.Requests())
			break
		}
		// Nothing stored meanwhile: the cursor is where it was, the index
		// unchanged (our own renames aside).
		if c := cursor(); c != before {
			t.Fatalf("the cursor moved during the outage: %q → %q", before, c)
		}
		if n := e.scalar(t, `SELECT count(*) FROM tasks WHERE user_id = $1`, e.uid); n != tasksBefore {
			t.Fatalf("%d tasks before the outage, %d during it", tasksBefore, n)
		}
		if v := e.versions(t); v != versionsOurs {
			t.Fatalf("%d note versions after our renames, %d during the outage", versionsOurs, v)
		}
		// Backing off: a job that failed or was throttled waits for a
		// later time; the test then makes it due.
		rows, err := e.DB.Pool.Query(ctx, `SELECT id, scheduled_at > attempted_at FROM river_job
			WHERE id IN `+jobIDs+` AND state IN ('retryable', 'scheduled') AND attempted_at IS NOT NULL`, e.uid, syncJob)
		if err != nil {
			t.Fatal(err)
		}
		var due []int64
		for rows.Next() {
			var id int64
			var later bool
			if err := rows.Scan(&id, &later); err != nil {
				t.Fatal(err)
			}
			if !later {
				t.Errorf("job %d was rescheduled no later than its failed attempt", id)
			}
			waiting++
			due = append(due, id)
		}
		rows.Close()
		if _, err := e.DB.Pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() WHERE id = ANY($1) AND state IN ('retryable', 'scheduled')`, due); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outage did not play out within 10 minutes: sync %s, %d errors, %d snoozes, %d pushes untouched", state, errs, snoozes, pushesUntouched)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if waiting == 0 {
		t.Error("no job was ever seen waiting to retry")
	}
	refused := e.cu.Log()
	for _, r := range refused {
		if r.Status != http.StatusInternalServerError && r.Status != http.StatusTooManyRequests {
			t.Fatalf("ClickUp answered %d during the outage: %s %s", r.Status, r.Method, r.Path)
		}
	}
	var attempts int
	if err := e.DB.Pool.QueryRow(ctx, `SELECT coalesce(sum(attempt + coalesce((metadata->>'snoozes')::int, 0)), 0) FROM river_job WHERE id IN `+jobIDs,
		e.uid, syncJob).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: %d requests refused over %d job attempts", len(refused), attempts)
	if len(refused) > 10*attempts {
		t.Errorf("%d requests for %d attempts: the calls are not backing off", len(refused), attempts)
	}

	// Healed: the sync and the pushes complete.
	e.cu.Heal()
	healed := time.Now()
	waitJob(t, e.DB.Pool, syncJob, "completed")
	e.waitPushes(t)
	t.Logf("recovery: %.1f s from the heal to the sync completed and every push sent (retries made due by the test)", time.Since(healed).Seconds())

	for i, id := range theirs {
		if got := e.task(t, id)["title"]; got != fmt.Sprintf("renamed in ClickUp during the outage %d", i) {
			t.Errorf("ClickUp's change %d: %v", i, got)
		}
	}
	pushed := map[string]int{}
	for _, r := range e.cu.Log() {
		if r.Method == http.MethodPut && r.Status == http.StatusOK && strings.HasPrefix(r.Path, "/api/v2/task/") {
			pushed[strings.TrimPrefix(r.Path, "/api/v2/task/")]++
		}
	}
	for i, id := range ours {
		tk, _ := e.cu.Task(id)
		if want := fmt.Sprintf("renamed here during the outage %d", i); tk.Name != want {
			t.Errorf("ClickUp has %q for %s, want %q", tk.Name, id, want)
		}
		if pushed[id] != 1 {
			t.Errorf("our change of %s reached ClickUp %d times", id, pushed[id])
		}
	}
	if len(pushed) != len(ours) {
		t.Errorf("PUTs accepted for %d tasks, want %d: %v", len(pushed), len(ours), pushed)
	}
	if c := cursor(); c == before {
		t.Error("the cursor did not move after the healed sync")
	}
	if v := e.versions(t); v <= versionsOurs || versionsBefore >= versionsOurs {
		t.Errorf("note versions %d before, %d after our renames, %d after the sync", versionsBefore, versionsOurs, v)
	}
	e.checkNotes(t, e.placed())
	e.checkNoDuplicates(t)
	if st := e.status(t); st["state"] != "connected" {
		t.Errorf("status after the outage: %v", st)
	}
	// The next sync has nothing to change.
	v := e.versions(t)
	e.sync(t, false)
	if e.versions(t) != v {
		t.Errorf("a sync after the recovery changed notes: %d → %d versions", v, e.versions(t))
	}
	e.checkNotes(t, e.placed())
}
