package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// latencies matches the end of DATA of each marker with its first arrival
// at the sink, waiting up to limit for stragglers.
func (b *bench) latencies(ctx context.Context, ends map[string]time.Time, limit time.Duration) (lat []time.Duration, missing int, err error) {
	deadline := time.Now().Add(limit)
	for {
		lat, missing = lat[:0], 0
		for m, end := range ends {
			if a := b.sink.seen(m); a.n > 0 {
				lat = append(lat, a.first.Sub(end))
			} else {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	slices.Sort(lat)
	return lat, missing, nil
}

func latText(lat []time.Duration, missing int) string {
	s := fmt.Sprintf("p50 %s, p99 %s, max %s", ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100)))
	if missing > 0 {
		s += fmt.Sprintf(", %d never arrived", missing)
	}
	return s
}

// scenarioE2E is scenario 3.
func scenarioE2E(ctx context.Context, b *bench, r *report) error {
	if err := b.targetsIdle(ctx); err != nil {
		return err
	}
	// Settle the database the earlier overload left behind (dead rows,
	// dirty pages), so that this steady-rate run does not measure their
	// vacuum and checkpoint.
	if err := b.settle(ctx); err != nil {
		return err
	}
	text := b.kinds()[0]
	const conns = 32
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return err
	}
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: conns, dur: b.opts.e2eDur, rate: b.opts.e2eRate, track: true, next: b.nextOf(text)})
	if res.ok == 0 {
		return fmt.Errorf("end-to-end: nothing accepted: %s", errText(res.firstErr))
	}
	lat, missing, err := b.latencies(ctx, res.ends, time.Minute)
	if err != nil {
		return err
	}
	stages := b.stageLatencies(ctx, startID)
	relay, err := startIdealRelay(b.pool, b.sink.addr, b.asker, b.log)
	if err != nil {
		return err
	}
	cres := drive(ctx, loadSpec{addr: relay.addr, conc: conns, dur: min(b.opts.e2eDur, 10*time.Second), rate: b.opts.e2eRate, track: true, next: b.nextOf(text)})
	clat, cmissing, err := b.latencies(ctx, cres.ends, 30*time.Second)
	relay.close()
	if err != nil {
		return err
	}
	if _, err := b.pool.Exec(ctx, `TRUNCATE bench_ceiling`); err != nil {
		return fmt.Errorf("clean up ceiling table: %w", err)
	}
	x := row{scen: 3, name: "End-to-end latency", cas: fmt.Sprintf("4 KB text at %.0f msg/s for %s", b.opts.e2eRate, b.opts.e2eDur),
		postern: fmt.Sprintf("%s (%d sent, %.0f msg/s achieved)", latText(lat, missing), res.ok, res.rate()),
		ceiling: "ideal relay " + latText(clat, cmissing),
		ratio:   fmt.Sprintf("p99 %.1f× ceiling", float64(pct(lat, 99))/float64(max(pct(clat, 99), time.Microsecond))),
		target:  goalE2E, met: metText(e2eMet(pct(lat, 99), missing))}
	if res.failed > 0 {
		x.postern += fmt.Sprintf("; %d failed (%s)", res.failed, errText(res.firstErr))
	}
	if stages != "" {
		x.postern += "; by stage: " + stages
	}
	r.add(x)
	return b.waitIdle(ctx, 2*time.Minute)
}

// stageLatencies says where the time of the end-to-end run went, from
// Postern's own timestamps for the messages after startID: accepted to
// processed (the process queue) and processed to marked sent (the notify
// queue, rendering and the relay).
func (b *bench) stageLatencies(ctx context.Context, startID int64) string {
	var p50a, p99a, maxa, p50b, p99b, maxb float64
	err := b.pool.QueryRow(ctx, `SELECT
			percentile_cont(0.5) WITHIN GROUP (ORDER BY a), percentile_cont(0.99) WITHIN GROUP (ORDER BY a), max(a),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.99) WITHIN GROUP (ORDER BY s), max(s)
		FROM (SELECT extract(epoch FROM i.processed_at - i.received_at) * 1000 AS a,
				extract(epoch FROM n.sent_at - i.processed_at) * 1000 AS s
			FROM inbound i JOIN notifications n ON n.post_id = i.post_id
			WHERE i.id > $1 AND n.sent_at IS NOT NULL) t`, startID).Scan(&p50a, &p99a, &maxa, &p50b, &p99b, &maxb)
	if err != nil {
		b.log.Warn("stage latencies", "err", err)
		return ""
	}
	return fmt.Sprintf("accepted→processed p50 %.0f ms, p99 %.0f ms, max %.0f ms; processed→sent p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		p50a, p99a, maxa, p50b, p99b, maxb)
}
