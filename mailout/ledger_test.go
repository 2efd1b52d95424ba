package mailout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

// countingSender accepts every message and counts them by recipient.
type countingSender struct {
	mu   sync.Mutex
	sent map[string]int
}

func (c *countingSender) Send(_ context.Context, _, rcpt string, _ []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[rcpt]++
	return nil
}

func (c *countingSender) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.sent {
		n += v
	}
	return n
}

// refuseSentMarks makes every UPDATE that marks a notification sent fail
// in PostgreSQL, as when the database stops answering after the relay
// accepted the message; the returned function lifts it.
func refuseSentMarks(t *testing.T, st *threads.Store) (lift func()) {
	t.Helper()
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `CREATE FUNCTION test_refuse_sent() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.state = 'sent' THEN RAISE EXCEPTION 'database unavailable (test)'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER test_refuse_sent BEFORE UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION test_refuse_sent()`)
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, `DROP TRIGGER test_refuse_sent ON notifications; DROP FUNCTION test_refuse_sent()`); err != nil {
			t.Fatal(err)
		}
	}
}

// pendingNotifications asks n questions from trusted senders (each gets
// its "posted" notification) and returns the pending notification ids.
func pendingNotifications(t *testing.T, st *threads.Store, n int) []int64 {
	t.Helper()
	for i := range n {
		from := fmt.Sprintf("asker%d@example.org", i)
		raw := fmt.Sprintf("From: Asker %d <%s>\r\nTo: ask@%s\r\nMessage-ID: <q%d@example.org>\r\nSubject: Question number %d about sleep\r\n\r\nHow do I sleep better, take %d?\r\n",
			i, from, storetest.Domain, i, i, i)
		storetest.Deliver(t, st, pipeline.Process, from, []string{"ask@" + storetest.Domain}, raw)
	}
	rows, err := st.Pool().Query(context.Background(), `SELECT id FROM notifications WHERE state = 'pending' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != n {
		t.Fatalf("%d pending notifications, want %d", len(ids), n)
	}
	return ids
}

func states(t *testing.T, st *threads.Store) map[string]int {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT state, count(*) FROM notifications GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func newTestWorker(t *testing.T, st *threads.Store, s Sender) *NotifyWorker {
	t.Helper()
	tmpl, err := templates.New()
	if err != nil {
		t.Fatal(err)
	}
	return &NotifyWorker{Store: st, Templates: tmpl, Sender: s, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func notifyJob(attempt int, ids []int64) *river.Job[threads.NotifyArgs] {
	return &river.Job[threads.NotifyArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: attempt}, Args: threads.NotifyArgs{NotificationIDs: ids}}
}

// TestSentMarkLostIsNotResent: notifications the relay accepted whose
// "sent" mark cannot be written (the database down) are not sent again by
// the job's retries while the database is still down, nor after it
// answers again; the retry writes the mark.
func TestSentMarkLostIsNotResent(t *testing.T) {
	st := storetest.New(t, nil)
	ids := pendingNotifications(t, st, 3)
	sender := &countingSender{sent: map[string]int{}}
	w := newTestWorker(t, st, sender)
	ctx := context.Background()

	lift := refuseSentMarks(t, st)
	if err := w.Work(ctx, notifyJob(1, ids)); err == nil {
		t.Fatal("Work succeeded although the sent marks could not be written")
	}
	if n := sender.total(); n != 3 {
		t.Fatalf("first attempt sent %d messages, want 3", n)
	}
	// A retry while the database still refuses: nothing sent again.
	if err := w.Work(ctx, notifyJob(2, ids)); err == nil {
		t.Fatal("second attempt succeeded although the sent marks could not be written")
	}
	if n := sender.total(); n != 3 {
		t.Fatalf("a retry during the outage sent %d messages in all, want 3", n)
	}
	lift()
	if err := w.Work(ctx, notifyJob(3, ids)); err != nil {
		t.Fatalf("retry after the outage: %v", err)
	}
	if n := sender.total(); n != 3 {
		t.Errorf("after the outage %d messages were sent in all, want 3 (each once)", n)
	}
	if got := states(t, st); got["sent"] != 3 || got["pending"] != 0 {
		t.Errorf("notification states %v, want 3 sent", got)
	}
}

// TestFlushSentMarksWithoutAJob: once the database answers, FlushSent
// (the app's timer) writes the remembered marks with no job running, and
// a later job finds nothing to send.
func TestFlushSentMarksWithoutAJob(t *testing.T) {
	st := storetest.New(t, nil)
	ids := pendingNotifications(t, st, 2)
	sender := &countingSender{sent: map[string]int{}}
	w := newTestWorker(t, st, sender)
	ctx := context.Background()

	lift := refuseSentMarks(t, st)
	if err := w.Work(ctx, notifyJob(1, ids)); err == nil {
		t.Fatal("Work succeeded although the sent marks could not be written")
	}
	if _, err := w.FlushSent(ctx); err == nil {
		t.Fatal("FlushSent succeeded during the outage")
	}
	lift()
	n, err := w.FlushSent(ctx)
	if err != nil || n != 2 {
		t.Fatalf("FlushSent after the outage = %d, %v; want 2 marked", n, err)
	}
	if got := states(t, st); got["sent"] != 2 {
		t.Errorf("notification states %v, want 2 sent", got)
	}
	if err := w.Work(ctx, notifyJob(2, ids)); err != nil {
		t.Fatal(err)
	}
	if n := sender.total(); n != 2 {
		t.Errorf("%d messages sent in all, want 2 (each once)", n)
	}
}
