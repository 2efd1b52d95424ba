package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// follow makes addr a confirmed follower of every new question.
func follow(t *testing.T, a *app, relay *sink, addr string) {
	t.Helper()
	sendMail(t, a, addr, []string{"subscribe@forum.test"}, fmt.Sprintf("From: <%s>\nTo: subscribe@forum.test\nSubject: subscribe\nMessage-ID: <s%d@client.example>\n\n\n", addr, time.Now().UnixNano()))
	req, _ := relay.waitFor(t, addr, subjectHas("Please confirm: receive new questions"))
	confirmByReply(t, a, addr, req)
}

// reply sends body as a reply from addr to the notification n (to its
// Reply-To address), with extra header lines.
func reply(t *testing.T, a *app, addr string, n *mail.Reader, body, extra string) {
	t.Helper()
	to := strings.Trim(header(n, "Reply-To"), "<>")
	sendMail(t, a, addr, []string{to}, fmt.Sprintf("From: <%s>\nTo: %s\n%sSubject: Re: notification\nMessage-ID: <r%d@client.example>\nIn-Reply-To: %s\n\n%s\n",
		addr, to, extra, time.Now().UnixNano(), header(n, "Message-Id"), body))
}

func notificationStates(t *testing.T, a *app, addr string) map[string]int {
	t.Helper()
	rows, err := a.pool.Query(context.Background(), `SELECT state, count(*) FROM notifications WHERE person_id =
		(SELECT id FROM people WHERE address_hash = $1) GROUP BY state`, a.store.Keys().AddressHash(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		m[s] = n
	}
	return m
}

// decodedText returns every header and every decoded part of a message,
// lower-cased, for leak hunting.
func decodedText(t *testing.T, raw []byte) string {
	t.Helper()
	var b strings.Builder
	b.Write(bytes.ToLower(raw))
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("outgoing message does not parse: %v", err)
	}
	fields := r.Header.Fields()
	for fields.Next() {
		v, _ := fields.Text()
		b.WriteString("\n" + strings.ToLower(v))
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		body, _ := io.ReadAll(p.Body)
		b.WriteString("\n" + strings.ToLower(string(body)))
	}
	return b.String()
}

