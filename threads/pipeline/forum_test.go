package pipeline

import (
	"context"
	"fmt"
	"testing"

	"github.com/postern/postern/threads"
)

// TestNotifyPreferences: "notify answers off" stops mail about comments on
// the person's answers (Question2Answer's "email me if my answer is
// selected or commented on"); "on" brings it back.
func TestNotifyPreferences(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	bob := confirmedPerson(t, st, "bob@example.net", "Bob")
	n := 0
	send := func(from threads.Person, addr, rcpt, body string) int64 {
		n++
		id := deliver(t, st, addr, []string{rcpt}, fmt.Sprintf("From: <%s>\r\nTo: %s\r\nSubject: s\r\nMessage-ID: <m%d@x.example>\r\n\r\n%s\r\n", addr, rcpt, n, body))
		state, reason, post := inboundState(t, st, id)
		if state != threads.StateProcessed {
			t.Fatalf("message %d: %s %s", n, state, reason)
		}
		return post
	}
	q := send(alice, "alice@example.org", "ask@forum.test", "How?")
	ans := send(bob, "bob@example.net", st.Addresses().Reply(q, bob.ID, bob.Epoch), "Like this.")
	comments := func() int {
		var c int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE person_id = $1 AND kind = 'comment'`, bob.ID).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	send(bob, "bob@example.net", st.Addresses().Reply(ans, bob.ID, bob.Epoch), "notify answers off")
	send(alice, "alice@example.org", st.Addresses().Reply(ans, alice.ID, alice.Epoch), "Thanks!")
	if c := comments(); c != 0 {
		t.Fatalf("bob was notified of a comment on his answer after \"notify answers off\" (%d)", c)
	}
	send(bob, "bob@example.net", st.Addresses().Reply(ans, bob.ID, bob.Epoch), "notify answers on")
	send(alice, "alice@example.org", st.Addresses().Reply(ans, alice.ID, alice.Epoch), "One more thing.")
	if c := comments(); c != 1 {
		t.Fatalf("after \"notify answers on\": %d comment notifications, want 1", c)
	}
}

// TestAskerReplyIsComment: the asker replying in their own thread adds a
// comment to the question; anyone else's reply is an answer.
func TestAskerReplyIsComment(t *testing.T) {
	st := newTestStore(t)
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	bob := confirmedPerson(t, st, "bob@example.net", "Bob")
	q := deliver(t, st, "alice@example.org", []string{"ask@forum.test"}, "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Q\r\nMessage-ID: <q@x>\r\n\r\nHow?\r\n")
	_, _, qid := inboundState(t, st, q)
	a := deliver(t, st, "alice@example.org", []string{st.Addresses().Reply(qid, alice.ID, alice.Epoch)}, "From: <alice@example.org>\r\nTo: x\r\nSubject: Re\r\nMessage-ID: <c@x>\r\n\r\nMore detail: it started in May.\r\n")
	b := deliver(t, st, "bob@example.net", []string{st.Addresses().Reply(qid, bob.ID, bob.Epoch)}, "From: <bob@example.net>\r\nTo: x\r\nSubject: Re\r\nMessage-ID: <a@x>\r\n\r\nTry this.\r\n")
	for id, want := range map[int64]string{a: "comment", b: "answer"} {
		_, _, post := inboundState(t, st, id)
		var kind string
		if err := st.Pool().QueryRow(context.Background(), `SELECT kind FROM posts WHERE id = $1`, post).Scan(&kind); err != nil || kind != want {
			t.Errorf("post %d kind %q (%v), want %s", post, kind, err, want)
		}
	}
}
