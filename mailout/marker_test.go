package mailout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/threads"
)

// TestSentMarkerGroups: ids queued by many jobs at once are each written
// exactly once, by at most markInFlight writes at a time, in fewer writes
// than ids (group commits), and each job's groups report done.
func TestSentMarkerGroups(t *testing.T) {
	t.Parallel()
	var m sentMarker
	var mu sync.Mutex
	written := map[int64]int{}
	var writes, inFlight, maxInFlight atomic.Int64
	write := func(ids []int64) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := maxInFlight.Load()
			if n <= old || maxInFlight.CompareAndSwap(old, n) {
				break
			}
		}
		writes.Add(1)
		time.Sleep(2 * time.Millisecond) // a commit
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			written[id]++
		}
		return nil
	}
	const jobs, perJob = 8, 200
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var groups []*markGroup
			for i := range perJob {
				groups = append(groups, m.add(int64(j*perJob+i), write))
			}
			for _, g := range groups {
				<-g.done
				if g.err != nil {
					t.Errorf("group failed: %v", g.err)
				}
			}
		}()
	}
	wg.Wait()
	if len(written) != jobs*perJob {
		t.Errorf("%d ids written, want %d", len(written), jobs*perJob)
	}
	for id, n := range written {
		if n != 1 {
			t.Errorf("id %d written %d times", id, n)
		}
	}
	if n := maxInFlight.Load(); n > markInFlight {
		t.Errorf("%d writes at once, want at most %d", n, markInFlight)
	}
	if n := writes.Load(); n >= jobs*perJob/markGroupMin {
		t.Errorf("%d writes for %d ids: not grouped", n, jobs*perJob)
	}
}

// slowSentMarks makes every UPDATE of notifications take d in PostgreSQL,
// as on a loaded machine, so that the marks lag behind the relay.
func slowSentMarks(t *testing.T, st *threads.Store, d time.Duration) {
	t.Helper()
	_, err := st.Pool().Exec(context.Background(), fmt.Sprintf(`CREATE FUNCTION test_slow_marks() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(%f); RETURN NULL; END $$;
		CREATE TRIGGER test_slow_marks AFTER UPDATE ON notifications FOR EACH STATEMENT EXECUTE FUNCTION test_slow_marks()`, d.Seconds()))
	if err != nil {
		t.Fatal(err)
	}
}

// windowSender accepts messages like countingSender, fails with a network
// error at the failAt-th send (0: never), and records before each send how
// many of the messages it accepted are not marked sent in the database.
type windowSender struct {
	countingSender
	st       *threads.Store
	ids      []int64
	failAt   int
	accepted int
	maxOpen  int // most accepted and unmarked at the start of a send
}

func (s *windowSender) Send(ctx context.Context, from, rcpt string, msg []byte) error {
	var marked int
	if err := s.st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE id = ANY($1) AND state = 'sent'`, s.ids).Scan(&marked); err != nil {
		return err
	}
	s.maxOpen = max(s.maxOpen, s.accepted-marked)
	if s.failAt > 0 && s.accepted+1 == s.failAt {
		return errors.New("relay: connection reset (test)")
	}
	s.accepted++
	return s.countingSender.Send(ctx, from, rcpt, msg)
}

// TestMarkWindowAndRelayErrorMidBatch: with marks slower than the relay,
// a job never has markEvery or more accepted notifications unmarked when
// it starts a send (the crash window); a relay error in the middle of
// the batch leaves exactly the accepted ones marked sent and the rest
// pending, and the retry sends only the rest: each recipient once.
func TestMarkWindowAndRelayErrorMidBatch(t *testing.T) {
	t.Parallel()
	st := storetest.New(t, nil)
	const n, failAt = 20, 16 // 20: the questions per client IP and hour
	ids := pendingNotifications(t, st, n)
	slowSentMarks(t, st, 30*time.Millisecond)
	sender := &windowSender{countingSender: countingSender{sent: map[string]int{}}, st: st, ids: ids, failAt: failAt}
	w := newTestWorker(t, st, sender)
	ctx := context.Background()

	if err := w.Work(ctx, notifyJob(1, ids)); err == nil {
		t.Fatal("Work succeeded although the relay failed mid-batch")
	}
	if got := states(t, st); got["sent"] != failAt-1 || got["pending"] != n-failAt+1 {
		t.Errorf("after the relay error: states %v, want %d sent and %d pending", got, failAt-1, n-failAt+1)
	}
	if sender.maxOpen >= markEvery {
		t.Errorf("a send started with %d accepted notifications unmarked, want fewer than %d", sender.maxOpen, markEvery)
	}
	if sender.maxOpen < 2 {
		t.Errorf("at most %d accepted notifications were unmarked at a send: the marks did not run beside the sending", sender.maxOpen)
	}
	sender.failAt = 0
	if err := w.Work(ctx, notifyJob(2, ids)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := states(t, st); got["sent"] != n {
		t.Errorf("after the retry: states %v, want %d sent", got, n)
	}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.sent) != n {
		t.Errorf("%d recipients received mail, want %d", len(sender.sent), n)
	}
	for rcpt, k := range sender.sent {
		if k != 1 {
			t.Errorf("%s received %d messages, want 1", rcpt, k)
		}
	}
}

// TestConcurrentJobsShareMarks: jobs running at once on one worker share
// its marker; every notification is sent once and marked sent.
func TestConcurrentJobsShareMarks(t *testing.T) {
	t.Parallel()
	st := storetest.New(t, nil)
	const n, jobs = 12, 3
	ids := pendingNotifications(t, st, n)
	sender := &countingSender{sent: map[string]int{}}
	w := newTestWorker(t, st, sender)
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Work(context.Background(), notifyJob(1, ids[j*n/jobs:(j+1)*n/jobs])); err != nil {
				t.Errorf("job %d: %v", j, err)
			}
		}()
	}
	wg.Wait()
	if got := states(t, st); got["sent"] != n {
		t.Errorf("states %v, want %d sent", got, n)
	}
	if k := sender.total(); k != n || len(sender.sent) != n {
		t.Errorf("%d messages to %d recipients, want %d each once", k, len(sender.sent), n)
	}
}
