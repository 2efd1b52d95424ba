package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/threads"
)

// acceptAll accepts every message of raws concurrently, one goroutine
// each, and returns the results in order.
func acceptAll(t *testing.T, st *threads.Store, raws []string) ([]threads.Accepted, []error) {
	t.Helper()
	res := make([]threads.Accepted, len(raws))
	errs := make([]error, len(raws))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, raw := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res[i], errs[i] = st.Accept(ctx, threads.Envelope{MailFrom: "sender@example.org", Rcpt: []string{"ask@" + testDomain, "help@" + testDomain},
				RemoteAddr: "192.0.2.7:25", Source: threads.SourceSMTP}, []byte(raw))
		}()
	}
	close(start)
	wg.Wait()
	return res, errs
}

// groupMessage is the i-th message of a concurrent batch.
func groupMessage(i int) string {
	return fmt.Sprintf("From: s@example.org\r\nMessage-ID: <g%d@example.org>\r\nSubject: q %d\r\n\r\nbody %d\r\n", i, i, i)
}

// TestGroupCommittedMessagesProcess: each of many messages sent at once,
// stored through intake transactions shared by concurrent Accept calls,
// is processed (threads/groupcommit_test.go checks the rows and the
// sharing).
func TestGroupCommittedMessagesProcess(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	const n = 150
	raws := make([]string, n)
	for i := range raws {
		raws[i] = groupMessage(i)
	}
	// The last ten repeat the first ten, as in the threads test.
	copy(raws[n-10:], raws[:10])
	res, errs := acceptAll(t, st, raws)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
	}
	for i := range n - 10 {
		if err := Process(ctx, st, res[i].InboundID); err != nil {
			t.Fatal(err)
		}
		if state, reason, _ := inboundState(t, st, res[i].InboundID); state == threads.StateAccepted || state == threads.StateFailed {
			t.Fatalf("message %d processed to %s (%s)", i, state, reason)
		}
	}
}
