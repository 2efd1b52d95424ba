package main

import (
	"context"
	"fmt"
	"sync"
	"time"
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
	if err := b.setupSend(ctx, "subscribe", b.gen.subscribe(b.replier, b.seq.Add(1))); err != nil {
		return err
	}
	if err := b.setupConfirm(ctx, b.replier); err != nil {
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
	if err := b.setupSend(ctx, "first question", ask()); err != nil {
		return err
	}
	if err := b.setupConfirm(ctx, b.asker); err != nil {
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
	err := b.setupWaitFor(ctx, "reply address for every question", func() bool {
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

// targetsIdle is ensureTargets, then a wait of up to two minutes for
// Postern to finish what earlier scenarios left queued.
func (b *bench) targetsIdle(ctx context.Context) error {
	if err := b.ensureTargets(ctx); err != nil {
		return err
	}
	return b.waitIdle(ctx, 2*time.Minute)
}

// setupSend sends the one set-up message m (what names it in errors) and
// fails unless Postern accepted it.
func (b *bench) setupSend(ctx context.Context, what string, m outMsg) error {
	res := drive(ctx, loadSpec{addr: b.proc.addr, conc: 1, count: 1, next: func() outMsg { return m }})
	if res.ok != 1 {
		return fmt.Errorf("set-up: %s: %s", what, errText(res.firstErr))
	}
	return nil
}

// setupWaitFor polls cond every 50 ms until it holds, failing after a
// minute (with a diagnosis logged), when Postern exits, or when ctx ends.
func (b *bench) setupWaitFor(ctx context.Context, what string, cond func() bool) error {
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

// setupConfirm waits for the confirmation request to who and answers it.
func (b *bench) setupConfirm(ctx context.Context, who string) error {
	if err := b.setupWaitFor(ctx, "confirmation request to "+who, func() bool { _, ok := b.sink.confirmAddress(who); return ok }); err != nil {
		return err
	}
	addr, _ := b.sink.confirmAddress(who)
	return b.setupSend(ctx, "confirm "+who, b.gen.confirmation(who, addr, b.seq.Add(1)))
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
