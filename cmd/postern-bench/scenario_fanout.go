package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
)

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
	return parallelRate(conc, count, func(left *atomic.Int64) error {
		for left.Add(-1) >= 0 && ctx.Err() == nil {
			if err := sendFresh(addr, next()); err != nil {
				return err
			}
		}
		return nil
	})
}

// keptRate sends count messages to addr on conc goroutines, each keeping
// one connection for all its messages and pipelining MAIL, RCPT and DATA
// (go-smtp's SendPipelined, as Postern's relay client does), and returns
// messages per second: the sink's own receive rate, the fan-out's ceiling.
func keptRate(ctx context.Context, addr string, conc, count int, next func() outMsg) (float64, error) {
	return parallelRate(conc, count, func(left *atomic.Int64) error { return sendKept(ctx, addr, left, next) })
}

// parallelRate runs send on conc goroutines sharing a counter of count
// messages left, and returns count per second of the whole run, or the
// first error.
func parallelRate(conc, count int, send func(left *atomic.Int64) error) (float64, error) {
	var left atomic.Int64
	left.Store(int64(count))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(&left); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(count) / time.Since(t0).Seconds(), nil
}

// sendKept sends messages over one connection to addr while left stays
// positive.
func sendKept(ctx context.Context, addr string, left *atomic.Int64, next func() outMsg) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return fmt.Errorf("send to %s: %w", addr, err)
	}
	defer c.Close()
	for left.Add(-1) >= 0 && ctx.Err() == nil {
		m := next()
		if err := c.SendPipelined(m.from, &smtp.MailOptions{Size: int64(len(m.data))}, m.rcpt[0], nil, m.data); err != nil {
			return fmt.Errorf("send to %s: %w", addr, err)
		}
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("send to %s: QUIT: %w", addr, err)
	}
	return nil
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
	ceilMsg := func() outMsg {
		m := b.gen.textReply("bounce@"+domain, "someone@followers.test", b.seq.Add(1), 3000)
		m.marker = ""
		return m
	}
	ceil, err := keptRate(ctx, b.sink.addr, b.opts.workers, n, ceilMsg)
	if err != nil {
		return fmt.Errorf("sink ceiling: %w", err)
	}
	// The former ceiling, a connection per message, for comparison.
	fresh, err := freshRate(ctx, b.sink.addr, b.opts.workers, min(n, 2000), ceilMsg)
	if err != nil {
		return fmt.Errorf("sink ceiling (fresh connections): %w", err)
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
	// The profile starts with the first notification at the sink (the
	// sending, not the fan-out transaction) and covers what 4,000/s
	// would take.
	for b.sink.seen(q.marker).n == 0 && ctx.Err() == nil && b.proc.alive() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	waitProf := b.startProfile(ctx, "fanout", max(2*time.Second, time.Duration(n)*time.Second/4000))
	t0 := res.ends[q.marker]
	deadline := time.Now().Add(max(5*time.Minute, time.Duration(n)*30*time.Millisecond))
	procTime, err := b.waitFanout(ctx, q.marker, startID, t0, deadline)
	if err != nil {
		return err
	}
	r.addProfile(ctx, fmt.Sprintf("Fan-out to %d followers", n), waitProf())
	a := b.sink.seen(q.marker)
	_, peak, err := b.proc.memory()
	if err != nil {
		return err
	}
	elapsed := a.last.Sub(t0)
	rate := float64(a.n) / elapsed.Seconds()
	sending := float64(a.n) / max(a.last.Sub(a.first), time.Millisecond).Seconds()
	r.add(row{scen: 4, name: "Fan-out", cas: fmt.Sprintf("1 question, %d followers", n),
		postern: fmt.Sprintf("%d notifications in %s = %.0f/s (first at %s: the fan-out transaction; processed_at says %s, its start; first to last: %.0f/s); peak RSS %s (idle %s)",
			a.n, elapsed.Round(time.Millisecond), rate, a.first.Sub(t0).Round(time.Millisecond), procTime.Round(time.Millisecond), sending, mb(peak), mb(rss0)),
		ceiling: fmt.Sprintf("sink %.0f msg/s (%d kept connections, pipelined; a connection per message: %.0f)", ceil, b.opts.workers, fresh),
		ratio:   pctOf(rate, ceil) + " of sink",
		target:  "≥ 0.8 of sink and RSS < 100 MB", met: metText(rate >= 0.8*ceil && peak < 100e6)})
	return b.waitIdle(ctx, 2*time.Minute)
}

// waitFanout waits until the sink has received every notification of the
// question marked marker (the first inbound message after startID, sent
// at t0), failing at deadline. The number expected is Postern's decision,
// read once the question is processed; it returns how long processing
// took by the inbound row's timestamps.
func (b *bench) waitFanout(ctx context.Context, marker string, startID int64, t0, deadline time.Time) (procTime time.Duration, err error) {
	var expected int64
	var postID *int64
	final := false // no fan-out step (threads.FanoutArgs) left: expected is the total
	for {
		if err := b.proc.alive(); err != nil {
			return 0, err
		}
		if postID == nil {
			var took float64
			err := b.pool.QueryRow(ctx, `SELECT post_id, coalesce(extract(epoch FROM processed_at - received_at)::float8, 0) FROM inbound WHERE id > $1 AND state <> 'accepted' ORDER BY id LIMIT 1`, startID).Scan(&postID, &took)
			if err == nil && postID == nil {
				return 0, errors.New("fan-out: the question did not become a post")
			}
			procTime = time.Duration(took * float64(time.Second))
		}
		if postID != nil && !final {
			// The steps' state is read before the count: with none left,
			// every step committed before the count is read.
			var steps bool
			if err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'postern.fanout' AND finalized_at IS NULL AND (args->>'post_id')::bigint = $1)`, *postID).Scan(&steps); err != nil {
				return 0, fmt.Errorf("fan-out steps: %w", err)
			}
			if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE post_id = $1`, *postID).Scan(&expected); err != nil {
				return 0, fmt.Errorf("count notifications: %w", err)
			}
			final = !steps
		}
		a := b.sink.seen(marker)
		if final && expected > 0 && int64(a.n) >= expected {
			return procTime, nil
		}
		if time.Now().After(deadline) {
			b.diagnose(ctx)
			return 0, fmt.Errorf("fan-out: %d of %d notifications arrived in %s", a.n, expected, time.Since(t0).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
