package main

import (
	"context"
	"fmt"
	"time"
)

// scenarioIntake is scenario 1.
func scenarioIntake(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	for _, k := range b.kinds() {
		payload := k.make(0).data
		for _, c := range b.opts.conc {
			dis := drive(ctx, loadSpec{addr: b.discard.addr, conc: c, dur: b.opts.ceilDur, next: b.nextOf(k)})
			if dis.ok == 0 {
				return fmt.Errorf("discard ceiling: nothing sent: %s", errText(dis.firstErr))
			}
			pgc, err := pgCommits(ctx, b.pool, c, b.opts.ceilDur, payload)
			if err != nil {
				return err
			}
			if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
				return err
			}
			cpu0 := b.sampleCPU()
			res := drive(ctx, loadSpec{addr: b.proc.addr, conc: c, dur: b.opts.intakeDur, next: b.nextOf(k)})
			r.cpu(1, fmt.Sprintf("intake %s, c=%d (processing runs beside it)", k.short, c), b.sampleCPU().since(cpu0), res.ok)
			if err := b.proc.alive(); err != nil {
				return err
			}
			if res.ok == 0 {
				return fmt.Errorf("intake: nothing accepted: %s", errText(res.firstErr))
			}
			x := row{scen: 1, name: "Intake", cas: fmt.Sprintf("%s, c=%d", k.short, c),
				postern: fmt.Sprintf("%.0f msg/s; DATA p50 %s, p99 %s", res.rate(), ms(pct(res.lat, 50)), ms(pct(res.lat, 99))),
				ceiling: fmt.Sprintf("discard %.0f msg/s (p50 %s); PG commit %.0f/s (p50 %s)", dis.rate(), ms(pct(dis.lat, 50)), pgc.rate(), ms(pct(pgc.lat, 50))),
				ratio:   fmt.Sprintf("%s of discard, %s of PG", pctOf(res.rate(), dis.rate()), pctOf(res.rate(), pgc.rate())),
			}
			if res.failed > 0 {
				x.postern += fmt.Sprintf("; %d failed (%s)", res.failed, errText(res.firstErr))
			}
			if c == 10 {
				x.target = goalIntake
				x.met = metText(intakeMet(res.rate(), dis.rate(), pct(res.lat, 99)))
			}
			r.add(x)
			if c == 10 && k.name == kindText {
				b.intake10, b.discard10 = res.rate(), dis.rate()
				alone, split, err := b.intakeAlone(ctx, r, k, c)
				if err != nil {
					return err
				}
				r.add(row{scen: 1, name: "Intake", cas: fmt.Sprintf("%s, c=%d, processing paused", k.short, c),
					postern: fmt.Sprintf("%.0f msg/s; DATA p50 %s, p99 %s", alone.rate(), ms(pct(alone.lat, 50)), ms(pct(alone.lat, 99))),
					ceiling: fmt.Sprintf("discard %.0f msg/s (above)", dis.rate()),
					ratio:   fmt.Sprintf("%s of discard", pctOf(alone.rate(), dis.rate()))})
				r.cpu(1, fmt.Sprintf("intake %s, c=%d, processing paused", k.short, c), split, alone.ok)
			}
		}
	}
	return b.waitIdle(ctx, 2*time.Minute)
}
