package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/threads"
)

// setupQuestions is how many questions the replies are spread over.
const setupQuestions = 50

// ensureTargets prepares the threads replies go to, once per run, through
// mail only: the replier follows the forum (subscribe@, then answers the
// confirmation request), the asker asks a first question and confirms
// their address, then asks the rest; the replier's reply addresses are
// read from the new-question notifications the sink received.
func (b *bench) ensureTargets(ctx context.Context) error {
	if len(b.targets) > 0 {
		return nil
	}
	send := func(what string, m outMsg) error {
		res := drive(ctx, loadSpec{addr: b.proc.addr, conc: 1, count: 1, next: func() outMsg { return m }})
		if res.ok != 1 {
			return fmt.Errorf("set-up: %s: %s", what, errText(res.firstErr))
		}
		return nil
	}
	waitFor := func(what string, cond func() bool) error {
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				b.diagnose(ctx)
				return fmt.Errorf("set-up: no %s within a minute", what)
			}
			if err := b.proc.alive(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return nil
	}
	confirm := func(who string) error {
		if err := waitFor("confirmation request to "+who, func() bool { _, ok := b.sink.confirmAddress(who); return ok }); err != nil {
			return err
		}
		addr, _ := b.sink.confirmAddress(who)
		return send("confirm "+who, b.gen.confirmation(who, addr, b.seq.Add(1)))
	}

	if err := send("subscribe", b.gen.subscribe(b.replier, b.seq.Add(1))); err != nil {
		return err
	}
	if err := confirm(b.replier); err != nil {
		return err
	}
	var mu sync.Mutex
	var markers []string
	ask := func() outMsg {
		m := b.gen.question(b.asker, b.seq.Add(1))
		mu.Lock()
		markers = append(markers, m.marker)
		mu.Unlock()
		return m
	}
	if err := send("first question", ask()); err != nil {
		return err
	}
	if err := confirm(b.asker); err != nil {
		return err
	}
	// Later questions must not overtake the confirmation.
	if err := b.waitIdle(ctx, time.Minute); err != nil {
		return err
	}
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: 2, count: setupQuestions - 1, next: ask})
	if res.ok != setupQuestions-1 {
		return fmt.Errorf("set-up: ask: %d of %d accepted: %s", res.ok, setupQuestions-1, errText(res.firstErr))
	}
	var targets []string
	err := waitFor("reply address for every question", func() bool {
		targets = targets[:0]
		for _, m := range markers {
			if a, ok := b.sink.replyAddress(b.replier, m); ok {
				targets = append(targets, a)
			}
		}
		return len(targets) == len(markers)
	})
	if err != nil {
		return err
	}
	b.targets = targets
	b.log.Info("set-up done", "reply_addresses", len(targets))
	return b.waitIdle(ctx, time.Minute)
}

// target is the reply address for message n.
func (b *bench) target(n int64) string { return b.targets[int(n)%len(b.targets)] }

// messageKind makes one kind of reply.
type messageKind struct {
	name  string
	short string
	make  func(n int64) outMsg
}

func (b *bench) kinds() []messageKind {
	return []messageKind{
		{kindText, "4 KB text", func(n int64) outMsg { return b.gen.textReply(b.replier, b.target(n), n, 4096) }},
		{kindHTML, "60 KB HTML", func(n int64) outMsg { return b.gen.htmlReply(b.replier, b.target(n), n, 60*1024) }},
	}
}

// nextOf returns a message source for kind k with fresh markers.
func (b *bench) nextOf(k messageKind) func() outMsg {
	return func() outMsg { return k.make(b.seq.Add(1)) }
}

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
				x.target = "≥ 60% of discard"
				x.met = metText(res.rate() >= 0.6*dis.rate())
			}
			r.add(x)
			if c == 10 && k.name == kindText {
				b.intake10 = res.rate()
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
	pgc, err := pgCommits(ctx, b.pool, b.opts.workers, b.opts.ceilDur, b.kinds()[0].make(0).data)
	if err != nil {
		return err
	}
	r.add(row{scen: 2, name: "Processing", cas: fmt.Sprintf("4 KB text, 10 connections, %d workers", b.opts.workers),
		postern: p.describe(),
		ceiling: fmt.Sprintf("PG commit %.0f/s at %d sessions", pgc.rate(), b.opts.workers),
		ratio:   pctOf(p.rate(), pgc.rate()) + " of PG",
		target:  "≥ 1000 msg/s", met: metText(p.rate() >= 1000)})
	r.cpu(2, "sustained: intake, processing and one notification per message", p.split, p.accepted)
	return nil
}

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
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
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
		target:  "p99 < 250 ms", met: metText(missing == 0 && pct(lat, 99) < 250*time.Millisecond)}
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