// TestLeakHunt runs a busy forum (asking, answering by email and in the
// web form, commenting, forwarding a notification, replying to all,
// unsubscribing, bouncing)
// and then hunts for addresses: no outgoing message may contain any
// address but its recipient's, no log line any address, and a pg_dump of
// the database no address in clear.
func TestLeakHunt(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, logs := testAppWith(t, relay, nil)
	ctx := context.Background()
	alice, bob, carol, dave := "alice.liddell@example.org", "bob.baker@example.net", "carol.c@example.com", "dave.d@example.info"
	erin := "erin.e@example.ca" // answers in the web form
	people := []string{alice, bob, carol, dave, erin}

	follow(t, a, relay, bob)
	follow(t, a, relay, dave)
	member(t, a, relay, alice, "Alice Liddell", "Nightmares after therapy")
	newQ, _ := relay.waitFor(t, bob, subjectHas("Nightmares after therapy"))
	daveQ, _ := relay.waitFor(t, dave, subjectHas("Nightmares after therapy"))

	// bob answers, signing with his address (redacted in the stored post).
	reply(t, a, bob, newQ, "Write them down in the morning, it helped me.\n\n-- \nBob Baker <"+bob+">", "")
	ansN, _ := relay.waitFor(t, alice, subjectHas("Re: "))

	// alice forwards bob's answer notification to carol, who is not a
	// member; carol replies to the Reply-To in it (alice's token).
	_, ansRaw := relay.waitFor(t, alice, subjectHas("Re: "))
	fwdReplyTo := strings.Trim(header(ansN, "Reply-To"), "<>")
	sendMail(t, a, carol, []string{fwdReplyTo}, fmt.Sprintf("From: Carol <%s>\nTo: %s\nSubject: Re: Fwd: notification\nMessage-ID: <carol1@client.example>\n\nI have the same problem.\n\n---------- Forwarded message ---------\n%s\n",
		carol, fwdReplyTo, strings.ReplaceAll(string(ansRaw), "\r\n", "\n")))
	// Held as carol's (not alice's): carol is asked to confirm, alice hears nothing.
	creq, _ := relay.waitFor(t, carol, subjectHas("Please confirm"))
	confirmByReply(t, a, carol, creq)
	comN, _ := relay.waitFor(t, bob, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("same problem")) })
	th, err := a.store.GetThread(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Answers) != 1 || len(th.Answers[0].Comments) != 1 || th.Answers[0].Comments[0].Author != "Carol" {
		t.Fatalf("forwarded-token reply not posted as carol's comment: %+v", th.Answers)
	}
	if all := th.Answers[0].Body + th.Answers[0].Elided; strings.Contains(all, bob) || !strings.Contains(all, "[address removed]") {
		t.Errorf("bob's own address not redacted from his post: %q", all)
	}

	// bob replies to all: his client copies alice and carol in Cc.
	reply(t, a, bob, comN, "Carol, try writing them down too.", "Cc: Alice <"+alice+">, Carol <"+carol+">\n")
	relay.waitFor(t, carol, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("try writing them down")) })

	// dave stops his follow with the one-click POST of the question's mail.
	unsub := header(daveQ, "List-Unsubscribe")
	m := regexp.MustCompile(`<(https?://[^>]+)>`).FindStringSubmatch(unsub)
	if m == nil {
		t.Fatalf("List-Unsubscribe %q has no URL", unsub)
	}
	u, _ := url.Parse(m[1])
	resp, err := http.Post("http://"+a.httpAddr.String()+u.Path, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %v %v", resp, err)
	}
	resp.Body.Close()

	// A bounce for one of dave's notifications arrives at its VERP address.
	var daveEnvelope string
	for _, s := range relay.all() {
		if s.To[0] == dave {
			daveEnvelope = s.From
		}
	}
	sendMail(t, a, "", []string{daveEnvelope}, fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.info>
To: %s
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.example.info>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered to <%s>.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.info

Final-Recipient: rfc822; %s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B--
`, daveEnvelope, dave, dave))
	waitProcessed(t, a)
	// erin answers in the web form and confirms by reply.
	b := newBrowser(t, a)
	form := url.Values{"token": {formToken(t, b.get("/q/1"))}, "body": {"A night light helps me."}, "name": {"Erin"}, "notify": {"1"}, "address": {erin}}
	if status, page := b.do("POST", "/q/1/answer", form, nil); status != 200 {
		t.Fatalf("web answer: %d\n%s", status, page)
	}
	ereq, _ := relay.waitFor(t, erin, subjectHas("Please confirm"))
	confirmByReply(t, a, erin, ereq)
	relay.waitFor(t, alice, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("night light")) })
	// Let every notification reach the relay.
	waitDrained(t, a)

	// 1. Outgoing mail: only the recipient's own address.
	msgs := relay.all()
	if len(msgs) < 10 {
		t.Fatalf("only %d messages sent: scenario did not run", len(msgs))
	}
	for i, s := range msgs {
		text := decodedText(t, s.Data)
		for _, p := range people {
			if p != s.To[0] && strings.Contains(text, p) {
				t.Errorf("message %d (to person %d) contains another person's address", i, indexOf(people, s.To[0]))
			}
		}
	}
	// 2. Logs: no address at all.
	logs.mu.Lock()
	logText := strings.ToLower(logs.buf.String())
	logs.mu.Unlock()
	if len(logText) < 1000 {
		t.Fatalf("log capture looks empty (%d bytes)", len(logText))
	}
	for i, p := range people {
		if strings.Contains(logText, p) {
			t.Errorf("log output contains the address of person %d", i)
		}
	}
	// 3. A database dump: no address in clear.
	dump := pgDump(t, a.cfg.Store.DatabaseURL)
	if !bytes.Contains(dump, []byte("Nightmares after therapy")) {
		t.Fatal("pg_dump output does not contain the forum's data")
	}
	for i, p := range people {
		if bytes.Contains(bytes.ToLower(dump), []byte(p)) {
			t.Errorf("pg_dump contains the address of person %d in clear", i)
		}
		local := p[:strings.IndexByte(p, '@')]
		if bytes.Contains(bytes.ToLower(dump), []byte(local+"@")) {
			t.Errorf("pg_dump contains the local part of person %d", i)
		}
	}
	// 4. Pages: no address, local part or mail domain of a member in any
	// public page's HTML.
	for _, path := range []string{"/", "/unanswered", "/about", "/q/1", "/t/none", "/favicon.ico", "/ask", "/signin"} {
		_, page := httpGet(t, "http://"+a.httpAddr.String()+path)
		page = strings.ToLower(page)
		for i, p := range people {
			local, domain, _ := strings.Cut(p, "@")
			if strings.Contains(page, local+"@") || strings.Contains(page, domain) {
				t.Errorf("page %s shows the address, local part or domain of person %d", path, i)
			}
		}
	}
	// The bounce was counted against dave, and dave's unsubscribe held.
	var score float64
	if err := a.pool.QueryRow(ctx, `SELECT bounce_score FROM people WHERE address_hash = $1`, a.store.Keys().AddressHash(dave)).Scan(&score); err != nil || score <= 0 {
		t.Errorf("bounce not counted against dave: %v %v", score, err)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestUnsubscribeStopsNextNotification: a one-click POST, and a reply
// whose whole text is "unsubscribe", each stop the next notification of
// that thread before it is rendered; the reply gets one confirmation.
func TestUnsubscribeStopsNextNotification(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	alice, bob, carol := "alice@example.org", "bob@example.net", "carol@example.com"
	follow(t, a, relay, bob)
	follow(t, a, relay, carol)
	member(t, a, relay, alice, "Alice", "Cannot focus")
	bobQ, _ := relay.waitFor(t, bob, subjectHas("Cannot focus"))
	carolQ, _ := relay.waitFor(t, carol, subjectHas("Cannot focus"))
	reply(t, a, bob, bobQ, "Short walks help me.", "")
	reply(t, a, carol, carolQ, "Try a timer: 25 minutes on, 5 off.", "")
	bobAns, _ := relay.waitFor(t, alice, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("Short walks")) })
	relay.waitFor(t, alice, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("25 minutes")) })

	// bob: one-click POST from the List-Unsubscribe of the mail of alice's
	// comment on his answer (a new question's would end his follow
	// instead: TestStopFollowFromNewQuestion).
	reply(t, a, alice, bobAns, "How long do you walk?", "")
	bobCom, _ := relay.waitFor(t, bob, func(r *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte("How long do you walk")) })
	m := regexp.MustCompile(`<(https?://[^>]+)>`).FindStringSubmatch(header(bobCom, "List-Unsubscribe"))
	u, _ := url.Parse(m[1])
	resp, err := http.Post("http://"+a.httpAddr.String()+u.Path, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click: %v %v", resp, err)
	}
	resp.Body.Close()
	if header(bobCom, "List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", header(bobCom, "List-Unsubscribe-Post"))
	}
	// carol: a reply whose whole text is "unsubscribe".
	carolAnsN, _ := relay.waitFor(t, carol, subjectHas("Cannot focus"))
	reply(t, a, carol, carolAnsN, "unsubscribe", "")
	relay.waitFor(t, carol, subjectHas("Unsubscribed"))
	waitProcessed(t, a)

	// alice comments on bob's answer and on carol's answer: neither is told.
	before := notificationStates(t, a, bob)["sent"] + notificationStates(t, a, carol)["sent"]
	reply(t, a, alice, bobAns, "Thanks, walking now.", "")
	waitProcessed(t, a)
	th0, _ := a.store.GetThread(context.Background(), 1)
	// The two answers were processed concurrently: either may come first.
	commented := 0
	for _, ans := range th0.Answers {
		if strings.Contains(ans.Body, "Short walks") {
			commented = len(ans.Comments)
		}
	}
	if len(th0.Answers) != 2 || commented != 2 {
		t.Fatalf("alice's comment was not posted under bob's answer: %+v", th0.Answers)
	}
	waitDrained(t, a) // any (wrong) notification has gone out
	after := notificationStates(t, a, bob)["sent"] + notificationStates(t, a, carol)["sent"]
	if after != before {
		t.Fatalf("mail sent after unsubscribing (%d -> %d)", before, after)
	}
	th, _ := a.store.GetThread(context.Background(), 1)
	if len(th.Answers) != 2 {
		t.Fatalf("the command \"unsubscribe\" became a post: %+v", th.Answers)
	}
}

