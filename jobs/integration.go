package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/consilium-hq/consilium/core/config"
	"github.com/consilium-hq/consilium/core/integration"
)

// IntegrationSyncWorker syncs one connection (integration.RunSync).
type IntegrationSyncWorker struct {
	river.WorkerDefaults[integration.SyncArgs]
	svc     *integration.Service
	timeout time.Duration // jobs.sync_timeout
}

func (w *IntegrationSyncWorker) Work(ctx context.Context, job *river.Job[integration.SyncArgs]) error {
	return w.svc.RunSync(ctx, job)
}

// Timeout: a sync pages until the outside system has nothing more
// (jobs.sync_timeout). River's rescuer retries a sync whose worker died
// once it has run this long (and jobs.rescue_stuck_after).
func (w *IntegrationSyncWorker) Timeout(*river.Job[integration.SyncArgs]) time.Duration {
	if w.timeout <= 0 {
		return config.Default().Jobs.SyncTimeout
	}
	return w.timeout
}

// IntegrationScheduleWorker inserts the sync jobs of due connections.
type IntegrationScheduleWorker struct {
	river.WorkerDefaults[integration.ScheduleArgs]
	svc *integration.Service
}

func (w *IntegrationScheduleWorker) Work(ctx context.Context, _ *river.Job[integration.ScheduleArgs]) error {
	_, err := w.svc.ScheduleDue(ctx)
	return err
}

// IntegrationPushWorker sends a task's changes outside (integration.RunPush).
type IntegrationPushWorker struct {
	river.WorkerDefaults[integration.PushArgs]
	svc *integration.Service
}

func (w *IntegrationPushWorker) Work(ctx context.Context, job *river.Job[integration.PushArgs]) error {
	return w.svc.RunPush(ctx, job)
}

// IntegrationCleanupWorker takes completed outside tasks out of their notes
// after the grace period (integration.CleanCompleted).
type IntegrationCleanupWorker struct {
	river.WorkerDefaults[integration.CleanupArgs]
	svc *integration.Service
}

func (w *IntegrationCleanupWorker) Work(ctx context.Context, _ *river.Job[integration.CleanupArgs]) error {
	_, err := w.svc.CleanCompleted(ctx)
	return err
}

// Timeout: a cleanup works in batches until nothing is due.
func (w *IntegrationCleanupWorker) Timeout(*river.Job[integration.CleanupArgs]) time.Duration {
	return 10 * time.Minute
}

// IntegrationMailScanWorker scans a connection's new mail for requests
// (integration.RunMailScan).
type IntegrationMailScanWorker struct {
	river.WorkerDefaults[integration.MailScanArgs]
	svc *integration.Service
}

func (w *IntegrationMailScanWorker) Work(ctx context.Context, job *river.Job[integration.MailScanArgs]) error {
	return w.svc.RunMailScan(ctx, job)
}

// Timeout: one model call per message, up to a job's bound of messages.
func (w *IntegrationMailScanWorker) Timeout(*river.Job[integration.MailScanArgs]) time.Duration {
	return 15 * time.Minute
}
