package systemtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/japanese"

	"github.com/postern/postern/internal/smtptest"
)

// mtFollow makes addr a confirmed follower of every new question: it writes
// to subscribe@ and confirms by replying to the request, as a person would.
func mtFollow(t *testing.T, a *app, relay *sink, addr, name string) {
	t.Helper()
	sendMail(t, a, addr, []string{"subscribe@forum.test"}, fmt.Sprintf("From: %s <%s>\nTo: subscribe@forum.test\nSubject: subscribe\nMessage-ID: <sub-%d@client.test>\n\nsubscribe\n", name, addr, time.Now().UnixNano()))
	conf, _ := relay.waitFor(t, addr, subjectHas("Please confirm"))
	sendMail(t, a, addr, []string{strings.Trim(header(conf, "Reply-To"), "<>")}, fmt.Sprintf("From: %s <%s>\nTo: confirm@forum.test\nSubject: Re: Please confirm\nMessage-ID: <subc-%d@client.test>\n\nyes\n", name, addr, time.Now().UnixNano()))
	waitProcessed(t, a)
}

// mtAskConfirmed has addr ask a question as a first-time sender and confirm
// it, and returns the question's id.
func mtAskConfirmed(t *testing.T, a *app, relay *sink, addr, name, subject, body string) int64 {
	t.Helper()
	ctx := context.Background()
	mid := fmt.Sprintf("q-%d@client.test", time.Now().UnixNano())
	sendMail(t, a, addr, []string{"ask@forum.test"}, fmt.Sprintf("From: %s <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: <%s>\n\n%s\n", name, addr, subject, mid, body))
	waitProcessed(t, a)
	var confirmed bool
	if err := a.pool.QueryRow(ctx, `SELECT p.confirmed_at IS NOT NULL FROM inbound i JOIN people p ON p.id = i.sender_id WHERE i.message_id = $1`, mid).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	if !confirmed {
		creq, _ := relay.waitFor(t, addr, subjectHas("Please confirm your message"))
		sendMail(t, a, addr, []string{strings.Trim(header(creq, "Reply-To"), "<>")}, fmt.Sprintf("From: %s <%s>\nTo: confirm@forum.test\nSubject: Re: Please confirm\nMessage-ID: <c-%s>\nIn-Reply-To: %s\n\nok\n", name, addr, mid, header(creq, "Message-Id")))
		waitProcessed(t, a)
	}
	var id int64
	if err := a.pool.QueryRow(ctx, `SELECT post_id FROM inbound WHERE message_id = $1`, mid).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// mtOutcome returns state and reason of the message with Message-ID mid.
func mtOutcome(t *testing.T, a *app, mid string) (state, reason string, post int64) {
	t.Helper()
	err := a.pool.QueryRow(context.Background(), `SELECT state, reason, coalesce(post_id, 0) FROM inbound WHERE message_id = $1`, mid).Scan(&state, &reason, &post)
	if err != nil {
		t.Fatalf("inbound %s: %v", mid, err)
	}
	return state, reason, post
}

// mtSettle waits until the queues are drained, so "no mail was sent"
// can be checked on the relay.
func mtSettle(t *testing.T, a *app) {
	t.Helper()
	waitDrained(t, a)
}

// TestMailAsClientsSendIt sends mail the way real clients and servers do
// over SMTP: auto-replies, bounces, attachments, Outlook HTML, ISO-2022-JP,
// and replies to a closed question.
func TestMailAsClientsSendIt(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()

	mtFollow(t, a, relay, "bob@example.net", "Bob Baker")
	mtFollow(t, a, relay, "carol@example.com", "Carol Cole")
	q := mtAskConfirmed(t, a, relay, "alice@example.org", "Alice Adams", "Which pillow is best?", "Soft or firm, what do you use?")
	newQ, _ := relay.waitFor(t, "bob@example.net", subjectHas("Which pillow is best?"))
	bobReplyTo := strings.Trim(header(newQ, "Reply-To"), "<>")
	bobNotifID := header(newQ, "Message-Id")
	mtSettle(t, a)

	t.Run("auto-reply", func(t *testing.T) {
		posts, mails := mtCount(t, a, `SELECT count(*) FROM posts`), len(relay.all())
		sendMail(t, a, "bob@example.net", []string{bobReplyTo}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: Automatic reply: Which pillow is best?
Auto-Submitted: auto-replied
Message-ID: <ooo-1@mail.example.net>
In-Reply-To: %s

I am out of the office until Monday.
`, bobReplyTo, bobNotifID))
		mtSettle(t, a)
		state, reason, post := mtOutcome(t, a, "ooo-1@mail.example.net")
		if state != "ignored" || !strings.HasPrefix(reason, "automatic mail") || post != 0 {
			t.Errorf("auto-reply: %s %q post %d", state, reason, post)
		}
		if n := mtCount(t, a, `SELECT count(*) FROM posts`); n != posts {
			t.Errorf("auto-reply made a post")
		}
		if n := len(relay.all()); n != mails {
			t.Errorf("auto-reply caused %d outgoing messages", n-mails)
		}
	})

	t.Run("pdf attachment", func(t *testing.T) {
		pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
		sendMail(t, a, "bob@example.net", []string{bobReplyTo}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: Re: [Sleep Forum] Which pillow is best?
Message-ID: <pdf-1@mail.example.net>
In-Reply-To: %s
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

The comparison I made is attached.
--b1
Content-Type: application/pdf; name="pillows.pdf"
Content-Disposition: attachment; filename="pillows.pdf"
Content-Transfer-Encoding: base64

%s
--b1--
`, bobReplyTo, bobNotifID, base64.StdEncoding.EncodeToString(pdf)))
		waitProcessed(t, a)
		state, reason, post := mtOutcome(t, a, "pdf-1@mail.example.net")
		if state != "processed" || post == 0 {
			t.Fatalf("pdf reply: %s %q", state, reason)
		}
		th, err := a.store.GetThread(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ans := range th.Answers {
			if ans.ID != post {
				continue
			}
			if ans.Body != "The comparison I made is attached." {
				t.Errorf("body %q", ans.Body)
			}
			if len(ans.Attachments) != 1 || ans.Attachments[0].Filename != "pillows.pdf" || ans.Attachments[0].ContentType != "application/pdf" || ans.Attachments[0].Size != len(pdf) {
				t.Errorf("attachments %+v", ans.Attachments)
			}
			return
		}
		t.Errorf("answer %d not in the thread", post)
	})

	t.Run("outlook html", func(t *testing.T) {
		sendMail(t, a, "bob@example.net", []string{bobReplyTo}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: RE: [Sleep Forum] Which pillow is best?
Message-ID: <outlook-1@mail.example.net>
In-Reply-To: %s
MIME-Version: 1.0
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3Dus-ascii"></head>
<body><div class=3D"WordSection1">
<p class=3D"MsoNormal">A firm one, about 12 cm high.<o:p></o:p></p>
<p class=3D"MsoNormal"><o:p>&nbsp;</o:p></p>
</div>
<hr style=3D"display:inline-block;width:98%%" tabindex=3D"-1">
<div id=3D"divRplyFwdMsg" dir=3D"ltr"><font face=3D"Calibri, sans-serif" style=3D"font-size:11pt" color=3D"#000000"><b>From:</b> Alice Adams via Sleep Forum &lt;notifications@forum.test&gt;<br>
<b>Sent:</b> Tuesday, November 24, 2026 9:00 PM<br>
<b>Subject:</b> [Sleep Forum] Which pillow is best?</font>
<div>&nbsp;</div></div>
<div><p>Soft or firm, what do you use?</p></div>
</body></html>
`, bobReplyTo, bobNotifID))
		waitProcessed(t, a)
		state, reason, post := mtOutcome(t, a, "outlook-1@mail.example.net")
		if state != "processed" || post == 0 {
			t.Fatalf("outlook reply: %s %q", state, reason)
		}
		var body string
		if err := a.pool.QueryRow(ctx, `SELECT body FROM posts WHERE id = $1`, post).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if body != "A firm one, about 12 cm high." {
			t.Errorf("outlook answer body %q", body)
		}
	})

	t.Run("iso-2022-jp", func(t *testing.T) {
		const text = "硬めの枕をおすすめします。"
		enc, err := japanese.ISO2022JP.NewEncoder().String(text)
		if err != nil {
			t.Fatal(err)
		}
		sendMail(t, a, "bob@example.net", []string{bobReplyTo}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: =?ISO-2022-JP?B?GyRCTWs/JxsoQg==?=
Message-ID: <jp-1@mail.example.net>
In-Reply-To: %s
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

%s
`, bobReplyTo, bobNotifID, enc))
		waitProcessed(t, a)
		state, reason, post := mtOutcome(t, a, "jp-1@mail.example.net")
		if state != "processed" || post == 0 {
			t.Fatalf("iso-2022-jp reply: %s %q", state, reason)
		}
		var body string
		if err := a.pool.QueryRow(ctx, `SELECT body FROM posts WHERE id = $1`, post).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if body != text {
			t.Errorf("iso-2022-jp body %q, want %q", body, text)
		}
	})

	t.Run("closed question", func(t *testing.T) {
		mtSettle(t, a)
		if _, err := a.pool.Exec(ctx, `UPDATE posts SET state = 'closed' WHERE id = $1`, q); err != nil {
			t.Fatal(err)
		}
		posts := mtCount(t, a, `SELECT count(*) FROM posts`)
		sendMail(t, a, "bob@example.net", []string{bobReplyTo}, fmt.Sprintf(`From: Bob Baker <bob@example.net>
To: %s
Subject: Re: [Sleep Forum] Which pillow is best?
Message-ID: <late-1@mail.example.net>
In-Reply-To: %s

One more thought on pillows.
`, bobReplyTo, bobNotifID))
		// dave never confirmed his address: he gets no answer at all.
		sendMail(t, a, "dave@example.net", []string{"notifications@forum.test"}, fmt.Sprintf(`From: Dave Doe <dave@example.net>
To: notifications@forum.test
Subject: Re: [Sleep Forum] Which pillow is best?
Message-ID: <late-2@mail.example.net>
In-Reply-To: %s

Me too.
`, bobNotifID))
		mtSettle(t, a)
		for _, mid := range []string{"late-1@mail.example.net", "late-2@mail.example.net"} {
			if state, reason, post := mtOutcome(t, a, mid); state != "failed" || !strings.Contains(reason, "closed") || post != 0 {
				t.Errorf("reply to a closed question: %s %q post %d", state, reason, post)
			}
		}
		if n := mtCount(t, a, `SELECT count(*) FROM posts`); n != posts {
			t.Errorf("a reply to a closed question was posted")
		}
		var rejections []smtptest.Message
		for _, m := range relay.all() {
			if len(m.To) == 1 && m.To[0] == "dave@example.net" {
				t.Errorf("the unconfirmed sender got mail")
			}
			if len(m.To) == 1 && m.To[0] == "bob@example.net" && bytes.Contains(m.Data, []byte("not posted")) {
				rejections = append(rejections, m)
			}
		}
		if len(rejections) != 1 {
			t.Fatalf("bob got %d rejection mails, want 1", len(rejections))
		}
		r, err := mail.CreateReader(bytes.NewReader(rejections[0].Data))
		if err != nil {
			t.Fatal(err)
		}
		if got := header(r, "In-Reply-To"); got != "<late-1@mail.example.net>" {
			t.Errorf("rejection In-Reply-To = %q, want bob's message", got)
		}
	})

	// Last: carol's address bounces twice and is suppressed.
	t.Run("bounces", func(t *testing.T) {
		var carolMsg smtptest.Message
		for _, m := range relay.all() {
			if len(m.To) == 1 && m.To[0] == "carol@example.com" && bytes.Contains(m.Data, []byte("Which pillow is best?")) {
				carolMsg = m
			}
		}
		if !strings.HasPrefix(carolMsg.From, "bounce+") {
			t.Fatalf("no notification to carol with a VERP envelope sender")
		}
		score := func() (float64, bool) {
			var s float64
			var suppressed bool
			if err := a.pool.QueryRow(ctx, `SELECT p.bounce_score, p.suppressed_at IS NOT NULL FROM people p JOIN notifications n ON n.person_id = p.id
				WHERE n.kind = 'new_question' AND n.post_id = $1 AND p.display_name = 'Carol Cole'`, q).Scan(&s, &suppressed); err != nil {
				t.Fatal(err)
			}
			return s, suppressed
		}
		posts := mtCount(t, a, `SELECT count(*) FROM posts`)
		for i := 1; i <= 2; i++ {
			mails := len(relay.all())
			sendMail(t, a, "", []string{carolMsg.From}, mtDSN(i, carolMsg.From))
			mtSettle(t, a)
			state, reason, _ := mtOutcome(t, a, fmt.Sprintf("dsn-%d@mx.example.com", i))
			if state != "ignored" || !strings.Contains(reason, "bounce") {
				t.Errorf("bounce %d: %s %q", i, state, reason)
			}
			if n := len(relay.all()); n != mails {
				t.Errorf("bounce %d caused %d outgoing messages", i, n-mails)
			}
			s, suppressed := score()
			if s != float64(2*i) || suppressed != (i == 2) {
				t.Errorf("after bounce %d: score %v suppressed %v", i, s, suppressed)
			}
		}
		if n := mtCount(t, a, `SELECT count(*) FROM posts`); n != posts {
			t.Errorf("a bounce made a post")
		}
		// The next question is not sent to carol.
		q2 := mtAskConfirmed(t, a, relay, "alice@example.org", "Alice Adams", "How warm should the bedroom be?", "I keep it at 22 degrees.")
		relay.waitFor(t, "bob@example.net", subjectHas("How warm should the bedroom be?"))
		mtSettle(t, a)
		// A suppressed address is left out when recipients are chosen; a
		// notification already queued for it is cancelled at send time.
		if n := mtCount(t, a, `SELECT count(*) FROM notifications n JOIN people p ON p.id = n.person_id
			WHERE n.post_id = $1 AND p.display_name = 'Carol Cole' AND n.state <> 'cancelled'`, q2); n != 0 {
			t.Errorf("%d live notifications of the second question to a suppressed address", n)
		}
		for _, m := range relay.all() {
			if len(m.To) == 1 && m.To[0] == "carol@example.com" && bytes.Contains(m.Data, []byte("How warm")) {
				t.Errorf("the suppressed address got the second question")
			}
		}
	})
}

// mtDSN returns a Postfix-style delivery status notification (5.1.1) for a
// message sent with envelope sender verp to carol.
func mtDSN(i int, verp string) string {
	return fmt.Sprintf(`From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: %s
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-%d@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r%d"

--r%d
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.
I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--r%d
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; carol@example.com
Original-Recipient: rfc822;carol@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <carol@example.com>: Recipient address rejected: User unknown

--r%d
Content-Type: text/rfc822-headers

Subject: [Sleep Forum] Which pillow is best?
Message-ID: <n1.x@forum.test>

--r%d--
`, verp, i, i, i, i, i, i)
}
