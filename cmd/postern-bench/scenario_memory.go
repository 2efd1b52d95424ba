package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/config"
)

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
				// SIZE, as MTAs (Postfix, Exim) declare it to a server that offers it.
				if err := c.Mail(m.from, &smtp.MailOptions{Size: int64(len(m.data))}); err != nil {
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
	if err := b.targetsIdle(ctx); err != nil {
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
		target:  goalBig, met: metText(bigMet(added, size))})

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
		target:  goalConcurrent, met: metText(concurrentMet(peak, ok, len(msgs)))}
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
