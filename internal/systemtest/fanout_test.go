package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/postern/postern/threads"
)

// received returns the messages the sink accepted for rcpt whose subject
// contains sub.
func (s *sink) received(t *testing.T, rcpt, sub string) []*mail.Reader {
	t.Helper()
	var out []*mail.Reader
	for _, m := range s.all() {
		if len(m.To) != 1 || m.To[0] != rcpt {
			continue
		}
		r, err := mail.CreateReader(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("message does not parse: %v", err)
		}
		if s, _ := r.Header.Subject(); strings.Contains(s, sub) {
			out = append(out, r)
		}
	}
	return out
}

// pauseNotify stops the notify queue from starting jobs, so that a test
// can look at (and change) what a fan-out enqueued before it is sent.
func pauseNotify(t *testing.T, a *app) {
	t.Helper()
	// The producer learns of the pause through the database; it reports
	// it as an event once it starts no more jobs.
	events, cancel := a.river.Subscribe(river.EventKindQueuePaused)
	defer cancel()
	if err := a.river.QueuePause(context.Background(), threads.QueueNotify, nil); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Queue != nil && e.Queue.Name == threads.QueueNotify {
				return
			}
		case <-timeout:
			t.Fatal("the notify queue did not report its pause within 20s")
		}
	}
}

func resumeNotify(t *testing.T, a *app) {
	t.Helper()
	if err := a.river.QueueResume(context.Background(), threads.QueueNotify, nil); err != nil {
		t.Fatal(err)
	}
}

// askQuestion has the confirmed member addr ask title with the client
// Message-ID clientID, waits for it to be processed, and returns the
// question's id and its notifications' ids, all still pending.
func askQuestion(t *testing.T, a *app, addr, title, clientID string) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	sendMail(t, a, addr, []string{"ask@forum.test"}, fmt.Sprintf("From: Alice <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: <%s>\n\nWhat about %s?\n", addr, title, clientID, title))
	waitProcessed(t, a)
	var post int64
	if err := a.pool.QueryRow(ctx, `SELECT post_id FROM inbound WHERE message_id = $1`, clientID).Scan(&post); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	var notPending int
	if err := a.pool.QueryRow(ctx, `SELECT array_agg(id ORDER BY id), count(*) FILTER (WHERE state <> 'pending') FROM notifications WHERE post_id = $1`, post).Scan(&ids, &notPending); err != nil {
		t.Fatal(err)
	}
	if notPending != 0 {
		t.Fatalf("%d notifications were handled although the notify queue is paused", notPending)
	}
	return post, ids
}

// personID returns the id of the person with address addr.
func personID(t *testing.T, a *app, addr string) int64 {
	t.Helper()
	var id int64
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM people WHERE address_hash = $1`, a.store.Keys().AddressHash(addr)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitSettled waits until no notification of post is pending.
func waitSettled(t *testing.T, a *app, post int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var pending int
		if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications WHERE post_id = $1 AND state = 'pending'`, post).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("notifications still pending after 30s")
}