// TestUnknownSenderAndConfirmationLimits: an unknown sender's questions
// stay invisible until confirmed, confirmations to one address are
// rate-limited, and a forged From with someone's valid token does not post
// as that token's owner.
func TestUnknownSenderAndConfirmationLimits(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	stranger := "stranger@example.com"
	for i := 0; i < 5; i++ {
		sendMail(t, a, stranger, []string{"ask@forum.test"}, fmt.Sprintf("From: <%s>\nTo: ask@forum.test\nSubject: Question %d\nMessage-ID: <q%d@x.example>\n\nWhy?\n", stranger, i, i))
	}
	waitDrained(t, a)
	var confirms int
	for _, s := range relay.all() {
		if s.To[0] == stranger {
			confirms++
		}
	}
	if confirms != 3 {
		t.Fatalf("%d confirmation requests to one address, want 3 (the limit)", confirms)
	}
	if qs, _ := a.store.ListQuestions(ctx, 10); len(qs) != 0 {
		t.Fatalf("unconfirmed questions visible: %d", len(qs))
	}

	// A forged From using alice's token posts nothing as alice.
	alice := "alice@example.org"
	member(t, a, relay, alice, "Alice", "Tired all day")
	posted, _ := relay.waitFor(t, alice, subjectHas("] Tired all day"))
	sendMail(t, a, "mallory@example.net", []string{strings.Trim(header(posted, "Reply-To"), "<>")},
		"From: Alice <mallory@example.net>\nTo: x\nSubject: Re\nMessage-ID: <m1@evil.example>\n\nI am alice, trust me.\n")
	waitProcessed(t, a)
	var byAlice int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM posts p JOIN people pe ON pe.id = p.author_id
		WHERE pe.address_hash = $1 AND p.body LIKE '%trust me%'`, a.store.Keys().AddressHash(alice)).Scan(&byAlice); err != nil {
		t.Fatal(err)
	}
	if byAlice != 0 {
		t.Fatal("forged From with alice's token posted as alice")
	}
	var visible int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM posts WHERE body LIKE '%trust me%' AND state <> 'held'`).Scan(&visible); err != nil {
		t.Fatal(err)
	}
	if visible != 0 {
		t.Fatal("an unconfirmed forger's reply is visible")
	}
	// Nor counted: `postern threads` shows what the page shows.
	if qs, err := a.store.ListQuestions(ctx, 10); err != nil || len(qs) != 1 || qs[0].Answers != 0 {
		// alice's is the only visible question; mallory's reply is held.
		t.Fatalf("questions listed: %+v, %v; want alice's with 0 answers (the held reply not counted)", qs, err)
	}
}

