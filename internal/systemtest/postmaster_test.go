package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

// transact is one SMTP or LMTP transaction as a sending MTA makes it: it
// returns the recipients accepted at RCPT (and delivered: an error is
// returned otherwise) and those deferred with a 4xx, to send again in a
// later transaction.
func transact(t *testing.T, addr string, lmtp bool, from string, to []string, raw string) (accepted, deferred []string) {
	t.Helper()
	c, err := smtptest.Dialer{LMTP: lmtp, Helo: "mx.example.net"}.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused, err := c.Transact(smtptest.Mail{From: from, To: to, Data: smtptest.CRLF(raw), Partial: true})
	for _, r := range to {
		switch rerr, ok := refused[r]; {
		case !ok:
			accepted = append(accepted, r)
		case smtptest.Code(rerr)/100 == 4:
			deferred = append(deferred, r)
		default:
			t.Fatalf("RCPT %s: %v", r, rerr)
		}
	}
	if err != nil {
		// Over LMTP an error unless every recipient got 250.
		t.Fatalf("DATA: %v", err)
	}
	return accepted, deferred
}

// deliver sends raw to every recipient the way a sending MTA does: the
// recipients deferred at RCPT go again in a later transaction.
func deliver(t *testing.T, addr string, lmtp bool, from string, to []string, raw string) (transactions int) {
	t.Helper()
	for len(to) > 0 {
		_, deferred := transact(t, addr, lmtp, from, to, raw)
		if len(deferred) == len(to) {
			t.Fatalf("every recipient deferred: %v", to)
		}
		to, transactions = deferred, transactions+1
	}
	return transactions
}

// TestEveryAcceptedRecipientGetsItsAction: a message to ask@ and
// subscribe@ is answered 250 only for recipients whose action happens; the
// other one is deferred (452 4.5.3) and, sent again alone, gets its own
// action: the question is posted (held until confirmed) and the follow is
// recorded, over SMTP and LMTP (issue 10 #11).
func TestEveryAcceptedRecipientGetsItsAction(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	for i, lmtp := range []bool{false, true} {
		addr := a.smtpAddr.String()
		if lmtp {
			addr = a.lmtpAddr.String()
		}
		from := fmt.Sprintf("both%d@example.org", i)
		mid := fmt.Sprintf("both-msg%d@client.test", i)
		raw := "From: Both <" + from + ">\nTo: ask@forum.test, subscribe@forum.test\nSubject: Can I ask and follow?\nMessage-ID: <" + mid + ">\n\nI would like to ask and to follow the forum.\n"
		if n := deliver(t, addr, lmtp, from, []string{"ask@forum.test", "subscribe@forum.test"}, raw); n != 2 {
			t.Errorf("lmtp=%v: %d transactions, want 2 (one per action)", lmtp, n)
		}
		waitProcessed(t, a)
		person := personID(t, a, from)
		if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE author_id = $1 AND kind = 'question'`, person); n != 1 {
			t.Errorf("lmtp=%v: %d questions, want 1", lmtp, n)
		}
		if n := mtCount(t, a, `SELECT count(*) FROM subscriptions WHERE person_id = $1 AND scope = 'all'`, person); n != 1 {
			t.Errorf("lmtp=%v: %d follows, want 1", lmtp, n)
		}
		if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE message_id = $1`, mid); n != 2 {
			t.Errorf("lmtp=%v: %d inbound rows, want 2 (the retry is not a duplicate)", lmtp, n)
		}
	}
}

