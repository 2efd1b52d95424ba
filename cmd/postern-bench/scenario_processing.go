package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// procResult is a sustained-processing measurement.
type procResult struct {
	accepted   int64         // messages answered 250 during the run
	intake     float64       // their rate
	processed  int64         // messages processed within the window
	window     time.Duration // the measured window (the run less its warm-up)
	maxBacklog int64         // most accepted-but-unprocessed messages seen
	gated      float64       // fraction of polls with the load paused at the cap
	cpu        time.Duration // Postern's CPU time during the run
	split      cpuSplit      // the whole machine's CPU during the run
}

func (p procResult) rate() float64 {
	if p.window <= 0 {
		return 0
	}
	return float64(p.processed) / p.window.Seconds()
}

// backlogCap is the backlog above which the load generator pauses during
// a processing measurement: enough that the workers never starve, small
// enough to drain quickly afterwards.
const backlogCap = 1000

// sustainedProcessing sends 4 KB replies on conc connections for dur,
// pausing whenever more than backlogCap messages wait, and counts the
// messages whose processing finished in the window (the run after a
// warm-up of a sixth, at most 5 s).
func (b *bench) sustainedProcessing(ctx context.Context, dur time.Duration, conc int) (procResult, error) {
	return b.sustainedProcessingProfiled(ctx, nil, "", dur, conc)
}

// sustainedProcessingProfiled is sustainedProcessing, adding a CPU profile
// of the run to r under title when r is not nil.
func (b *bench) sustainedProcessingProfiled(ctx context.Context, r *report, title string, dur time.Duration, conc int) (procResult, error) {
	var p procResult
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
		return p, err
	}
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return p, err
	}
	var open atomic.Bool
	open.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var polls, closed int
	activity := map[string]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var n int64
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE state = 'accepted' AND id > $1`, startID).Scan(&n); err != nil {
				continue
			}
			polls++
			b.sampleActivity(ctx, activity)
			p.maxBacklog = max(p.maxBacklog, n)
			open.Store(n < backlogCap)
			if n >= backlogCap {
				closed++
			}
		}
	}()
	warm := min(5*time.Second, dur/6)
	cpu0 := b.sampleCPU()
	t0 := time.Now()
	wait := func() string { return "" }
	if r != nil {
		wait = b.startProfile(ctx, "processing", dur-time.Second)
	}
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: conc, dur: dur, gate: open.Load, next: b.nextOf(b.kinds()[0])})
	tEnd := time.Now()
	p.split = b.sampleCPU().since(cpu0)
	if r != nil {
		r.addProfile(ctx, title, wait())
	}
	p.cpu = p.split.postern
	close(stop)
	wg.Wait()
	b.logActivity(activity, polls)
	if err := b.proc.alive(); err != nil {
		return p, err
	}
	if res.ok == 0 {
		return p, fmt.Errorf("processing: nothing accepted: %s", errText(res.firstErr))
	}
	p.accepted, p.intake = res.ok, res.rate()
	if polls > 0 {
		p.gated = float64(closed) / float64(polls)
	}
	p.window = tEnd.Sub(t0.Add(warm))
	err = b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE id > $1 AND state <> 'accepted' AND processed_at >= $2 AND processed_at < $3`,
		startID, t0.Add(warm), tEnd).Scan(&p.processed)
	if err != nil {
		return p, fmt.Errorf("count processed: %w", err)
	}
	return p, b.waitIdle(ctx, 3*time.Minute)
}

// sampleActivity counts what PostgreSQL's sessions are doing (state, wait
// event, statement) into into: a poor man's profile of the database side.
func (b *bench) sampleActivity(ctx context.Context, into map[string]int) {
	rows, err := b.pool.Query(ctx, `SELECT state || ' | ' || coalesce(wait_event_type || ':' || wait_event, 'cpu') || ' | ' || left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND application_name = ''`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if rows.Scan(&k) == nil {
			into[k]++
		}
	}
}

// logActivity logs the most frequent samples of sampleActivity.
func (b *bench) logActivity(samples map[string]int, polls int) {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range samples {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, c kv) int { return c.n - a.n })
	for i, x := range all {
		if i == 12 {
			break
		}
		b.log.Info("database activity", "sessions_on_average", fmt.Sprintf("%.2f", float64(x.n)/float64(max(polls, 1))), "what", x.k)
	}
}

func (p procResult) describe() string {
	s := fmt.Sprintf("%.0f msg/s processed over %s (intake %.0f msg/s, backlog ≤ %d, paused at the cap %.0f%% of the time)",
		p.rate(), p.window.Round(time.Second), p.intake, p.maxBacklog, 100*p.gated)
	if p.accepted > 0 {
		s += fmt.Sprintf("; Postern CPU %.1f ms per message accepted", float64(p.cpu)/float64(time.Millisecond)/float64(p.accepted))
	}
	if p.gated < 0.1 {
		s += "; intake-bound: processing kept up with intake"
	}
	return s
}

// scenarioProcessing is scenario 2.
func scenarioProcessing(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	if err := b.resetStatements(ctx); err != nil {
		return err
	}
	p, err := b.sustainedProcessingProfiled(ctx, r, "scenario 2, sustained processing of 4 KB replies", b.opts.processDur, 10)
	if err != nil {
		return err
	}
	if r.statements, err = b.topStatements(ctx, 15, p.accepted); err != nil {
		return err
	}
	d, err := b.drainProcessing(ctx, int64(b.opts.drainMsgs), 10)
	if err != nil {
		return err
	}
	pgc, err := pgCommits(ctx, b.pool, b.opts.workers, b.opts.ceilDur, b.kinds()[0].make(0).data)
	if err != nil {
		return err
	}
	sustained, drain := processingRows(p, d, pgc.rate(), b.opts.workers)
	r.add(sustained)
	r.add(drain)
	r.cpu(2, "sustained: intake, processing and one notification per message", p.split, p.accepted)
	r.cpu(2, "backlog drain: processing and one notification per message (no intake)", d.split, d.processed)
	return nil
}

// processingRows are scenario 2's two rows beside the PostgreSQL commit
// rate pgc at the worker count: the sustained case (intake running, an
// intake-bound figure when processing keeps up) and the backlog drain,
// which measures processing's capacity and so carries the target.
func processingRows(p procResult, d drainResult, pgc float64, workers int) (sustained, drain row) {
	ceiling := fmt.Sprintf("PG commit %.0f/s at %d sessions", pgc, workers)
	sustained = row{scen: 2, name: "Processing", cas: fmt.Sprintf("4 KB text, 10 connections, %d workers, sustained", workers),
		postern: p.describe(), ceiling: ceiling, ratio: pctOf(p.rate(), pgc) + " of PG"}
	drain = row{scen: 2, name: "Processing", cas: fmt.Sprintf("4 KB text, backlog of %d drained, %d workers", d.accepted, workers),
		postern: d.describe(), ceiling: ceiling, ratio: pctOf(d.rate(), pgc) + " of PG",
		target: goalProcessing, met: metText(processingMet(d.rate(), pgc))}
	return sustained, drain
}