// TestForgetAndExport: export shows what is held without the address,
// follows current and ended; forget erases the address, its follows
// (whatever refers to them), cancels pending mail and keeps the posts.
func TestForgetAndExport(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	alice := "alice@example.org"
	member(t, a, relay, alice, "Alice", "Panic at work")
	// A confirmed follow (its confirmation request refers to it), one
	// ended by unsubscribe@, and a current one.
	follow(t, a, relay, alice)
	stopMail(t, a, alice, "unsubscribe@forum.test", "", "stop")
	follow(t, a, relay, alice)
	waitProcessed(t, a)
	var out, errb bytes.Buffer
	args := []string{"user", "export", "--database-url", a.cfg.Store.DatabaseURL, "--domain", "forum.test", "--secret-file", a.cfg.Store.SecretFile, alice}
	if err := runCLI(t, ctx, args, &out, &errb); err != nil {
		t.Fatalf("export: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Panic at work") || strings.Contains(out.String(), alice) {
		t.Fatalf("export output wrong or leaks the address:\n%s", out.String())
	}
	if strings.Count(out.String(), `"scope": "all"`) != 2 || strings.Count(out.String(), `"ended_at"`) != 1 {
		t.Fatalf("export does not show one ended and one current follow:\n%s", out.String())
	}
	out.Reset()
	args[1] = "forget"
	if err := runCLI(t, ctx, append(args[:len(args)-1], "--anonymous", alice), &out, &errb); err != nil {
		t.Fatalf("forget: %v %s", err, errb.String())
	}
	var hash, enc []byte
	var name string
	if err := a.pool.QueryRow(ctx, `SELECT address_hash, address_enc, display_name FROM people WHERE id = 1`).Scan(&hash, &enc, &name); err != nil {
		t.Fatal(err)
	}
	if hash != nil || enc != nil || name != "anonymous" {
		t.Fatalf("after forget: hash %v enc %v name %q", hash != nil, enc != nil, name)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM subscriptions`); n != 0 {
		t.Fatalf("%d follows kept after forget", n)
	}
	th, err := a.store.GetThread(ctx, 1)
	if err != nil || th.Author != "anonymous" {
		t.Fatalf("post after forget: %+v %v", th, err)
	}
	args[1] = "export"
	if err := runCLI(t, ctx, args, &out, &errb); err == nil {
		t.Fatal("export of a forgotten address still finds it")
	}
}
