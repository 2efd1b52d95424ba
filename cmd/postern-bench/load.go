package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
)

// outMsg is one message to send: envelope, bytes and the marker its text
// carries ("" when none).
type outMsg struct {
	from   string
	rcpt   []string
	data   []byte
	marker string
}

// loadSpec describes one load run.
type loadSpec struct {
	addr  string
	conc  int           // client connections
	dur   time.Duration // stop starting messages after dur (0: no limit)
	count int64         // stop after count messages (0: no limit)
	rate  float64       // > 0: open loop, messages per second in total
	gate  func() bool   // when set and false, wait before the next message
	track bool          // record the end of DATA of each marker
	next  func() outMsg // the messages; called concurrently
}

// loadResult is what a load run measured.
type loadResult struct {
	ok, failed int64
	firstErr   error
	elapsed    time.Duration
	lat        []time.Duration // DATA phase: from DATA to the 250 after the final dot
	ends       map[string]time.Time
}

// rate is the messages answered 250 per second.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// drive runs spec against an SMTP server and waits for it to finish. Each
// client keeps its connection across messages, as an MTA with a
// connection cache does, and reconnects after an error.
func drive(ctx context.Context, spec loadSpec) loadResult {
	var (
		mu      sync.Mutex
		res     = loadResult{ends: map[string]time.Time{}}
		started atomic.Int64
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if spec.dur > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, spec.dur)
		defer c2()
	}
	var jobs chan struct{}
	if spec.rate > 0 {
		jobs = pace(ctx, spec)
	}
	t0 := time.Now()
	for w := 0; w < spec.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := driveClient(ctx, spec, jobs, &started)
			mu.Lock()
			defer mu.Unlock()
			res.ok += part.ok
			res.failed += part.failed
			res.firstErr = cmp(res.firstErr, part.firstErr)
			res.lat = append(res.lat, part.lat...)
			for k, v := range part.ends {
				res.ends[k] = v
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(t0)
	slices.Sort(res.lat)
	return res
}

// pace returns a channel that yields one token per message at spec.rate
// per second (spec.count of them when it is set) and is closed when they
// are all given or ctx ends.
func pace(ctx context.Context, spec loadSpec) chan struct{} {
	jobs := make(chan struct{}, spec.conc)
	go func() {
		defer close(jobs)
		t0 := time.Now()
		for k := 0; ; k++ {
			due := t0.Add(time.Duration(float64(k) / spec.rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			if spec.count > 0 && int64(k) >= spec.count {
				return
			}
			select {
			case jobs <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return jobs
}

// driveClient is one of drive's clients: it sends messages until ctx
// ends, jobs (when not nil) is closed, or started passes spec.count, and
// returns its own tally (elapsed is left zero).
func driveClient(ctx context.Context, spec loadSpec, jobs chan struct{}, started *atomic.Int64) loadResult {
	res := loadResult{lat: make([]time.Duration, 0, 1024), ends: map[string]time.Time{}}
	var c *smtp.Client
	defer func() {
		if c != nil {
			_ = c.Quit()
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		if jobs != nil {
			if _, more := <-jobs; !more {
				break
			}
		} else if spec.count > 0 && started.Add(1) > spec.count {
			break
		}
		for spec.gate != nil && !spec.gate() && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if ctx.Err() != nil {
			break
		}
		m := spec.next()
		if c == nil {
			var err error
			if c, err = smtp.Dial(spec.addr); err != nil {
				res.failed++
				res.firstErr = cmp(res.firstErr, err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		d, end, err := sendOne(c, m)
		if err != nil {
			res.failed++
			res.firstErr = cmp(res.firstErr, err)
			c.Close()
			c = nil
			continue
		}
		res.ok++
		res.lat = append(res.lat, d)
		if spec.track && m.marker != "" {
			res.ends[m.marker] = end
		}
	}
	return res
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// sendOne sends one message on c and returns the DATA-phase duration and
// the time the 250 arrived.
func sendOne(c *smtp.Client, m outMsg) (time.Duration, time.Time, error) {
	if err := c.Mail(m.from, nil); err != nil {
		return 0, time.Time{}, fmt.Errorf("MAIL: %w", err)
	}
	for _, r := range m.rcpt {
		if err := c.Rcpt(r, nil); err != nil {
			return 0, time.Time{}, fmt.Errorf("RCPT: %w", err)
		}
	}
	t0 := time.Now()
	w, err := c.Data()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(m.data); err != nil {
		return 0, time.Time{}, fmt.Errorf("DATA write: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, time.Time{}, fmt.Errorf("end of DATA: %w", err)
	}
	end := time.Now()
	return end.Sub(t0), end, nil
}

// sendFresh sends m over a new connection, as Postern's relay client does
// for each notification.
func sendFresh(addr string, m outMsg) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return fmt.Errorf("send to %s: %w", addr, err)
	}
	defer c.Close()
	if _, _, err := sendOne(c, m); err != nil {
		return fmt.Errorf("send to %s: %w", addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("send to %s: QUIT: %w", addr, err)
	}
	return nil
}

// commitResult is the PostgreSQL commit ceiling.
type commitResult struct {
	n       int64
	elapsed time.Duration
	lat     []time.Duration
}

func (r commitResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

// pgCommits measures PostgreSQL's single-row commit rate: conc sessions
// each inserting payload into one bytea row per transaction, for dur. The
// rows are deleted afterwards.
func pgCommits(ctx context.Context, pool *pgxpool.Pool, conc int, dur time.Duration, payload []byte) (commitResult, error) {
	var (
		mu       sync.Mutex
		res      commitResult
		firstErr error
		wg       sync.WaitGroup
	)
	rctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	t0 := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var err error
			for rctx.Err() == nil {
				s := time.Now()
				if _, err = pool.Exec(ctx, `INSERT INTO bench_ceiling (payload) VALUES ($1)`, payload); err != nil {
					break
				}
				lat = append(lat, time.Since(s))
			}
			mu.Lock()
			defer mu.Unlock()
			res.n += int64(len(lat))
			res.lat = append(res.lat, lat...)
			firstErr = cmp(firstErr, err)
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(t0)
	slices.Sort(res.lat)
	if firstErr != nil {
		return res, fmt.Errorf("commit ceiling: %w", firstErr)
	}
	if _, err := pool.Exec(ctx, `TRUNCATE bench_ceiling`); err != nil {
		return res, fmt.Errorf("commit ceiling: clean up: %w", err)
	}
	return res, nil
}

// pct returns the p-th percentile (0-100) of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %s", se.Code, se.Message)
	}
	return err.Error()
}
