package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// webConns is the number of concurrent HTTP clients of scenario 8.
const webConns = 10

// scenarioWeb is scenario 8: a question page with its answers, requested
// by webConns clients at once, beside the ceiling of the same server
// serving its stylesheet (a static file from memory), in the same run.
func scenarioWeb(ctx context.Context, b *bench, r *report) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	// A page worth reading: the first question gets a few answers (run
	// alone, scenario 8 finds none from the earlier ones).
	for range 5 {
		if err := b.setupSend(ctx, "answer", b.gen.textReply(b.replier, b.targets[0], b.seq.Add(1), 1500)); err != nil {
			return err
		}
	}
	if err := b.waitIdle(ctx, 2*time.Minute); err != nil {
		return err
	}
	var id int64
	err := b.pool.QueryRow(ctx, `SELECT q.id FROM posts q WHERE q.kind = 'question' AND q.state = 'visible'
		ORDER BY (SELECT count(*) FROM posts a WHERE a.question_id = q.id) DESC, q.id LIMIT 1`).Scan(&id)
	if err != nil {
		return fmt.Errorf("a question to request: %w", err)
	}
	base := "http://" + b.httpAddr
	static := httpLoad(ctx, base+"/style.css", webConns, b.opts.ceilDur)
	page := httpLoad(ctx, fmt.Sprintf("%s/q/%d", base, id), webConns, b.opts.e2eDur/3)
	for _, l := range []httpResult{static, page} {
		if l.ok == 0 {
			return fmt.Errorf("web load: nothing answered 200: %s", errText(l.firstErr))
		}
	}
	x := row{scen: 8, name: "Web pages", cas: fmt.Sprintf("question page with %d answers, c=%d", b.answerCount(ctx, id), webConns),
		postern: fmt.Sprintf("%.0f req/s; p50 %s, p99 %s", page.rate(), ms(pct(page.lat, 50)), ms(pct(page.lat, 99))),
		ceiling: fmt.Sprintf("stylesheet %.0f req/s (p50 %s)", static.rate(), ms(pct(static.lat, 50))),
		ratio:   pctOf(page.rate(), static.rate()) + " of the stylesheet"}
	if page.failed > 0 {
		x.postern += fmt.Sprintf("; %d failed (%s)", page.failed, errText(page.firstErr))
	}
	r.add(x)
	return nil
}

// httpResult is what an HTTP load measured.
type httpResult struct {
	ok, failed int
	lat        []time.Duration // sorted
	dur        time.Duration
	firstErr   error
}

func (h httpResult) rate() float64 { return float64(h.ok) / h.dur.Seconds() }

// answerCount counts the answers of question id (for the case's name).
func (b *bench) answerCount(ctx context.Context, id int64) int {
	var n int
	_ = b.pool.QueryRow(ctx, `SELECT count(*) FROM posts WHERE question_id = $1 AND kind = 'answer'`, id).Scan(&n)
	return n
}

// httpLoad GETs url from conns clients for dur, each reading the whole
// body; a status other than 200 is a failure.
func httpLoad(ctx context.Context, url string, conns int, dur time.Duration) httpResult {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	res := httpResult{dur: dur}
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				err := getOnce(ctx, client, url)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.failed++
					if res.firstErr == nil {
						res.firstErr = err
					}
				} else {
					res.ok++
					res.lat = append(res.lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(res.lat)
	return res
}

func getOnce(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
