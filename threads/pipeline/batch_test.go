package pipeline

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/postern/postern/threads"
)

// acceptItem stores raw from mailFrom to ask@ (without processing it)
// and returns it as an item of a processing job.
func acceptItem(t *testing.T, st *threads.Store, mailFrom, raw string) threads.ProcessItem {
	t.Helper()
	res, err := st.Accept(context.Background(), threads.Envelope{MailFrom: mailFrom, Rcpt: []string{"ask@" + testDomain},
		RemoteAddr: "192.0.2.7:25", Source: threads.SourceSMTP}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return threads.ProcessItem{ID: res.InboundID, Size: int64(len(raw))}
}

// countNotifyJobs returns how many sending jobs are enqueued.
func countNotifyJobs(t *testing.T, st *threads.Store) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = $1`, threads.NotifyArgs{}.Kind()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchKeepsThreadOrder: a question and a reply to it (by
// In-Reply-To) processed in one batch: the reply, after its parent in the
// batch, is placed under it, and the notifications of the whole batch go
// out in one sending job.
func TestBatchKeepsThreadOrder(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	confirmedPerson(t, st, "bob@example.net", "Bob")
	items := []threads.ProcessItem{
		acceptItem(t, st, "alice@example.org", "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: How to batch?\r\nMessage-ID: <bq@x>\r\n\r\nHow do I batch writes?\r\n"),
		acceptItem(t, st, "bob@example.net", "From: <bob@example.net>\r\nTo: ask@forum.test\r\nSubject: Re: How to batch?\r\nMessage-ID: <ba@x>\r\nIn-Reply-To: <bq@x>\r\n\r\nWith unnest and one commit.\r\n"),
	}
	jobs := countNotifyJobs(t, st)
	res, err := processItems(ctx, st, items, nil)
	if err != nil || len(res) != 2 {
		t.Fatalf("processItems: %v, %d results", err, len(res))
	}
	_, _, qPost := inboundState(t, st, items[0].ID)
	state, reason, aPost := inboundState(t, st, items[1].ID)
	if state != threads.StateProcessed || aPost == 0 {
		t.Fatalf("reply: %s (%s), post %d", state, reason, aPost)
	}
	var question int64
	var kind string
	if err := st.Pool().QueryRow(ctx, `SELECT question_id, kind FROM posts WHERE id = $1`, aPost).Scan(&question, &kind); err != nil {
		t.Fatal(err)
	}
	if question != qPost || kind != string(threads.KindAnswer) {
		t.Errorf("reply is a %s in question %d, want an answer in %d", kind, question, qPost)
	}
	// The asker's "posted" confirmation and the answer's notification.
	if got := countNotifyJobs(t, st) - jobs; got != 1 {
		t.Errorf("%d sending jobs for the batch, want 1", got)
	}
}

// TestBatchMessageRefusedAlone: when the database refuses one message of
// a batch (here a trigger), the others are processed alone, and on the
// job's last attempt only the refused one is marked failed.
func TestBatchMessageRefusedAlone(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	if _, err := st.Pool().Exec(ctx, `CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.body LIKE '%REFUSE-ME%' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER test_refuse BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION test_refuse()`); err != nil {
		t.Fatal(err)
	}
	var items []threads.ProcessItem
	for i, body := range []string{"A first question, fine.", "REFUSE-ME please", "A third question, fine."} {
		items = append(items, acceptItem(t, st, "alice@example.org",
			"From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Question "+string(rune('A'+i))+"\r\n\r\n"+body+"\r\n"))
	}
	w := &ProcessWorker{Store: st}
	job := &river.Job[threads.ProcessArgs]{JobRow: &rivertype.JobRow{Attempt: 3, MaxAttempts: 3}, Args: threads.ProcessArgs{Batch: items}}
	if err := w.Work(ctx, job); err == nil {
		t.Error("Work: no error for the refused message")
	}
	for i, want := range []string{threads.StateProcessed, threads.StateFailed, threads.StateProcessed} {
		if state, reason, _ := inboundState(t, st, items[i].ID); state != want {
			t.Errorf("message %d: %s (%s), want %s", i, state, reason, want)
		}
	}
}

// countProcessJobs returns how many processing jobs are enqueued.
func countProcessJobs(t *testing.T, st *threads.Store) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = $1`, threads.ProcessArgs{}.Kind()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchTakesWaitingJobs: a job's batch takes over the processing
// jobs waiting in the queue: their messages are processed in it and the
// jobs are gone; a job already tried is left to River.
func TestBatchTakesWaitingJobs(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	var items []threads.ProcessItem
	for i := range 4 {
		items = append(items, acceptItem(t, st, "alice@example.org",
			"From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Waiting "+string(rune('A'+i))+"\r\n\r\nA question that waits in the queue.\r\n"))
	}
	if got := countProcessJobs(t, st); got != 4 {
		t.Fatalf("%d processing jobs, want 4", got)
	}
	// The last one was tried before: not taken.
	if _, err := st.Pool().Exec(ctx, `UPDATE river_job SET attempt = 1 WHERE kind = $1 AND (args->>'inbound_id')::bigint = $2`, threads.ProcessArgs{}.Kind(), items[3].ID); err != nil {
		t.Fatal(err)
	}
	// The first is the job being worked, as River marks it.
	if _, err := st.Pool().Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1 WHERE kind = $1 AND (args->>'inbound_id')::bigint = $2`, threads.ProcessArgs{}.Kind(), items[0].ID); err != nil {
		t.Fatal(err)
	}
	res, err := processItems(ctx, st, items[:1], nil)
	if err != nil || len(res) != 3 {
		t.Fatalf("processItems: %v, %d results, want 3", err, len(res))
	}
	for i, want := range []string{threads.StateProcessed, threads.StateProcessed, threads.StateProcessed, threads.StateAccepted} {
		if state, reason, _ := inboundState(t, st, items[i].ID); state != want {
			t.Errorf("message %d: %s (%s), want %s", i, state, reason, want)
		}
	}
	// Its own job (run by River in production) and the one tried before.
	if got := countProcessJobs(t, st); got != 2 {
		t.Errorf("%d processing jobs left, want 2", got)
	}
}