// addFollowers makes n people who follow every new question. Mail cannot
// do it in bulk: each follow needs a confirmation request, and Postern
// sends at most ConfirmPerIP (20) of those per hour for mail from one
// client IP, and every client here is 127.0.0.1. So the rows are written
// with SQL, the addresses hashed and sealed with Postern's own key
// derivation (threads.DeriveKeys) from the secret the bench gave Postern,
// exactly as Postern stores a confirmed follower.
func (b *bench) addFollowers(ctx context.Context, n int) error {
	raw, err := os.ReadFile(b.secretFile)
	if err != nil {
		return fmt.Errorf("read secret: %w", err)
	}
	keys, err := threads.DeriveKeys([]byte(strings.TrimSpace(string(raw))), nil, 0)
	if err != nil {
		return fmt.Errorf("derive keys: %w", err)
	}
	rows := make([][]any, 0, n)
	for i := 0; i < n; i++ {
		addr := fmt.Sprintf("follower%06d@followers.test", i)
		keyID, sealed, err := keys.Seal(addr)
		if err != nil {
			return fmt.Errorf("seal follower address: %w", err)
		}
		rows = append(rows, []any{fmt.Sprintf("Follower %06d", i), keys.AddressHash(addr), sealed, keyID, time.Now()})
	}
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"people"}, []string{"display_name", "address_hash", "address_enc", "key_id", "confirmed_at"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert followers: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (person_id, scope, confirmed_at)
			SELECT id, 'all', now() FROM people WHERE display_name LIKE 'Follower %'`); err != nil {
			return fmt.Errorf("subscribe followers: %w", err)
		}
		return nil
	})
}

// freshRate sends count messages to addr over a new connection each, on
// conc goroutines, and returns messages per second.
func freshRate(ctx context.Context, addr string, conc, count int, next func() outMsg) (float64, error) {
	var left atomic.Int64
	left.Store(int64(count))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				if err := sendFresh(addr, next()); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(count) / time.Since(t0).Seconds(), nil
}

// scenarioFanout is scenario 4.
func scenarioFanout(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	n := b.opts.followers
	t := time.Now()
	if err := b.addFollowers(ctx, n); err != nil {
		return err
	}
	b.log.Info("followers added", "n", n, "took", time.Since(t).Round(time.Millisecond))
	ceil, err := freshRate(ctx, b.sink.addr, b.opts.workers, min(n, 5000), func() outMsg {
		m := b.gen.textReply("bounce@"+domain, "someone@followers.test", b.seq.Add(1), 3000)
		m.marker = ""
		return m
	})
	if err != nil {
		return fmt.Errorf("sink ceiling: %w", err)
	}
	if err := b.restartPostern(ctx); err != nil {
		return err
	}
	rss0, _, err := b.proc.memory()
	if err != nil {
		return err
	}
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return err
	}
	q := b.gen.question(b.asker, b.seq.Add(1))
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: 1, count: 1, track: true, next: func() outMsg { return q }})
	if res.ok != 1 {
		return fmt.Errorf("fan-out: question refused: %s", errText(res.firstErr))
	}
	t0 := res.ends[q.marker]
	// The number of notifications is Postern's decision: read it once the
	// question is processed.
	var expected int64
	var procTime time.Duration
	deadline := time.Now().Add(max(5*time.Minute, time.Duration(n)*30*time.Millisecond))
	for {
		if err := b.proc.alive(); err != nil {
			return err
		}
		if expected == 0 {
			var postID *int64
			var took float64
			err := b.pool.QueryRow(ctx, `SELECT post_id, coalesce(extract(epoch FROM processed_at - received_at)::float8, 0) FROM inbound WHERE id > $1 AND state <> 'accepted' ORDER BY id LIMIT 1`, startID).Scan(&postID, &took)
			if err == nil && postID != nil {
				procTime = time.Duration(took * float64(time.Second))
				if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE post_id = $1`, *postID).Scan(&expected); err != nil {
					return fmt.Errorf("count notifications: %w", err)
				}
			} else if err == nil {
				return errors.New("fan-out: the question did not become a post")
			}
		}
		a := b.sink.seen(q.marker)
		if expected > 0 && int64(a.n) >= expected {
			break
		}
		if time.Now().After(deadline) {
			b.diagnose(ctx)
			return fmt.Errorf("fan-out: %d of %d notifications arrived in %s", a.n, expected, time.Since(t0).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	a := b.sink.seen(q.marker)
	_, peak, err := b.proc.memory()
	if err != nil {
		return err
	}
	elapsed := a.last.Sub(t0)
	rate := float64(a.n) / elapsed.Seconds()
	r.add(row{scen: 4, name: "Fan-out", cas: fmt.Sprintf("1 question, %d followers", n),
		postern: fmt.Sprintf("%d notifications in %s = %.0f/s (first at %s: the fan-out transaction; processed_at says %s, its start); peak RSS %s (idle %s)",
			a.n, elapsed.Round(time.Millisecond), rate, a.first.Sub(t0).Round(time.Millisecond), procTime.Round(time.Millisecond), mb(peak), mb(rss0)),
		ceiling: fmt.Sprintf("sink %.0f msg/s (a connection per message, %d at a time)", ceil, b.opts.workers),
		ratio:   pctOf(rate, ceil) + " of sink",
		target:  "≥ 2000/s and RSS < 200 MB", met: metText(rate >= 2000 && peak < 200e6)})
	return b.waitIdle(ctx, 2*time.Minute)
}

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
		ratio:   fmt.Sprintf("%.3f", ri), target: "≥ 0.9", met: metText(ri >= 0.9)})
	r.add(row{scen: 5, name: "Growth", cas: "processing, 4 KB text",
		postern: fmt.Sprintf("%s, with %d rows", p1.describe(), rows1),
		ceiling: fmt.Sprintf("%.0f msg/s with %d rows", p0.rate(), rows0),
		ratio:   fmt.Sprintf("%.3f", rp), target: "≥ 0.9", met: metText(rp >= 0.9)})
	return nil
}

