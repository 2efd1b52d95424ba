package drills

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/smtptest"
)

// load sends questions as an MTA would: each to one of the instances'
// SMTP addresses in turn, a 4xx or a dropped connection retried on the
// next one after a pause, a 5xx never retried (and counted: a drill
// expects none).
type load struct {
	name    string
	targets func() []string
	sent    atomic.Int64 // messages handed to the load (each once)
	ok      atomic.Int64 // 250s received
	temp    atomic.Int64 // 4xx replies and connection errors, retried
	perm    atomic.Int64 // 5xx replies
	gaveUp  atomic.Int64 // messages still refused when the load's time ran out
	mu      sync.Mutex
	okIDs   []string // Message-IDs answered 250
	done    atomic.Int64
	retryIn time.Duration
	pad     int             // bytes of incompressible text added to each body
	timed   bool            // keep each message's time to its 250 (lat)
	lat     []time.Duration // under mu
}

// messageID is the Message-ID of the load's message i.
func (l *load) messageID(i int) string { return fmt.Sprintf("drill-%s-%d@load.test", l.name, i) }

func (l *load) message(i int) smtptest.Mail {
	from := asker(i)
	raw := fmt.Sprintf("From: Asker %d <%s>\r\nTo: ask@%s\r\nMessage-ID: <%s>\r\nSubject: Drill question %d about sleeping well\r\n\r\nHow do I sleep well, take %d?\r\n%s",
		i%askers, from, Domain, l.messageID(i), i, i, padding(i, l.pad))
	return smtptest.Mail{From: from, To: []string{"ask@" + Domain}, Data: []byte(raw)}
}

// run sends n messages with conc senders and returns when every one got
// its 250 or a 5xx, or ctx ended (the rest counted as given up).
func (l *load) run(ctx context.Context, n, conc int) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l.send(ctx, i)
				l.done.Add(1)
			}
		}()
	}
	for i := range n {
		l.sent.Add(1)
		next <- i
	}
	close(next)
	wg.Wait()
}

// send delivers message i, retrying temporary failures until ctx ends.
func (l *load) send(ctx context.Context, i int) {
	m := l.message(i)
	began := time.Now()
	for attempt := 0; ; attempt++ {
		targets := l.targets()
		err := smtptest.Send(targets[(i+attempt)%len(targets)], m)
		code := smtptest.Code(err)
		switch {
		case err == nil:
			l.ok.Add(1)
			l.mu.Lock()
			l.okIDs = append(l.okIDs, l.messageID(i))
			if l.timed {
				l.lat = append(l.lat, time.Since(began))
			}
			l.mu.Unlock()
			return
		case code >= 500:
			l.perm.Add(1)
			return
		}
		l.temp.Add(1)
		select {
		case <-ctx.Done():
			l.gaveUp.Add(1)
			return
		case <-time.After(l.retryIn):
		}
	}
}

// accepted returns the Message-IDs answered 250.
func (l *load) accepted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.okIDs...)
}

// padding is n bytes of text that does not compress (lines of hex of a
// hash chain seeded by i), so each message takes its size on disk.
func padding(i, n int) string {
	var b strings.Builder
	h := sha256.Sum256([]byte(strconv.Itoa(i)))
	for b.Len() < n {
		h = sha256.Sum256(h[:])
		b.WriteString(hex.EncodeToString(h[:]))
		b.WriteString("\r\n")
	}
	return b.String()
}