// TestFanOutBatch sends one question's notifications as one batch job
// and checks that every recipient keeps the rules it had alone: a 5xx
// fails only its recipient (with a rejection recorded), a 4xx retries only
// its recipient (nobody else receives the mail twice), a muted and an
// unsubscribed follower get nothing, and only the asker's own mail carries
// the asker's client Message-ID.
func TestFanOutBatch(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()

	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Warm-up")
	followers := map[string]string{
		"ok1@example.org":    "sent",
		"ok2@example.org":    "sent",
		"reject@example.org": "failed",
		"grey@example.org":   "sent",
		"muted@example.org":  "cancelled",
		"unsub@example.org":  "cancelled",
	}
	for f := range followers {
		follow(t, a, relay, f)
	}
	waitProcessed(t, a)

	pauseNotify(t, a)
	const title = "Why do owls hoot at 4am"
	const clientID = "secret-client-id.1@alice.example"
	post, ids := askQuestion(t, a, alice, title, clientID)
	if len(ids) != len(followers)+1 {
		t.Fatalf("%d notifications for %d followers and the asker", len(ids), len(followers))
	}
	// One job carries them all.
	var jobs int
	var args []byte
	if err := a.pool.QueryRow(ctx, `SELECT count(*) OVER (), args FROM river_job WHERE kind = 'postern.notify' AND state = 'available' LIMIT 1`).Scan(&jobs, &args); err != nil {
		t.Fatal(err)
	}
	var na threads.NotifyArgs
	if err := json.Unmarshal(args, &na); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 || fmt.Sprint(na.IDs()) != fmt.Sprint(ids) {
		t.Fatalf("%d jobs, the first with %s: want one job with %v", jobs, args, ids)
	}

	// The skip rules are applied when sending: mute and unsubscribe now.
	if _, err := a.pool.Exec(ctx, `INSERT INTO mutes (person_id, question_id) VALUES ($1, $2)`, personID(t, a, "muted@example.org"), post); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `UPDATE people SET unsubscribed_at = now() WHERE id = $1`, personID(t, a, "unsub@example.org")); err != nil {
		t.Fatal(err)
	}
	relay.SetRcpt(func(rcpt string, n int) *smtp.SMTPError {
		switch {
		case rcpt == "reject@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
		case rcpt == "grey@example.org" && n == 1:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted, try again later"}
		}
		return nil
	})
	resumeNotify(t, a)
	waitSettled(t, a, post)

	for f, want := range followers {
		var state string
		if err := a.pool.QueryRow(ctx, `SELECT state FROM notifications WHERE post_id = $1 AND person_id = $2`, post, personID(t, a, f)).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != want {
			t.Errorf("%s: notification %s, want %s", f, state, want)
		}
		got := len(relay.received(t, f, title))
		if wantN := map[bool]int{true: 1, false: 0}[want == "sent"]; got != wantN {
			t.Errorf("%s received the question %d times, want %d", f, got, wantN)
		}
	}
	if n := relay.RcptCount("grey@example.org"); n != 2 {
		t.Errorf("the greylisted follower was tried %d times, want 2 (refused, then accepted on the retry)", n)
	}
	if n := relay.RcptCount("ok1@example.org"); n != 1 {
		t.Errorf("a follower sent to in the first attempt was tried %d times, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM bounces b JOIN notifications n ON n.id = b.notification_id
		WHERE n.post_id = $1 AND b.person_id = $2 AND b.hard`, post, personID(t, a, "reject@example.org")); n != 1 {
		t.Errorf("%d rejections recorded for the refused follower, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM bounces b JOIN notifications n ON n.id = b.notification_id WHERE n.post_id = $1`, post); n != 1 {
		t.Errorf("%d rejections recorded for the question, want 1", n)
	}

	// The asker's "posted" mail threads under their own message; nobody
	// else's mail names it.
	posted := relay.received(t, alice, title)
	if len(posted) != 1 {
		t.Fatalf("the asker received %d mails about the question, want 1", len(posted))
	}
	if refs := header(posted[0], "References"); !strings.Contains(refs, "<"+clientID+">") {
		t.Errorf("the asker's mail has References %q, without their client Message-ID", refs)
	}
	for _, m := range relay.all() {
		if len(m.To) == 1 && m.To[0] != alice && bytes.Contains(m.Data, []byte("secret-client-id")) {
			t.Errorf("mail to another recipient carries the asker's client Message-ID")
		}
	}
}

// TestOldFormatNotifyJob checks that a job enqueued before batching, with
// the single notification_id field, is still sent.
func TestOldFormatNotifyJob(t *testing.T) {
	t.Parallel()
	var old threads.NotifyArgs
	if err := json.Unmarshal([]byte(`{"notification_id": 42}`), &old); err != nil || fmt.Sprint(old.IDs()) != "[42]" {
		t.Fatalf("old job args decode to %v (%v), want [42]", old.IDs(), err)
	}

	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	const alice, bob = "alice@example.org", "bob@example.org"
	member(t, a, relay, alice, "Alice", "Warm-up")
	follow(t, a, relay, bob)
	waitProcessed(t, a)

	pauseNotify(t, a)
	const title = "An old job in the queue"
	post, ids := askQuestion(t, a, alice, title, "old-format.1@alice.example")
	// Replace the batch job by one old-format job per notification, as a
	// queue filled before the upgrade holds them.
	if _, err := a.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'postern.notify' AND state = 'available'`); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := a.pool.Exec(ctx, `INSERT INTO river_job (kind, queue, args, max_attempts, state, priority, scheduled_at)
			VALUES ('postern.notify', $1, jsonb_build_object('notification_id', $2::bigint), 25, 'available', 1, now())`, threads.QueueNotify, id); err != nil {
			t.Fatal(err)
		}
	}
	resumeNotify(t, a)
	waitSettled(t, a, post)
	for _, rcpt := range []string{alice, bob} {
		if n := len(relay.received(t, rcpt, title)); n != 1 {
			t.Errorf("%s received %d mails about the question, want 1", rcpt, n)
		}
	}
	if n := mtCount(t, a, `SELECT count(*) FROM notifications WHERE post_id = $1 AND state = 'sent'`, post); n != len(ids) {
		t.Errorf("%d of %d notifications sent", n, len(ids))
	}
}
