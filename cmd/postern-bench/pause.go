package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Postern's River queues (threads.QueueProcess, threads.QueueNotify).
var posternQueues = []string{"process", "notify"}

// pauseProcessing pauses Postern's processing and sending (River queue
// pause, which Postern's workers obey within moments) and returns the
// function that resumes them. Intake goes on: messages wait, accepted.
func (b *bench) pauseProcessing(ctx context.Context) (resume func() error, err error) {
	rc, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	for _, q := range posternQueues {
		if err := rc.QueuePause(ctx, q, nil); err != nil {
			return nil, fmt.Errorf("pause queue %s: %w", q, err)
		}
	}
	// Let running jobs finish and the producers see the pause.
	time.Sleep(time.Second)
	return func() error {
		var errs []error
		for _, q := range posternQueues {
			if err := rc.QueueResume(context.WithoutCancel(ctx), q, nil); err != nil {
				errs = append(errs, fmt.Errorf("resume queue %s: %w", q, err))
			}
		}
		return errors.Join(errs...)
	}, nil
}

// intakeAlone measures intake of kind k at conc connections with
// processing paused: Postern's own intake cost, without the background
// work that competes with it for the CPU in the main measurement.
func (b *bench) intakeAlone(ctx context.Context, r *report, k messageKind, conc int) (loadResult, cpuSplit, error) {
	resume, err := b.pauseProcessing(ctx)
	if err != nil {
		return loadResult{}, cpuSplit{}, err
	}
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return loadResult{}, cpuSplit{}, errors.Join(err, resume())
	}
	cpu0 := b.sampleCPU()
	wait := b.startProfile(ctx, "intake-paused", b.opts.ceilDur)
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: conc, dur: b.opts.ceilDur, next: b.nextOf(k)})
	split := b.sampleCPU().since(cpu0)
	r.addProfile(ctx, fmt.Sprintf("scenario 1, intake of %s at c=%d with processing paused", k.short, conc), wait())
	var processed int64
	qerr := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE id > $1 AND state <> 'accepted'`, startID).Scan(&processed)
	if err := resume(); err != nil {
		return res, split, err
	}
	if qerr == nil && processed > res.ok/10 {
		b.log.Warn("processing went on during the paused intake run", "processed", processed, "accepted", res.ok)
	}
	return res, split, b.waitIdle(ctx, 3*time.Minute)
}
