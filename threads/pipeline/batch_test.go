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

// TestBatchReplyChainInOneBatch: a question, an answer to it by its
// forum-less client Message-ID and a comment on that answer (by the
// answer's client Message-ID) in one batch, whose rows are written
// together when it finishes: each reply finds its parent, written
// earlier in the batch or still pending, and each notification is
// indexed, so a reply to it is routed to its post.
func TestBatchReplyChainInOneBatch(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	confirmedPerson(t, st, "bob@example.net", "Bob")
	items := []threads.ProcessItem{
		acceptItem(t, st, "alice@example.org", "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Chains?\r\nMessage-ID: <cq@x>\r\n\r\nHow long can a chain be?\r\n"),
		acceptItem(t, st, "bob@example.net", "From: <bob@example.net>\r\nTo: ask@forum.test\r\nSubject: Re: Chains?\r\nMessage-ID: <ca@x>\r\nIn-Reply-To: <cq@x>\r\n\r\nAs long as the batch.\r\n"),
		acceptItem(t, st, "alice@example.org", "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Re: Chains?\r\nMessage-ID: <cc@x>\r\nIn-Reply-To: <ca@x>\r\nReferences: <cq@x> <ca@x>\r\n\r\nThank you, that helps.\r\n"),
	}
	res, err := processItems(ctx, st, items, nil)
	if err != nil || len(res) != 3 {
		t.Fatalf("processItems: %v, %d results", err, len(res))
	}
	var posts [3]int64
	for i := range items {
		state, reason, post := inboundState(t, st, items[i].ID)
		if state != threads.StateProcessed || post == 0 {
			t.Fatalf("message %d: %s (%s), post %d", i, state, reason, post)
		}
		posts[i] = post
	}
	var kind string
	var question, parent int64
	if err := st.Pool().QueryRow(ctx, `SELECT kind, question_id, parent_id FROM posts WHERE id = $1`, posts[2]).Scan(&kind, &question, &parent); err != nil {
		t.Fatal(err)
	}
	if kind != string(threads.KindComment) || question != posts[0] || parent != posts[1] {
		t.Errorf("third message is a %s in question %d under %d, want a comment in %d under %d", kind, question, parent, posts[0], posts[1])
	}
	// Alice hears of Bob's answer, Bob of Alice's comment on it, each
	// notification under an indexed Message-ID of its post.
	for _, c := range []struct {
		post int64
		to   string
	}{{posts[1], "alice@example.org"}, {posts[2], "bob@example.net"}} {
		var n int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications n JOIN message_ids m ON m.message_id = n.message_id AND m.post_id = n.post_id AND m.recipient_id = n.person_id
			WHERE n.post_id = $1 AND m.direction = 'out'`, c.post).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("post %d: %d indexed notifications, want 1 (to %s)", c.post, n, c.to)
		}
	}
}

// TestBatchDuplicates: the same message listed twice in a job is
// processed once, and two messages claiming one client Message-ID in a
// batch (from two envelope senders) are both posted, the first keeping
// the Message-ID.
func TestBatchDuplicates(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	first := acceptItem(t, st, "alice@example.org", "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Twice?\r\nMessage-ID: <dup@x>\r\n\r\nThe first of two with one Message-ID.\r\n")
	// Another envelope sender: not the same message to intake.
	second := acceptItem(t, st, "relay@example.org", "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Twice again?\r\nMessage-ID: <dup@x>\r\n\r\nThe second of two with one Message-ID.\r\n")
	if first.ID == second.ID {
		t.Fatal("intake took the second message for the first")
	}
	res, err := processItems(ctx, st, []threads.ProcessItem{first, second, first}, nil)
	if err != nil || len(res) != 2 {
		t.Fatalf("processItems: %v, %d results, want 2", err, len(res))
	}
	_, _, p1 := inboundState(t, st, first.ID)
	state, reason, p2 := inboundState(t, st, second.ID)
	if p1 == 0 || p2 == 0 || p1 == p2 || state != threads.StateProcessed {
		t.Fatalf("posts %d and %d (second: %s, %s), want two", p1, p2, state, reason)
	}
	var owner int64
	if err := st.Pool().QueryRow(ctx, `SELECT post_id FROM message_ids WHERE direction = 'in' AND message_id = $1`, st.Keys().MessageIDHash("dup@x")).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if owner != p1 {
		t.Errorf("the client Message-ID is post %d's, want the first's (%d)", owner, p1)
	}
	var posts int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM posts WHERE author_id = (SELECT author_id FROM posts WHERE id = $1)`, p1).Scan(&posts); err != nil {
		t.Fatal(err)
	}
	if posts != 2 {
		t.Errorf("%d posts, want 2", posts)
	}
}

// TestBatchCountsItsOwnPosts: the hourly limit on questions counts the
// questions posted earlier in the same batch, written or pending.
func TestBatchCountsItsOwnPosts(t *testing.T) {
	st := newTestStoreWith(t, func(c *threads.Config) {
		c.Rates = threads.RateLimits{QuestionsPerPerson: 2, RepliesPerPerson: 10, QuestionsPerIP: 100, RepliesPerIP: 100}
	})
	ctx := context.Background()
	confirmedPerson(t, st, "alice@example.org", "Alice")
	var items []threads.ProcessItem
	for i := range 3 {
		items = append(items, acceptItem(t, st, "alice@example.org",
			"From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Limited "+string(rune('A'+i))+"\r\n\r\nOne of three questions in an hour.\r\n"))
	}
	if _, err := processItems(ctx, st, items, nil); err != nil {
		t.Fatal(err)
	}
	for i := range items {
		_, reason, post := inboundState(t, st, items[i].ID)
		if got, want := post != 0, i < 2; got != want {
			t.Errorf("message %d: post %d (%s), posted %v want %v", i, post, reason, got, want)
		}
	}
}
