package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/consilium-hq/consilium/core/apperr"
	"github.com/consilium-hq/consilium/core/db"
	"github.com/consilium-hq/consilium/core/task"
	"github.com/consilium-hq/consilium/sdk"
)

// PushArgs is the integration.push job: send a task's changes to the
// outside system its reference names.
type PushArgs struct {
	RefID uuid.UUID `json:"ref_id"`
}

func (PushArgs) Kind() string { return "integration.push" }

// pushUnique keeps one push per reference waiting: changes made while one
// waits are sent by it (it reads the task when it runs); a change made
// while one runs is caught by its last check (it runs again).
var pushUnique = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
	rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}

// queuePush marks the reference pending and inserts its push job. The
// mark skips a reference a sync holds at that moment (the sync locks the
// reference before the notes, a note save the note before the reference:
// waiting here could deadlock); the job is queued all the same.
func (s *Service) queuePush(ctx context.Context, tx db.Tx, refID uuid.UUID) error {
	if _, err := tx.Exec(ctx, `UPDATE external_refs SET sync_status = 'pending'
		WHERE id = (SELECT id FROM external_refs WHERE id = $1 FOR UPDATE SKIP LOCKED)`, refID); err != nil {
		return err
	}
	_, err := tx.InsertJob(ctx, PushArgs{RefID: refID}, &river.InsertOpts{Queue: s.o.Queue, MaxAttempts: 8, UniqueOpts: pushUnique})
	return err
}

