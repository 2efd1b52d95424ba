package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// fillInbound stores n processed messages in inbound with COPY, as a
// forum with that history holds them: sealed raw messages of about 4 KB
// (random bytes, as incompressible as AES-GCM output), received over the
// last 20 days in id order, as a live table fills (inside the
// raw-retention period, so the purge job has nothing to do). The
// measurement that follows settles the database first (growthMeasure),
// which also analyses the table.
func (b *bench) fillInbound(ctx context.Context, n int) error {
	fromHash := make([]byte, 32)
	block := make([]byte, 4096+28)
	now := time.Now()
	const batch = 50000
	const span = 20 * 24 * time.Hour
	rng := mrand.New(mrand.NewPCG(uint64(now.UnixNano()), 7))
	for done := 0; done < n; done += batch {
		rows := make([][]any, 0, min(batch, n-done))
		for i := done; i < min(done+batch, n); i++ {
			if i%64 == 0 {
				for j := 0; j+8 <= len(block); j += 8 {
					binary.LittleEndian.PutUint64(block[j:], rng.Uint64())
				}
			}
			key := sha256.Sum256([]byte(fmt.Sprintf("growth-%s-%d", b.gen.nonce, i)))
			at := now.Add(-span + time.Duration(i)*(span/time.Duration(n)))
			rows = append(rows, []any{key[:], fmt.Sprintf("old-%d@client.test", i), fromHash, []string{"reply+x@" + domain},
				"127.0.0.1", "smtp", 1, block, len(block) - 28, "processed", at, at.Add(time.Second)})
		}
		_, err := b.pool.CopyFrom(ctx, pgx.Identifier{"inbound"},
			[]string{"dedup_key", "message_id", "mail_from_hash", "rcpt", "remote_ip", "source", "key_id", "sealed", "size", "state", "received_at", "processed_at"},
			pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("copy into inbound (the schema may have changed): %w", err)
		}
		b.log.Info("growth: rows stored", "done", min(done+batch, n), "of", n)
	}
	return nil
}

// growthMeasure is one side of scenario 5, measured in the same way
// on both: an unmeasured intake warm-up (a fresh Postern's first seconds
// are slower, which favoured the second side), then the database settled
// (VACUUM ANALYZE, CHECKPOINT: a stored table has been vacuumed, and
// autovacuum's first pass over a million freshly copied rows, 4.8 GB of
// TOAST, ran through the whole of the second measurement before), then
// intake for half of the growth duration, then processing's capacity:
// the drain of a paused backlog of half -drain-messages (as scenario 2's
// capacity case; sustained processing is bound by intake's rate). It
// returns the intake rate, the drain and the rows in inbound when the
// measurement started.
func (b *bench) growthMeasure(ctx context.Context, text messageKind) (float64, drainResult, int64, error) {
	var rows int64
	warm := drive(ctx, loadSpec{addr: b.proc.addr, conc: 10, dur: min(3*time.Second, b.opts.growthDur/6), next: b.nextOf(text)})
	if warm.ok == 0 {
		return 0, drainResult{}, 0, fmt.Errorf("growth: warm-up: nothing accepted: %s", errText(warm.firstErr))
	}
	if err := b.waitIdle(ctx, 3*time.Minute); err != nil {
		return 0, drainResult{}, 0, err
	}
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound`).Scan(&rows); err != nil {
		return 0, drainResult{}, 0, fmt.Errorf("count inbound: %w", err)
	}
	if err := b.settle(ctx); err != nil {
		return 0, drainResult{}, 0, err
	}
	in := drive(ctx, loadSpec{addr: b.proc.addr, conc: 10, dur: b.opts.growthDur / 2, next: b.nextOf(text)})
	if in.ok == 0 {
		return 0, drainResult{}, 0, fmt.Errorf("growth: nothing accepted: %s", errText(in.firstErr))
	}
	d, err := b.drainProcessing(ctx, max(int64(b.opts.drainMsgs)/2, 2), 10)
	return in.rate(), d, rows, err
}

// scenarioGrowth is scenario 5.
func scenarioGrowth(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	text := b.kinds()[0]
	in0, p0, rows0, err := b.growthMeasure(ctx, text)
	if err != nil {
		return err
	}
	t := time.Now()
	if err := b.fillInbound(ctx, b.opts.growthRows); err != nil {
		return err
	}
	b.log.Info("growth: table filled", "rows", b.opts.growthRows, "took", time.Since(t).Round(time.Second))
	in1, p1, rows1, err := b.growthMeasure(ctx, text)
	if err != nil {
		return err
	}
	ri, rp := in1/in0, p1.rate()/p0.rate()
	r.add(row{scen: 5, name: "Growth", cas: "intake, 4 KB text, 10 connections",
		postern: fmt.Sprintf("%.0f msg/s with %d rows in inbound", in1, rows1),
		ceiling: fmt.Sprintf("%.0f msg/s with %d rows", in0, rows0),
		ratio:   fmt.Sprintf("%.3f", ri), target: goalGrowth, met: metText(growthMet(ri))})
	r.add(row{scen: 5, name: "Growth", cas: "processing, 4 KB text (drain of a paused backlog)",
		postern: fmt.Sprintf("%s, with %d rows", p1.describe(), rows1),
		ceiling: fmt.Sprintf("%.0f msg/s with %d rows", p0.rate(), rows0),
		ratio:   fmt.Sprintf("%.3f", rp), target: goalGrowth, met: metText(growthMet(rp))})
	return nil
}
