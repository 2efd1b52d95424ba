package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

func bodyText(t *testing.T, r *mail.Reader) (text, html string) {
	t.Helper()
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		b, _ := io.ReadAll(p.Body)
		ct := p.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "text/html") {
			html = string(b)
		} else {
			text = string(b)
		}
	}
}

// TestCoreLoop drives the whole loop over real sockets: bob follows the
// forum, alice asks, bob answers from a client that quotes the question
// and replies to the From address, alice is notified in her own thread and
// comments, bob is notified.
func TestCoreLoop(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()

	// bob follows the forum.
	sendMail(t, a, "bob@example.net", []string{"subscribe@forum.test"}, `From: Bob Baker <bob@example.net>
To: subscribe@forum.test
Subject: subscribe
Message-ID: <sub-1@mail.example.net>

subscribe
`)
	// Double opt-in: bob confirms by replying to the request.
	conf, _ := relay.waitFor(t, "bob@example.net", subjectHas("Please confirm"))
	sendMail(t, a, "bob@example.net", []string{strings.Trim(header(conf, "Reply-To"), "<>")}, `From: Bob Baker <bob@example.net>
To: confirm@forum.test
Subject: Re: Please confirm
Message-ID: <sub-2@mail.example.net>

yes
`)
	waitProcessed(t, a)

	// alice asks.
	sendMail(t, a, "alice@example.org", []string{"ask@forum.test"}, `From: Alice Adams <alice@example.org>
To: ask@forum.test
Subject: How do I stop waking up at 4am?
Message-ID: <alice-q1@laptop.example.org>
Date: Tue, 24 Nov 2026 21:00:00 +0100

Every night I wake up at 4am and cannot fall asleep again.
What has helped you?

Alice
`)

	// alice writes for the first time: her question is held until she
	// confirms, by replying to the request (to its From address, as many
	// clients do, with In-Reply-To).
	waitProcessed(t, a)
	if qs, _ := a.store.ListQuestions(ctx, 10); len(qs) != 0 {
		t.Fatalf("unconfirmed question is visible: %+v", qs)
	}
	creq, _ := relay.waitFor(t, "alice@example.org", subjectHas("Please confirm your message"))
	if got := header(creq, "In-Reply-To"); got != "<alice-q1@laptop.example.org>" {
		t.Errorf("confirmation request In-Reply-To = %q", got)
	}
	sendMail(t, a, "alice@example.org", []string{mustFrom(t, creq)}, fmt.Sprintf(`From: Alice Adams <alice@example.org>
To: %s
Subject: Re: Please confirm
Message-ID: <alice-conf@laptop.example.org>
In-Reply-To: %s

ok
`, mustFrom(t, creq), header(creq, "Message-Id")))

	// alice's "your question is posted" threads under her own message.
	posted, _ := relay.waitFor(t, "alice@example.org", subjectHas("How do I stop waking up"))
	if got := header(posted, "In-Reply-To"); got != "<alice-q1@laptop.example.org>" {
		t.Errorf("posted confirmation In-Reply-To = %q, want alice's Message-ID", got)
	}

	// bob, a follower, receives the question.
	newQ, newQRaw := relay.waitFor(t, "bob@example.net", subjectHas("How do I stop waking up"))
	newQID := header(newQ, "Message-Id")
	if newQID == "" || strings.Contains(newQID, "example.org") {
		t.Fatalf("new-question Message-ID %q", newQID)
	}
	if bytes.Contains(newQRaw, []byte("alice@example.org")) || bytes.Contains(newQRaw, []byte("alice-q1")) {
		t.Fatalf("bob's copy leaks alice's address or client Message-ID:\n%s", newQRaw)
	}
	if !strings.HasPrefix(header(newQ, "Reply-To"), "<reply+") {
		t.Errorf("Reply-To = %q", header(newQ, "Reply-To"))
	}
	for _, h := range []string{"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted"} {
		if header(newQ, h) == "" {
			t.Errorf("new-question mail lacks %s", h)
		}
	}
	fromAddr := mustFrom(t, newQ)
	text, html := bodyText(t, newQ)
	if !strings.Contains(text, "cannot fall asleep again") || !strings.Contains(html, "cannot fall asleep again") {
		t.Errorf("question text missing from notification:\n%s", text)
	}

	// bob answers from a client that ignores Reply-To (sends to From),
	// keeps In-Reply-To and quotes the question.
	sendMail(t, a, "bob@example.net", []string{fromAddr}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: Re: [Sleep Forum] How do I stop waking up at 4am?
Message-ID: <bob-a1@mail.example.net>
In-Reply-To: %s
References: %s

Keep the same wake-up time every day, even at weekends.
It took me two weeks.

On Tue, Nov 24, 2026 at 9:00 PM Alice Adams via Sleep Forum <%s> wrote:
> Every night I wake up at 4am and cannot fall asleep again.
> What has helped you?
`, fromAddr, newQID, newQID, fromAddr))

	// alice is told, in her own thread, without bob's address or the quote.
	ans, ansRaw := relay.waitFor(t, "alice@example.org", subjectHas("Re: "))
	if got := header(ans, "In-Reply-To"); got != "<alice-q1@laptop.example.org>" {
		t.Errorf("answer notification In-Reply-To = %q, want alice's question", got)
	}
	if refs := header(ans, "References"); !strings.Contains(refs, "<alice-q1@laptop.example.org>") {
		t.Errorf("answer notification References = %q lack alice's question", refs)
	}
	if bytes.Contains(ansRaw, []byte("bob@example.net")) || bytes.Contains(ansRaw, []byte("bob-a1@")) {
		t.Fatalf("alice's notification leaks bob's address or Message-ID:\n%s", ansRaw)
	}
	atext, _ := bodyText(t, ans)
	if !strings.Contains(atext, "Keep the same wake-up time") {
		t.Errorf("answer text missing:\n%s", atext)
	}
	if strings.Contains(atext, "> Every night") || strings.Contains(atext, "wrote:") {
		t.Errorf("quoted text leaked into the notification:\n%s", atext)
	}
	ans, _ = relay.waitFor(t, "alice@example.org", subjectHas("Re: "))
	replyTo := header(ans, "Reply-To")
	from := header(ans, "From")
	if !strings.Contains(from, "Bob Baker via Sleep Forum") {
		t.Errorf("From = %q", from)
	}

	// alice comments by replying to the Reply-To address, quoting bob.
	sendMail(t, a, "alice@example.org", []string{strings.Trim(replyTo, "<>")}, fmt.Sprintf(`From: Alice Adams <alice@example.org>
To: %s
Subject: Re: [Sleep Forum] How do I stop waking up at 4am?
Message-ID: <alice-c1@laptop.example.org>
In-Reply-To: %s

Thanks Bob, I will try that.

On Wed, Nov 25, 2026 at 8:14 AM Bob Baker via Sleep Forum <%s> wrote:
> Keep the same wake-up time every day, even at weekends.
`, replyTo, header(ans, "Message-Id"), fromAddr))

	// bob is told of the comment on his answer, threaded under his answer.
	com, comRaw := relay.waitFor(t, "bob@example.net", func(r *mail.Reader, raw []byte) bool {
		return bytes.Contains(raw, []byte("I will try that"))
	})
	if got := header(com, "In-Reply-To"); got != "<bob-a1@mail.example.net>" {
		t.Errorf("comment notification to bob In-Reply-To = %q, want bob's answer", got)
	}
	if bytes.Contains(comRaw, []byte("alice@example.org")) || bytes.Contains(comRaw, []byte("alice-")) {
		t.Fatalf("bob's notification leaks alice's address or Message-ID:\n%s", comRaw)
	}

	// The stored thread.
	waitProcessed(t, a)
	qs, err := a.store.ListQuestions(ctx, 10)
	if err != nil || len(qs) != 1 {
		t.Fatalf("questions: %v %v", qs, err)
	}
	th, err := a.store.GetThread(ctx, qs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if th.Title != "How do I stop waking up at 4am?" || th.Author != "Alice Adams" {
		t.Errorf("question %q by %q", th.Title, th.Author)
	}
	if len(th.Answers) != 1 || th.Answers[0].Author != "Bob Baker" {
		t.Fatalf("answers: %+v", th.Answers)
	}
	if got := th.Answers[0].Body; got != "Keep the same wake-up time every day, even at weekends.\nIt took me two weeks." {
		t.Errorf("answer body %q", got)
	}
	if !strings.Contains(th.Answers[0].Elided, "Every night I wake up") {
		t.Errorf("the trimmed quote was not kept: %q", th.Answers[0].Elided)
	}
	if len(th.Answers[0].Comments) != 1 || th.Answers[0].Comments[0].Body != "Thanks Bob, I will try that." {
		t.Fatalf("comments: %+v", th.Answers[0].Comments)
	}

	// Every outgoing message went to exactly one recipient, and none of
	// them carries an address other than its recipient's.
	people := []string{"alice@example.org", "bob@example.net"}
	for _, m := range relay.all() {
		if len(m.To) != 1 {
			t.Errorf("message to %d recipients", len(m.To))
			continue
		}
		for _, p := range people {
			if p != m.To[0] && bytes.Contains(bytes.ToLower(m.Data), []byte(p)) {
				t.Errorf("message to %s contains %s", m.To[0], p)
			}
		}
		if !strings.HasPrefix(m.From, "bounce+") {
			t.Errorf("envelope sender %q is not a VERP bounce address", m.From)
		}
	}
}

func mustFrom(t *testing.T, r *mail.Reader) string {
	t.Helper()
	addrs, err := r.Header.AddressList("From")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("From: %v %v", addrs, err)
	}
	return addrs[0].Address
}