// burst opens one connection per message, names the envelope on each,
// then sends every DATA at once.
func burst(ctx context.Context, addr string, msgs []outMsg) (ok int, firstErr error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	ready := make(chan struct{})
	var armed sync.WaitGroup
	for _, m := range msgs {
		wg.Add(1)
		armed.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				c, err := smtp.Dial(addr)
				if err != nil {
					armed.Done()
					return fmt.Errorf("dial: %w", err)
				}
				defer c.Close()
				if err := c.Mail(m.from, nil); err != nil {
					armed.Done()
					return fmt.Errorf("MAIL: %w", err)
				}
				for _, rc := range m.rcpt {
					if err := c.Rcpt(rc, nil); err != nil {
						armed.Done()
						return fmt.Errorf("RCPT: %w", err)
					}
				}
				armed.Done()
				select {
				case <-ready:
				case <-ctx.Done():
					return ctx.Err()
				}
				w, err := c.Data()
				if err != nil {
					return fmt.Errorf("DATA: %w", err)
				}
				if _, err := w.Write(m.data); err != nil {
					return fmt.Errorf("DATA write: %w", err)
				}
				if err := w.Close(); err != nil {
					return fmt.Errorf("end of DATA: %w", err)
				}
				return c.Quit()
			}()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if firstErr == nil {
				firstErr = err
			}
		}()
	}
	armed.Wait()
	close(ready)
	wg.Wait()
	return ok, firstErr
}