// TaskHook follows every change of the task index, in its transaction: a
// task with an outside reference whose title, description, status, due
// date or priority now means something else than the reference's snapshot
// gets an integration.push job (committed with the change, or not at all);
// a task the user deleted keeps its reference (state removed), so the next
// sync does not bring it back. Changes the sync itself makes match the
// snapshot it wrote first and queue nothing.
func (s *Service) TaskHook(ctx context.Context, tx db.Tx, changes []task.Change) error {
	var userID uuid.UUID
	var ids []uuid.UUID
	for _, c := range changes {
		switch c.Op {
		case task.Updated:
			userID = c.After.UserID
			ids = append(ids, c.After.ID)
		case task.Deleted:
			userID = c.Before.UserID
			ids = append(ids, c.Before.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, task_id, snapshot, system FROM external_refs WHERE user_id = $1 AND task_id = ANY($2) AND state = 'active'`, userID, ids)
	if err != nil {
		return fmt.Errorf("find references of changed tasks: %w", err)
	}
	type row struct {
		id, task uuid.UUID
		snap     []byte
		system   string
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.task, &x.snap, &x.system)
	})
	if err != nil || len(refs) == 0 {
		return err
	}
	for _, c := range changes {
		for _, r := range refs {
			switch {
			case c.Op == task.Deleted && c.Before.ID == r.task:
				if _, err := tx.Exec(ctx, `UPDATE external_refs SET state = 'removed', task_id = NULL WHERE id = $1`, r.id); err != nil {
					return err
				}
			case c.Op == task.Updated && c.After.ID == r.task && r.system != SystemEmail: // mail is only read
				snap, ok := readSnapshot(r.snap)
				o := ours(c.After)
				if ok && len(diff(&o, &snap)) == 0 {
					continue
				}
				if err := s.queuePush(ctx, tx, r.id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// RunPush works an integration.push job: the fields whose meaning differs
// from the snapshot are sent (PushTaskRequest.Fields), then the snapshot
// takes the values sent, so that the record coming back is recognised as
// our own echo.
func (s *Service) RunPush(ctx context.Context, job *river.Job[PushArgs]) error {
	var userID uuid.UUID
	var system, externalID, state string
	var taskID *uuid.UUID
	var raw []byte
	err := s.o.DB.Pool.QueryRow(ctx, `SELECT user_id, system, external_id, task_id, state, snapshot FROM external_refs WHERE id = $1`,
		job.Args.RefID).Scan(&userID, &system, &externalID, &taskID, &state, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if state != RefActive || taskID == nil {
		return nil
	}
	c, err := s.conn(ctx, s.o.DB.Pool, userID, system)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.State != StateConnected {
		return nil // the reference stays pending; connecting again and the next change push it
	}
	t, err := s.o.Tasks.Get(ctx, userID, *taskID)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	snap, ok := readSnapshot(raw)
	if !ok {
		return nil // never synced as a task: nothing to compare with
	}
	o := ours(t)
	fields := diff(&o, &snap)
	if len(fields) > 0 {
		p, err := s.provider(c.Provider)
		if apperr.Is(err, apperr.NotFound) {
			return river.JobCancel(err)
		}
		if err != nil {
			return err
		}
		if !p.manifest.Implements("PushTask") {
			return river.JobCancel(fmt.Errorf("provider %s does not take task changes", c.Provider))
		}
		ic, err := s.o.Plugins.Integration(c.Provider)
		if err != nil {
			return river.JobCancel(err)
		}
		conn, err := s.connectionFor(ctx, c, p)
		if err != nil {
			return s.pushFailed(ctx, c, job.Args.RefID, err)
		}
		loc := userLocation(ctx, s.o.DB.Pool, userID)
		resp, err := ic.PushTask(ctx, &sdk.PushTaskRequest{Connection: conn, Action: sdk.PushUpdate, ExternalID: externalID,
			Task: outTask(&o, &snap, fields, loc), Fields: fields})
		if err != nil {
			return s.pushFailed(ctx, c, job.Args.RefID, err)
		}
		for _, f := range fields {
			snap.take(f, &o)
		}
		if slices.Contains(fields, sdk.FieldStatus) {
			snap.OutsideStatus, snap.StatusName = statusOut(o.Status), ""
		}
		return s.finishPush(ctx, job, snap, resp, fields)
	}
	return s.finishPush(ctx, job, snap, nil, nil)
}

func (s *Service) finishPush(ctx context.Context, job *river.Job[PushArgs], sent snapshot, resp *sdk.PushTaskResponse, fields []sdk.TaskField) error {
	var again bool
	err := s.o.DB.InTx(ctx, func(tx db.Tx) error {
		var err error
		again, err = s.pushed(ctx, tx, job, sent, resp, fields)
		return err
	})
	if err == nil && again {
		return river.JobSnooze(0)
	}
	return err
}

// pushed stores what a push sent (only the fields it sent: a sync that
// wrote the snapshot meanwhile keeps the rest) and completes the job; when
// the task changed again meanwhile, the job runs again instead.
func (s *Service) pushed(ctx context.Context, tx db.Tx, job *river.Job[PushArgs], sent snapshot, resp *sdk.PushTaskResponse, fields []sdk.TaskField) (bool, error) {
	var userID uuid.UUID
	var taskID *uuid.UUID
	var raw []byte
	err := tx.QueryRow(ctx, `SELECT user_id, task_id, snapshot FROM external_refs WHERE id = $1 FOR UPDATE`, job.Args.RefID).Scan(&userID, &taskID, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
		return false, err
	}
	if err != nil {
		return false, err
	}
	snap, _ := readSnapshot(raw)
	for _, f := range fields {
		snap.take(f, &sent)
	}
	snap.V = snapshotVersion
	if slices.Contains(fields, sdk.FieldStatus) {
		snap.OutsideStatus, snap.StatusName = sent.OutsideStatus, sent.StatusName
	}
	status := "synced"
	again := false
	if taskID != nil {
		t, err := task.Get(ctx, tx, userID, *taskID)
		if err == nil {
			o := ours(t)
			again = len(diff(&o, &snap)) > 0
		} else if !apperr.Is(err, apperr.NotFound) {
			return false, err
		}
	}
	if again {
		status = "pending"
	}
	var url string
	var at any
	if resp != nil {
		url = resp.URL
		if !resp.UpdatedAt.IsZero() {
			at = resp.UpdatedAt
		}
	}
	if len(fields) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE external_refs SET snapshot = $1, sync_status = $2, last_synced_at = now(),
			remote_updated_at = coalesce($3, remote_updated_at), url = CASE WHEN $4 = '' THEN url ELSE $4 END WHERE id = $5`,
			mustJSON(snap), status, at, url, job.Args.RefID); err != nil {
			return false, err
		}
	} else if _, err := tx.Exec(ctx, `UPDATE external_refs SET sync_status = $1 WHERE id = $2`, status, job.Args.RefID); err != nil {
		return false, err
	}
	if again {
		return true, nil // committed without the job's completion: it runs again
	}
	_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.Tx, job)
	return false, err
}

// pushFailed turns a failed push into the job's outcome: refused
// credentials set the connection to needs_reauth (cancelled), a rate limit
// snoozes until the reset, a permanent refusal marks the reference error
// (cancelled), anything else retries with backoff.
func (s *Service) pushFailed(ctx context.Context, c *connection, refID uuid.UUID, err error) error {
	var e *sdk.Error
	var nr errNeedsReauth
	switch {
	case errors.As(err, &nr) || (errors.As(err, &e) && e.Code == sdk.CodeNeedsReauth):
		_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE connections SET state = 'needs_reauth', next_sync_at = NULL, last_error = $1, updated_at = now() WHERE id = $2`, err.Error(), c.ID)
		return river.JobCancel(err)
	case errors.As(err, &e) && e.Code == sdk.CodeRateLimited && e.RetryAfter > 0:
		return river.JobSnooze(e.RetryAfter)
	case errors.As(err, &e) && (e.Code == sdk.CodePermanent || e.Code == sdk.CodeInvalidConfig || e.Code == sdk.CodeNotFound):
		_, _ = s.o.DB.Pool.Exec(ctx, `UPDATE external_refs SET sync_status = 'error' WHERE id = $1`, refID)
		return river.JobCancel(err)
	}
	return err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
