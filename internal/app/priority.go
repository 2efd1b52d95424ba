package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/postern/postern/threads"
)

// Intake priority: on two cores the processing and sending workers take
// the CPU that intake's sessions and group commits need, so 250s slow
// down under a backlog (issue 16: 4 KB intake at 10 connections 614 msg/s
// with processing running against 1,449 paused, in the same run). A job
// of the process or notify queue therefore waits, before it starts, while
// intake is busy, but never longer than yieldMax: a backlog drains
// however busy intake stays (each worker still starts a job every
// yieldMax at least), and River's queue pause and the workers' own
// back-pressure are unchanged.
const (
	// yieldMax bounds the wait of one job: two such waits (processing,
	// sending) stay well inside the end-to-end p99 target of 100 ms.
	yieldMax = 10 * time.Millisecond
	// yieldPoll is how often a waiting job looks at the gauge again.
	yieldPoll = time.Millisecond
	// intakeGap: intake counts as busy this long after an Accept returned.
	intakeGap = 3 * time.Millisecond
)

// intakePriority is River worker middleware that makes the jobs of the
// given queues wait while busy reports true, up to max per job.
type intakePriority struct {
	river.MiddlewareDefaults
	busy   func() bool
	max    time.Duration
	queues map[string]bool
}

// newIntakePriority gives intake (store.IntakeBusy) priority over the
// process and notify queues.
func newIntakePriority(store *threads.Store) *intakePriority {
	return &intakePriority{busy: func() bool { return store.IntakeBusy(intakeGap) }, max: yieldMax,
		queues: map[string]bool{threads.QueueProcess: true, threads.QueueNotify: true}}
}

// Work waits while intake is busy (at most p.max, or until ctx ends), then
// works the job.
func (p *intakePriority) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if p.queues[job.Queue] {
		p.yield(ctx)
	}
	return doInner(ctx)
}

// yield returns once busy is false, p.max has passed or ctx has ended.
func (p *intakePriority) yield(ctx context.Context) {
	if !p.busy() {
		return
	}
	deadline := time.Now().Add(p.max)
	t := time.NewTicker(yieldPoll)
	defer t.Stop()
	for p.busy() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
