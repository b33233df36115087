package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/consilium-hq/consilium/core/metrics"
)

// jobMetrics counts every job this client works by kind and outcome, with
// how long it ran.
type jobMetrics struct {
	river.MiddlewareDefaults
	m *metrics.Metrics
}

func (j *jobMetrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(ctx context.Context) error) error {
	start := time.Now()
	err := doInner(ctx)
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	outcome := "completed"
	switch {
	case errors.As(err, &cancel):
		outcome = "cancelled"
	case errors.As(err, &snooze):
		outcome = "snoozed"
	case err != nil:
		outcome = "failed"
	}
	j.m.ObserveJob(job.Kind, outcome, time.Since(start))
	return err
}

var _ rivertype.WorkerMiddleware = (*jobMetrics)(nil)
