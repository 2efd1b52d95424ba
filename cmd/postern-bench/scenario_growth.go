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
// last 20 days (inside the raw-retention period, so the purge job has
// nothing to do).
func (b *bench) fillInbound(ctx context.Context, n int) error {
	fromHash := make([]byte, 32)
	block := make([]byte, 4096+28)
	now := time.Now()
	const batch = 50000
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
			at := now.Add(-time.Duration(rng.Int64N(int64(20 * 24 * time.Hour))))
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
	if _, err := b.pool.Exec(ctx, `ANALYZE inbound`); err != nil {
		return fmt.Errorf("analyze inbound: %w", err)
	}
	return nil
}

// scenarioGrowth is scenario 5.
func scenarioGrowth(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	text := b.kinds()[0]
	measure := func() (float64, procResult, int64, error) {
		var rows int64
		if err := b.waitIdle(ctx, 3*time.Minute); err != nil {
			return 0, procResult{}, 0, err
		}
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound`).Scan(&rows); err != nil {
			return 0, procResult{}, 0, fmt.Errorf("count inbound: %w", err)
		}
		if err := b.checkpoint(ctx); err != nil {
			return 0, procResult{}, 0, err
		}
		in := drive(ctx, loadSpec{addr: b.proc.addr, conc: 10, dur: b.opts.growthDur / 2, next: b.nextOf(text)})
		if in.ok == 0 {
			return 0, procResult{}, 0, fmt.Errorf("growth: nothing accepted: %s", errText(in.firstErr))
		}
		p, err := b.sustainedProcessing(ctx, b.opts.growthDur, 10)
		return in.rate(), p, rows, err
	}
	in0, p0, rows0, err := measure()
	if err != nil {
		return err
	}
	t := time.Now()
	if err := b.fillInbound(ctx, b.opts.growthRows); err != nil {
		return err
	}
	if err := b.checkpoint(ctx); err != nil {
		return err
	}
	b.log.Info("growth: table filled", "rows", b.opts.growthRows, "took", time.Since(t).Round(time.Second))
	in1, p1, rows1, err := measure()
	if err != nil {
		return err
	}
	ri, rp := in1/in0, p1.rate()/p0.rate()
	r.add(row{scen: 5, name: "Growth", cas: "intake, 4 KB text, 10 connections",
		postern: fmt.Sprintf("%.0f msg/s with %d rows in inbound", in1, rows1),
		ceiling: fmt.Sprintf("%.0f msg/s with %d rows", in0, rows0),
		ratio:   fmt.Sprintf("%.3f", ri), target: goalGrowth, met: metText(growthMet(ri))})
	r.add(row{scen: 5, name: "Growth", cas: "processing, 4 KB text",
		postern: fmt.Sprintf("%s, with %d rows", p1.describe(), rows1),
		ceiling: fmt.Sprintf("%.0f msg/s with %d rows", p0.rate(), rows0),
		ratio:   fmt.Sprintf("%.3f", rp), target: goalGrowth, met: metText(growthMet(rp))})
	return nil
}