// TestReplyAllIsOnePost: a reply to its reply+TOKEN address and to
// notifications@ (a client's "reply all") is one transaction and one
// reply, as before the one-action rule.
func TestReplyAllIsOnePost(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	const asker = "asker@example.org"
	q := mtAskConfirmed(t, a, relay, asker, "Asker", "Naps", "Are naps good?")
	person := personID(t, a, asker)
	epoch := int64(mtCount(t, a, `SELECT token_epoch::int FROM people WHERE id = $1`, person))
	to := []string{a.store.Addresses().Reply(q, person, epoch), "notifications@forum.test"}
	raw := "From: Asker <" + asker + ">\nSubject: Re: Naps\nMessage-ID: <replyall@client.test>\n\nShort ones, I mean.\n"
	if n := deliver(t, a.smtpAddr.String(), false, asker, to, raw); n != 1 {
		t.Errorf("%d transactions for a reply-all, want 1", n)
	}
	waitProcessed(t, a)
	if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE question_id = $1 AND kind <> 'question'`, q); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

// TestPostmasterMail: postmaster@, abuse@ and <Postmaster> are accepted
// over SMTP and LMTP, stored, never posted nor answered, listed for the
// operators and forwarded to the postmaster address; they count for no
// rate limit (issue 10 #7).
func TestPostmasterMail(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, _ := testAppWith(t, relay, func(c *Config) { c.Forum.PostmasterAddress = "ops@operator.test" })
	ctx := context.Background()
	const from = "stranger@example.org"
	rcpts := []struct {
		to   string
		lmtp bool
	}{
		{"postmaster@forum.test", false}, {"abuse@forum.test", false}, {"Postmaster", false},
		{"POSTMASTER@Forum.Test", true}, {"Abuse@forum.test", true}, {"postmaster", true},
	}
	for i, r := range rcpts {
		addr := a.smtpAddr.String()
		if r.lmtp {
			addr = a.lmtpAddr.String()
		}
		raw := fmt.Sprintf("From: Stranger <%s>\nTo: %s\nSubject: Your server sends spam\nMessage-ID: <pm%d@example.org>\n\nPlease look at this, postmaster.\n", from, r.to, i)
		if acc, def := transact(t, addr, r.lmtp, from, []string{r.to}, raw); len(acc) != 1 || len(def) != 0 {
			t.Fatalf("%s (lmtp=%v): accepted %v, deferred %v", r.to, r.lmtp, acc, def)
		}
	}
	// Far past the hourly limits of one sender and one address.
	for i := 0; i < 50; i++ {
		sendMail(t, a, from, []string{"abuse@forum.test"}, fmt.Sprintf("From: <%s>\nSubject: again\nMessage-ID: <pmx%d@example.org>\n\nagain\n", from, i))
	}
	for i := range rcpts {
		relay.waitFor(t, "ops@operator.test", containing(fmt.Sprintf("<pm%d@example.org>", i)))
	}
	waitDrained(t, a)
	if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE state = 'processed' AND reason = $1 AND post_id IS NULL AND sender_id IS NULL`, pipeline.ReasonPostmasterForwarded); n != len(rcpts)+50 {
		t.Errorf("%d messages kept and forwarded for the postmaster, want %d", n, len(rcpts)+50)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM posts`) + mtCount(t, a, `SELECT count(*) FROM people`); n != 0 {
		t.Errorf("postmaster mail made %d posts and people", n)
	}
	for _, m := range relay.all() {
		if len(m.To) != 1 || m.To[0] != "ops@operator.test" {
			t.Errorf("mail sent to %v: postmaster mail must not be answered", m.To)
		}
		if m.From != "notifications@forum.test" {
			t.Errorf("forward's envelope sender %q", m.From)
		}
	}
	if limited, err := a.store.RateLimited(ctx, from, "127.0.0.1:1", threads.RcptNotify); err != nil || limited {
		t.Errorf("postmaster mail counted for the reply limits: %v, %v", limited, err)
	}
	if limited, err := a.store.RateLimited(ctx, from, "127.0.0.1:1", threads.RcptAsk); err != nil || limited {
		t.Errorf("postmaster mail counted for the question limits: %v, %v", limited, err)
	}
	var out, errb bytes.Buffer
	if err := runCLI(t, ctx, []string{"inbound", "list", "--database-url", a.cfg.Store.DatabaseURL, "--domain", "forum.test"}, &out, &errb); err != nil {
		t.Fatalf("inbound list: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "for the postmaster") || strings.Contains(out.String(), "@example.org") {
		t.Errorf("inbound list:\n%s", out.String())
	}
}

// TestPostmasterMailKeptWithoutAddress: with no postmaster address the
// mail is kept, with its reason, and nothing is sent.
func TestPostmasterMailKeptWithoutAddress(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	sendMail(t, a, "stranger@example.org", []string{"postmaster@forum.test"}, "From: <stranger@example.org>\nSubject: hi\nMessage-ID: <keep@example.org>\n\nhello\n")
	waitDrained(t, a)
	state, reason, post := mtOutcome(t, a, "keep@example.org")
	if state != threads.StateProcessed || reason != pipeline.ReasonPostmasterKept || post != 0 {
		t.Errorf("postmaster mail: %s %q post %d", state, reason, post)
	}
	if n := len(relay.all()); n != 0 {
		t.Errorf("%d mails sent", n)
	}
}
