package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// drainResult is a processing-capacity measurement: a backlog accepted
// with processing paused, then drained.
type drainResult struct {
	accepted  int64         // messages answered 250 while processing was paused
	early     int64         // of them, processed before the resume (should be none)
	processed int64         // processed after the resume
	first     time.Time     // processed_at of the first of them
	last      time.Time     // processed_at of the last of them
	toPosts   time.Duration // from the resume until no message of the backlog was accepted
	toIdle    time.Duration // from the resume until every notification was sent too
	split     cpuSplit      // the machine's CPU from the resume until idle
}

// drainRate is the processing rate of n messages whose processed_at
// stamps span first to last: n-1 intervals, so the resume's own latency
// (River's queue resume reaching the workers) is not counted. Zero when
// the span is empty.
func drainRate(n int64, first, last time.Time) float64 {
	span := last.Sub(first)
	if n < 2 || span <= 0 {
		return 0
	}
	return float64(n-1) / span.Seconds()
}

func (d drainResult) rate() float64 { return drainRate(d.processed, d.first, d.last) }

// describe is the drain row's Postern column.
func (d drainResult) describe() string {
	s := fmt.Sprintf("%.0f msg/s processed (first to last processed_at, %s); backlog of %d: posts visible %s after the resume, notifications all sent after %s",
		d.rate(), d.last.Sub(d.first).Round(100*time.Millisecond), d.accepted, d.toPosts.Round(100*time.Millisecond), d.toIdle.Round(100*time.Millisecond))
	if d.processed > 0 {
		per := func(c time.Duration) float64 { return float64(c) / float64(time.Millisecond) / float64(d.processed) }
		s += fmt.Sprintf("; CPU per message from the resume until idle: Postern %.1f ms, PostgreSQL %.1f ms", per(d.split.postern), per(d.split.pg))
	}
	if d.early > 0 {
		s += fmt.Sprintf("; %d processed before the resume (not counted)", d.early)
	}
	return s
}

// drainProcessing accepts n 4 KB replies on conc connections with
// Postern's processing and sending paused (pauseProcessing, as scenario
// 1's paused case), then resumes them and times the backlog's drain: to
// posts visible, then to every notification sent. The CPU split runs from
// the resume until idle, so it holds processing and one notification per
// message, not intake.
func (b *bench) drainProcessing(ctx context.Context, n int64, conc int) (drainResult, error) {
	var d drainResult
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
		return d, err
	}
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return d, err
	}
	resume, err := b.pauseProcessing(ctx)
	if err != nil {
		return d, err
	}
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: conc, count: n, next: b.nextOf(b.kinds()[0])})
	d.accepted = res.ok
	qerr := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE id > $1 AND state <> 'accepted'`, startID).Scan(&d.early)
	if res.ok == 0 || qerr != nil {
		err := fmt.Errorf("drain: nothing accepted (%s) or count failed (%v)", errText(res.firstErr), qerr)
		return d, errors.Join(err, resume())
	}
	if d.early > res.ok/10 {
		b.log.Warn("processing went on during the paused drain intake", "processed", d.early, "accepted", res.ok)
	}
	if err := b.checkpoint(ctx); err != nil {
		return d, errors.Join(err, resume())
	}
	cpu0 := b.sampleCPU()
	t0 := time.Now()
	if err := resume(); err != nil {
		return d, err
	}
	if err := b.waitBacklogProcessed(ctx, startID, 5*time.Minute); err != nil {
		return d, err
	}
	d.toPosts = time.Since(t0)
	if err := b.waitIdle(ctx, 5*time.Minute); err != nil {
		return d, err
	}
	d.toIdle = time.Since(t0)
	d.split = b.sampleCPU().since(cpu0)
	err = b.pool.QueryRow(ctx, `SELECT count(*), coalesce(min(processed_at), now()), coalesce(max(processed_at), now())
		FROM inbound WHERE id > $1 AND state <> 'accepted' AND processed_at >= $2`, startID, t0).Scan(&d.processed, &d.first, &d.last)
	if err != nil {
		return d, fmt.Errorf("drain: count processed: %w", err)
	}
	return d, b.proc.alive()
}

// waitBacklogProcessed waits until no message after startID is still
// accepted; it fails after limit.
func (b *bench) waitBacklogProcessed(ctx context.Context, startID int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var n int64
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE state = 'accepted' AND id > $1`, startID).Scan(&n); err != nil {
			return fmt.Errorf("drain: count backlog: %w", err)
		}
		if n == 0 {
			return nil
		}
		if err := b.proc.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drain: %d messages still accepted after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
