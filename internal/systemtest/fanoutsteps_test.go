package systemtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/threads"
)

// TestFanOutInSteps has a question's followers notified in steps
// (threads.FanoutArgs) and checks that each follower gets the question
// exactly once, also when the whole chain of steps runs again (as after a
// crash between a step's commit and its job's completion). Not parallel:
// it changes the step sizes, which every app of the package reads.
func TestFanOutInSteps(t *testing.T) {
	first, chunk := threads.FanoutFirst, threads.FanoutChunk
	threads.FanoutFirst, threads.FanoutChunk = 1, 2
	t.Cleanup(func() { threads.FanoutFirst, threads.FanoutChunk = first, chunk })
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()

	const alice = "alice@example.org"
	member(t, a, relay, alice, "Alice", "Warm-up")
	var followers []string
	for i := range 5 {
		f := fmt.Sprintf("step%d@example.org", i)
		follow(t, a, relay, f)
		followers = append(followers, f)
	}
	waitProcessed(t, a)
	const title = "Do herons sleep standing"
	sendMail(t, a, alice, []string{"ask@forum.test"}, fmt.Sprintf("From: Alice <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: <steps.1@alice.example>\n\nWhat about %s?\n", alice, title, title))
	waitProcessed(t, a)
	var post int64
	if err := a.pool.QueryRow(ctx, `SELECT post_id FROM inbound WHERE message_id = 'steps.1@alice.example'`).Scan(&post); err != nil {
		t.Fatal(err)
	}
	waitSteps(t, a, post)
	waitSettled(t, a, post)
	check := func(when string) {
		t.Helper()
		var n int
		if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE post_id = $1 AND state = 'sent'`, post).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(followers)+1 {
			t.Errorf("%s: %d notifications sent, want %d (followers and the asker)", when, n, len(followers)+1)
		}
		for _, f := range followers {
			if got := len(relay.received(t, f, title)); got != 1 {
				t.Errorf("%s: %s received the question %d times, want once", when, f, got)
			}
		}
	}
	check("after the steps")

	// The chain again from the start: the rows exist, nothing is added
	// or sent again.
	if _, err := a.river.Insert(ctx, threads.FanoutArgs{PostID: post}, nil); err != nil {
		t.Fatal(err)
	}
	waitSteps(t, a, post)
	waitSettled(t, a, post)
	check("after the steps ran again")
}

// waitSteps waits until no fan-out step of post is left.
func waitSteps(t *testing.T, a *app, post int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var left bool
		if err := a.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'postern.fanout' AND finalized_at IS NULL AND (args->>'post_id')::bigint = $1)`, post).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if !left {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("fan-out steps still waiting after 30s")
}
