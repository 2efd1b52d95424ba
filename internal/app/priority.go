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
// of the process or notify queue that has waited in a backlog (created
// more than backlogAge ago) therefore waits, before it starts, while
// intake is busy, but never longer than yieldMax. A job taken as soon as
// it was queued, as at a steady rate the machine keeps up with, never
// waits, so end-to-end latency does not pay for it. A backlog drains
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
	// backlogAge: a job created longer ago than this was queued behind
	// others (or is a retry): only such a job gives way to intake.
	backlogAge = 100 * time.Millisecond
)

// intakePriority is River worker middleware that makes the jobs of the
// given queues wait while busy reports true, up to max per job.
type intakePriority struct {
	river.MiddlewareDefaults
	busy   func() bool
	max    time.Duration
	age    time.Duration // only jobs created longer ago than this wait
	queues map[string]bool
}

// newIntakePriority gives intake (store.IntakeBusy) priority over the
// process and notify queues.
func newIntakePriority(store *threads.Store) *intakePriority {
	return &intakePriority{busy: func() bool { return store.IntakeBusy(intakeGap) }, max: yieldMax, age: backlogAge,
		queues: map[string]bool{threads.QueueProcess: true, threads.QueueNotify: true}}
}

// Work waits while intake is busy (at most p.max, or until ctx ends) if
// the job is of a yielding queue and was created more than p.age ago,
// then works the job.
func (p *intakePriority) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if p.queues[job.Queue] && time.Since(job.CreatedAt) > p.age {
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
