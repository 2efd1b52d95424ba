package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
)

// TestQuoteOnlyReplyIsEmpty checks issue 10 item 15: a reply whose only
// text is quoted lines, with or without an attribution, in a text or an
// HTML part, is an empty reply. It is not posted: the inbound message
// fails with the "nothing was left of your reply" reason, and its
// confirmed sender gets one rejection note saying so.
func TestQuoteOnlyReplyIsEmpty(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "asker@example.org", "Asker")
	q := deliver(t, st, "asker@example.org", []string{"ask@" + testDomain},
		"From: Asker <asker@example.org>\nTo: ask@forum.test\nSubject: How do I sleep better?\nMessage-ID: <q1@example.org>\n\nI wake up at 4am every night.\n")
	state, reason, qpost := inboundState(t, st, q)
	if state != threads.StateProcessed || qpost == 0 {
		t.Fatalf("question: %s %q", state, reason)
	}
	shapes := []struct{ name, ctype, body string }{
		{"quote only, no attribution", "text/plain", "> I wake up at 4am every night.\n> What helps?\n"},
		{"quote only with blank quoted lines", "text/plain", ">\n> I wake up at 4am every night.\n>\n\n\n"},
		{"nested quote only", "text/plain", "> > I wake up at 4am every night.\n> What helps?\n"},
		{"quote and a signature", "text/plain", "> I wake up at 4am every night.\n\n-- \nHelper\n"},
		{"quote and a device footer", "text/plain", "> I wake up at 4am every night.\n\nSent from my iPhone\n"},
		{"HTML blockquote only", "text/html", "<html><body><blockquote>I wake up at 4am every night.</blockquote></body></html>"},
	}
	for i, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			// One helper per shape: rejection notes are rate-limited per person.
			addr := fmt.Sprintf("helper%d@example.net", i)
			h := confirmedPerson(t, st, addr, "Helper")
			raw := fmt.Sprintf("From: Helper <%s>\nTo: x\nSubject: Re: How do I sleep better?\nMessage-ID: <r%d@example.net>\nContent-Type: %s; charset=utf-8\n\n%s",
				addr, i, sh.ctype, sh.body)
			rcpt := st.Addresses().Reply(qpost, h.ID, h.Epoch)
			id := deliver(t, st, addr, []string{rcpt}, strings.Replace(raw, "To: x", "To: "+rcpt, 1))
			state, reason, post := inboundState(t, st, id)
			if state != threads.StateFailed || !strings.Contains(reason, "nothing was left of your reply") || post != 0 {
				t.Fatalf("state %s, reason %q, post %d; want failed, \"nothing was left of your reply\", no post", state, reason, post)
			}
			var notes int
			err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE person_id = $1 AND kind = $2 AND note LIKE '%nothing was left of your reply%'`, h.ID, mailkind.Rejected).Scan(&notes)
			if err != nil {
				t.Fatal(err)
			}
			if notes != 1 {
				t.Errorf("%d rejection notes to the sender, want 1", notes)
			}
		})
	}
	th, err := st.GetThread(ctx, qpost)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Answers) != 0 {
		t.Errorf("the question got %d answers from quote-only replies, want none", len(th.Answers))
	}
}

// TestForwardAboveQuoteIsPosted checks the other shape of item 15: a
// forwarded message the writer placed above the quote is their content
// and is posted with their words; the quote under it is not.
func TestForwardAboveQuoteIsPosted(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "asker@example.org", "Asker")
	q := deliver(t, st, "asker@example.org", []string{"ask@" + testDomain},
		"From: Asker <asker@example.org>\nTo: ask@forum.test\nSubject: Sleep clinic?\nMessage-ID: <q2@example.org>\n\nWhere do I get a sleep test?\n")
	_, _, qpost := inboundState(t, st, q)
	h := confirmedPerson(t, st, "helper@example.net", "Helper")
	rcpt := st.Addresses().Reply(qpost, h.ID, h.Epoch)
	body := "My clinic sent me this:\n\n" +
		"---------- Weitergeleitete Nachricht ---------\nVon: Clinic <clinic@example.com>\nDate: Mo., 2. Jan. 2006 um 09:00 Uhr\nSubject: Termin\nTo: <helper@example.net>\n\n\n" +
		"Bring your sleep diary on Friday.\n\n" +
		"Am Mo., 2. Jan. 2006 um 15:04 Uhr schrieb Asker <asker@example.org>:\n\n> Where do I get a sleep test?\n"
	raw := "From: Helper <helper@example.net>\nTo: " + rcpt + "\nSubject: Re: Sleep clinic?\nMessage-ID: <r9@example.net>\n\n" + body
	id := deliver(t, st, "helper@example.net", []string{rcpt}, raw)
	state, reason, post := inboundState(t, st, id)
	if state != threads.StateProcessed || post == 0 {
		t.Fatalf("state %s, reason %q, post %d; want a post", state, reason, post)
	}
	th, err := st.GetThread(ctx, qpost)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Answers) != 1 {
		t.Fatalf("%d answers, want 1", len(th.Answers))
	}
	got := th.Answers[0].Body
	for _, want := range []string{"My clinic sent me this:", "Weitergeleitete Nachricht", "Subject: Termin", "Bring your sleep diary on Friday."} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "schrieb") || strings.Contains(got, "> Where do I get") {
		t.Errorf("answer keeps the quote:\n%s", got)
	}
}
