package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/threads/token"
)

// TestStoppedAllNoMailWithoutEvidence: once a member has stopped all
// mail, a forged question or follow under their address (no evidence)
// sends them nothing; the inbound reason says why and names no address.
func TestStoppedAllNoMailWithoutEvidence(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	if _, err := st.Pool().Exec(ctx, `UPDATE people SET unsubscribed_at = now() WHERE id = $1`, alice.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ rcpt, subject string }{
		{"ask@" + testDomain, "Forged question"},
		{"subscribe@" + testDomain, "follow"},
	}
	for _, tc := range cases {
		id := deliverFrom(t, st, "203.0.113.5:25", "mallory@evil.example", []string{tc.rcpt},
			"From: Alice <alice@example.org>\r\nSubject: "+tc.subject+"\r\nMessage-ID: <"+tc.subject[:3]+"@evil.example>\r\n\r\nText.\r\n")
		_, reason, _ := inboundState(t, st, id)
		if !strings.Contains(reason, "stopped all mail") || strings.Contains(reason, "@") {
			t.Errorf("%s: reason %q, want it to say the address stopped all mail (no address)", tc.rcpt, reason)
		}
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE person_id = $1`, alice.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d notifications to a member who stopped all mail, want 0", n)
	}
}

// TestStopAfterStopAllSendsNothing: a stop from a member who has stopped
// all mail already changes nothing and sends no notice, forged or not.
func TestStopAfterStopAllSendsNothing(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	if _, err := st.Pool().Exec(ctx, `UPDATE people SET unsubscribed_at = now() WHERE id = $1`, alice.ID); err != nil {
		t.Fatal(err)
	}
	for i, remote := range []string{"203.0.113.5:25", "127.0.0.1:25"} {
		id := deliverFrom(t, st, remote, "alice@example.org", []string{"unsubscribe@" + testDomain},
			"From: Alice <alice@example.org>\r\nSubject: stop\r\nMessage-ID: <stop"+string(rune('0'+i))+"@example.org>\r\n\r\nstop\r\n")
		if _, reason, _ := inboundState(t, st, id); !strings.Contains(reason, "nothing changed") {
			t.Errorf("%s: reason %q, want it to say nothing changed", remote, reason)
		}
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM notifications WHERE person_id = $1`, alice.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d notices for stops that changed nothing, want 0", n)
	}
}

// TestConfirmUpdatesInboundReason: once confirming publishes a held post,
// its inbound row no longer says it is held.
func TestConfirmUpdatesInboundReason(t *testing.T) {
	st := newTestStore(t)
	id := deliverFrom(t, st, "203.0.113.5:25", "new@example.org", []string{"ask@" + testDomain},
		"From: New <new@example.org>\r\nSubject: A question\r\nMessage-ID: <q1@example.org>\r\n\r\nText.\r\n")
	if _, reason, _ := inboundState(t, st, id); !strings.Contains(reason, "held") {
		t.Fatalf("reason %q, want held", reason)
	}
	var person, epoch int64
	if err := st.Pool().QueryRow(context.Background(), `SELECT id, token_epoch FROM people WHERE display_name = 'New'`).Scan(&person, &epoch); err != nil {
		t.Fatal(err)
	}
	cid := deliverFrom(t, st, "203.0.113.5:25", "new@example.org", []string{"confirm+" + st.Addresses().ConfirmToken(token.Confirm, 0, person, epoch) + "@" + testDomain},
		"From: New <new@example.org>\r\nSubject: Re: confirm\r\nMessage-ID: <c1@example.org>\r\n\r\nyes\r\n")
	if _, cr, _ := inboundState(t, st, cid); !strings.Contains(cr, "confirmed") {
		t.Fatalf("confirmation: %q", cr)
	}
	if _, reason, _ := inboundState(t, st, id); reason != "published after the sender confirmed" {
		t.Errorf("reason after confirming %q, want published after the sender confirmed", reason)
	}
}
