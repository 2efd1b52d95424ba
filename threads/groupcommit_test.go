package threads

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// acceptAll accepts every message of raws concurrently, one goroutine
// each, and returns the results in order.
func acceptAll(t *testing.T, st *Store, raws []string) ([]Accepted, []error) {
	t.Helper()
	res := make([]Accepted, len(raws))
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
			res[i], errs[i] = st.Accept(ctx, Envelope{MailFrom: "sender@example.org", Rcpt: []string{"ask@" + testDomain, "help@" + testDomain},
				RemoteAddr: "192.0.2.7:25", Source: SourceSMTP}, []byte(raw))
		}()
	}
	close(start)
	wg.Wait()
	return res, errs
}

func groupMessage(i int) string {
	return fmt.Sprintf("From: s@example.org\r\nMessage-ID: <g%d@example.org>\r\nSubject: q %d\r\n\r\nbody %d\r\n", i, i, i)
}

// TestGroupCommitConcurrentAccepts sends many messages at once: each is
// stored once with its own processing job, concurrent copies of one
// message are one row, and the rows say what each caller sent (that each
// one processes is TestGroupCommittedMessagesProcess in threads/pipeline).
func TestGroupCommitConcurrentAccepts(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	const n = 150
	raws := make([]string, n)
	for i := range raws {
		raws[i] = groupMessage(i)
	}
	// The last ten repeat the first ten: a client retrying while its first
	// attempt is still committing.
	copy(raws[n-10:], raws[:10])
	res, errs := acceptAll(t, st, raws)
	ids := map[int64]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		ids[res[i].InboundID]++
	}
	if len(ids) != n-10 {
		t.Fatalf("%d distinct inbound ids, want %d", len(ids), n-10)
	}
	for i := range 10 {
		a, b := res[i], res[n-10+i]
		if a.InboundID != b.InboundID || a.Duplicate == b.Duplicate {
			t.Errorf("message %d sent twice: results %+v and %+v, want one id, one duplicate", i, a, b)
		}
	}
	var rows, jobs int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM inbound`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	// Each intake transaction enqueues one job for the rows it stored:
	// count the rows the jobs name, each once.
	if err := st.pool.QueryRow(ctx, `SELECT count(DISTINCT id) FROM (
			SELECT (args->>'inbound_id')::bigint AS id FROM river_job WHERE kind = 'postern.process' AND args ? 'inbound_id'
			UNION ALL SELECT (b->>'id')::bigint FROM river_job, jsonb_array_elements(args->'batch') b WHERE kind = 'postern.process'
		) j`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if c := st.group.commits.Load(); c >= int64(n) {
		t.Errorf("%d commits for %d concurrent messages: no transaction was shared", c, n)
	}
	if rows != n-10 || jobs != n-10 {
		t.Fatalf("%d inbound rows and %d rows in processing jobs, want %d of each", rows, jobs, n-10)
	}
	// Every row holds the message its caller sent, with its envelope.
	for i := range n - 10 {
		var rcpt []string
		var msgID string
		if err := st.pool.QueryRow(ctx, `SELECT message_id, rcpt FROM inbound WHERE id = $1`, res[i].InboundID).Scan(&msgID, &rcpt); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("g%d@example.org", i); msgID != want || strings.Join(rcpt, ",") != "ask@"+testDomain+",help@"+testDomain {
			t.Fatalf("row of message %d: message_id %q rcpt %v", i, msgID, rcpt)
		}
	}
}

// TestGroupCommitIsolatesRefusedRow makes the database refuse one row of
// a batch: only its sender gets an error, the others are stored.
func TestGroupCommitIsolatesRefusedRow(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	_, err := st.pool.Exec(ctx, `
		CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.message_id = 'g7@example.org' THEN RAISE EXCEPTION 'poison row'; END IF;
			PERFORM pg_sleep(0.01); -- keep transactions open so that batches form
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound FOR EACH ROW EXECUTE FUNCTION refuse_poison();`)
	if err != nil {
		t.Fatal(err)
	}
	raws := make([]string, 40)
	for i := range raws {
		raws[i] = groupMessage(i)
	}
	res, errs := acceptAll(t, st, raws)
	for i, err := range errs {
		if i == 7 {
			if err == nil {
				t.Errorf("poison message accepted as %d", res[i].InboundID)
			}
			continue
		}
		if err != nil {
			t.Errorf("message %d refused with its neighbour: %v", i, err)
		}
	}
	var rows int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM inbound`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 39 {
		t.Fatalf("%d rows stored, want 39", rows)
	}
	if st.group.shared.Load() == 0 {
		t.Errorf("no transaction held more than one row: the isolation path was not exercised")
	}
}

// TestIntakeBusy: the intake gauge is busy while Accept calls wait for
// their commit and for the gap after the last one returned, then idle.
func TestIntakeBusy(t *testing.T) {
	st := newTestStore(t)
	if st.IntakeBusy(time.Millisecond) {
		t.Fatal("busy before any message")
	}
	stop := make(chan struct{})
	seen := make(chan bool, 1)
	go func() {
		busy := false
		for {
			select {
			case <-stop:
				seen <- busy
				return
			default:
			}
			busy = busy || st.IntakeBusy(0)
		}
	}()
	raws := make([]string, 40)
	for i := range raws {
		raws[i] = groupMessage(1000 + i)
	}
	if _, errs := acceptAll(t, st, raws); errs[0] != nil {
		t.Fatalf("accept: %v", errs[0])
	}
	close(stop)
	if !<-seen {
		t.Error("never busy while 40 messages committed")
	}
	if !st.IntakeBusy(time.Minute) {
		t.Error("idle within the gap after the last accept")
	}
	time.Sleep(5 * time.Millisecond)
	if st.IntakeBusy(5 * time.Millisecond) {
		t.Error("busy after the gap with no accept waiting")
	}
}