// scenarioMemory is scenario 7.
func scenarioMemory(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
		return err
	}
	// One large message alone.
	if err := b.restartPostern(ctx); err != nil {
		return err
	}
	rss0, _, err := b.proc.memory()
	if err != nil {
		return err
	}
	n := b.seq.Add(1)
	big := b.gen.attachmentReply(b.replier, b.target(n), n, b.opts.bigSize)
	if ok, err := burst(ctx, b.proc.addr, []outMsg{big}); ok != 1 {
		return fmt.Errorf("memory: large message refused: %w", err)
	}
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
		return err
	}
	_, peak, err := b.proc.memory()
	if err != nil {
		return err
	}
	size := int64(len(big.data))
	added := peak - rss0
	r.add(row{scen: 7, name: "Memory", cas: fmt.Sprintf("one %s message alone", mb(size)),
		postern: fmt.Sprintf("peak RSS %s, %s over idle (%s), received and processed", mb(peak), mb(added), mb(rss0)),
		ceiling: fmt.Sprintf("message size %s", mb(size)),
		ratio:   fmt.Sprintf("adds %.1f× its size", float64(added)/float64(size)),
		target:  "adds < 3× its size", met: metText(added < 3*size)})

	// Many concurrent large messages.
	if err := b.restartPostern(ctx); err != nil {
		return err
	}
	rss0, _, err = b.proc.memory()
	if err != nil {
		return err
	}
	msgs := make([]outMsg, b.opts.memSessions)
	var total int64
	for i := range msgs {
		n := b.seq.Add(1)
		msgs[i] = b.gen.attachmentReply(b.replier, b.target(n), n, b.opts.memSize)
		total += int64(len(msgs[i].data))
	}
	ok, ferr := burst(ctx, b.proc.addr, msgs)
	if err := b.waitIdle(ctx, 5*time.Minute); err != nil {
		return err
	}
	_, peak, err = b.proc.memory()
	if err != nil {
		return err
	}
	x := row{scen: 7, name: "Memory", cas: fmt.Sprintf("%d sessions × %s at once", len(msgs), mb(int64(b.opts.memSize))),
		postern: fmt.Sprintf("peak RSS %s (idle %s), %d of %d accepted, received and processed", mb(peak), mb(rss0), ok, len(msgs)),
		ceiling: fmt.Sprintf("payload in flight %s", mb(total)),
		ratio:   fmt.Sprintf("peak = %.2f× payload", float64(peak)/float64(total)),
		target:  "< 600 MB", met: metText(peak < 600e6 && ok == len(msgs))}
	if ferr != nil {
		x.postern += "; first error: " + errText(ferr)
	}
	r.add(x)
	return memoryLarge(ctx, b, r)
}

// Postern's memory budget and soft limit (POSTERN_MEMORY_BUDGET,
// POSTERN_MEMORY_LIMIT): their defaults (internal/config), unless the
// harness's environment sets them.
func memorySettings() (budget, limit int64) {
	c := config.Default()
	_ = c.LoadEnv(os.LookupEnv, []string{"memory-budget", "memory-limit"})
	return int64(c.Memory.Budget), int64(c.Memory.Limit)
}

// memoryLarge is scenario 7's last case: six sessions of 24 MB at once,
// half of them long texts (a post cut to its first 64 KiB, the whole
// text kept as a file) and half a large attachment, received, processed
// and notified, against the memory budget that intake, processing and
// composing share and the runtime's soft limit.
func memoryLarge(ctx context.Context, b *bench, r *report) error {
	const sessions, size = 6, 24_000_000
	if err := b.restartPostern(ctx); err != nil {
		return err
	}
	rss0, _, err := b.proc.memory()
	if err != nil {
		return err
	}
	msgs := make([]outMsg, sessions)
	var total int64
	for i := range msgs {
		n := b.seq.Add(1)
		if i%2 == 0 {
			msgs[i] = b.gen.longText(b.replier, b.target(n), n, size)
		} else {
			msgs[i] = b.gen.attachmentReply(b.replier, b.target(n), n, size)
		}
		total += int64(len(msgs[i].data))
	}
	ok, ferr := burst(ctx, b.proc.addr, msgs)
	if err := b.waitIdle(ctx, 5*time.Minute); err != nil {
		return err
	}
	_, peak, err := b.proc.memory()
	if err != nil {
		return err
	}
	budget, limit := memorySettings()
	x := row{scen: 7, name: "Memory", cas: fmt.Sprintf("%d sessions × %s at once (long text and attachments)", sessions, mb(size)),
		postern: fmt.Sprintf("peak RSS %s (idle %s), %d of %d accepted, received, processed and notified", mb(peak), mb(rss0), ok, sessions),
		ceiling: fmt.Sprintf("memory budget %d MiB (intake, processing, composing), soft limit %d MiB; payload %s", budget>>20, limit>>20, mb(total)),
		ratio:   fmt.Sprintf("peak = %.2f× budget, %.2f× soft limit", float64(peak)/float64(budget), float64(peak)/float64(limit)),
		target:  "peak ≤ soft limit", met: metText(peak <= limit && ok == sessions)}
	if ferr != nil {
		x.postern += "; first error: " + errText(ferr)
	}
	r.add(x)
	return nil
}
