package systemtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// stopper is one follower of TestStopEveryWay with a full history, and the
// mail their stop is made from.
type stopper struct {
	addr    string
	welcome *mail.Reader // the welcome of the forum follow (stops everything)
	q1      *mail.Reader // the new-question mail of Q1 (ends the follows that sent it)
	comment *mail.Reader // the mail of alice's comment on their answer to Q1 (stops Q1)
}

// listUnsub returns the https and mailto targets of n's List-Unsubscribe.
func listUnsub(t *testing.T, n *mail.Reader) (path, mailto string) {
	t.Helper()
	h := header(n, "List-Unsubscribe")
	m := regexp.MustCompile(`<(https?://[^>]+)>`).FindStringSubmatch(h)
	mt := regexp.MustCompile(`<mailto:([^>?]+)`).FindStringSubmatch(h)
	if m == nil || mt == nil || header(n, "List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe %q, List-Unsubscribe-Post %q", h, header(n, "List-Unsubscribe-Post"))
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, mt[1]
}

// postForm posts body to path on a's web server and wants 200.
func postForm(t *testing.T, a *app, path, body string) {
	t.Helper()
	resp, err := http.Post("http://"+a.httpAddr.String()+path, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s (%s): status %d", path, body, resp.StatusCode)
	}
}

// stopMail sends raw from addr to rcpt and wants it processed, not failed:
// a stop by mail must never be refused or retried.
func stopMail(t *testing.T, a *app, addr, rcpt, extra, body string) {
	t.Helper()
	mid := fmt.Sprintf("stop-%d@client.test", time.Now().UnixNano())
	sendMail(t, a, addr, []string{rcpt}, fmt.Sprintf("From: <%s>\nTo: %s\n%sSubject: stop\nMessage-ID: <%s>\n\n%s\n", addr, rcpt, extra, mid, body))
	waitProcessed(t, a)
	if state, reason, _ := mtOutcome(t, a, mid); state != "processed" {
		t.Fatalf("stop by mail to %s: %s (%s)", strings.SplitN(rcpt, "+", 2)[0], state, reason)
	}
}

// followBoth makes addr a confirmed follower of the forum (confirmed by
// reply) and of category sleep (confirmed by the web link), and checks
// both welcome mails. It returns the forum follow's welcome.
func followBoth(t *testing.T, a *app, relay *sink, addr string) *mail.Reader {
	t.Helper()
	follow(t, a, relay, addr)
	welcome, _ := relay.waitFor(t, addr, subjectHas("You are following the forum"))
	text, html := bodyText(t, welcome)
	for _, w := range []string{"Your follow is confirmed", "unsubscribe@forum.test", `"unsubscribe all"`, "Stop all emails now: https://forum.test/unsubscribe/"} {
		if !strings.Contains(text, w) {
			t.Fatalf("welcome mail lacks %q:\n%s", w, text)
		}
	}
	if !strings.Contains(html, "<title>Sleep Forum</title>") {
		t.Fatalf("welcome HTML title:\n%s", html)
	}
	sendMail(t, a, addr, []string{"subscribe+sleep@forum.test"}, fmt.Sprintf("From: <%s>\nTo: subscribe+sleep@forum.test\nSubject: follow\nMessage-ID: <sc%d@client.test>\n\n", addr, time.Now().UnixNano()))
	req, _ := relay.waitFor(t, addr, func(r *mail.Reader, raw []byte) bool {
		return subjectHas("Please confirm")(r, raw) && strings.Contains(string(raw), " in Sleep")
	})
	rtext, _ := bodyText(t, req)
	u, err := url.Parse(regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(rtext))
	if err != nil || u.Path == "" {
		t.Fatalf("no confirmation link in:\n%s", rtext)
	}
	postForm(t, a, u.Path, "")
	cw, _ := relay.waitFor(t, addr, subjectHas("You are following Sleep"))
	if ctext, _ := bodyText(t, cw); !strings.Contains(ctext, "unsubscribe+sleep@forum.test to stop this category only") {
		t.Fatalf("category welcome lacks its stop address:\n%s", ctext)
	}
	welcome, _ = relay.waitFor(t, addr, subjectHas("You are following the forum"))
	return welcome
}

// askAs has alice ask title (to ask+sleep@ when cat) with body.
func askAs(t *testing.T, a *app, alice, title string, cat bool) {
	t.Helper()
	to := "ask@forum.test"
	if cat {
		to = "ask+sleep@forum.test"
	}
	sendMail(t, a, alice, []string{to}, fmt.Sprintf("From: Alice <%s>\nTo: %s\nSubject: %s\nMessage-ID: <%d@a.example>\n\nWhat about %s?\n", alice, to, title, time.Now().UnixNano(), title))
	waitProcessed(t, a)
}

// sentTo counts the messages the relay received for rcpt containing s.
func sentTo(relay *sink, rcpt, s string) int {
	n := 0
	for _, m := range relay.all() {
		if len(m.To) == 1 && m.To[0] == rcpt && strings.Contains(string(m.Data), s) {
			n++
		}
	}
	return n
}

// TestStopEveryWay: for followers with every kind of history (follows of
// the forum and of a category with their confirmations and welcome mail,
// a muted question, notifications sent and others still pending), each
// way to stop succeeds: the RFC 8058 one-click POST of a comment's mail
// (this question), of a new question's (the follows that sent it) and of
// the welcome (everything), the footer link's form (this question, or
// everything), mail to unsubscribe@ and to the List-Unsubscribe mailto
// (unsubscribe+TOKEN@) of a comment's mail and of the welcome, a reply
// "unsubscribe all",
// and mail to unsubscribe+CATEGORY@. Afterwards the pending notifications
// the stop covers are cancelled, and nothing it covers is sent: not the
// new questions (for a stop of everything or of the follows), not
// comments in the question (for a stop of that question).
func TestStopEveryWay(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	if _, err := a.store.AddCategory(ctx, "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	alice := "alice@example.org"
	member(t, a, relay, alice, "Alice", "First night")

	cases := []struct {
		name  string
		scope string // all, question (Q1) or category (sleep)
		stop  func(t *testing.T, s stopper)
	}{
		{"one-click POST of a question's mail", "question", func(t *testing.T, s stopper) {
			path, _ := listUnsub(t, s.comment)
			postForm(t, a, path, "List-Unsubscribe=One-Click")
		}},
		{"one-click POST of a new question's mail", "follows", func(t *testing.T, s stopper) {
			path, _ := listUnsub(t, s.q1)
			postForm(t, a, path, "List-Unsubscribe=One-Click")
		}},
		{"one-click POST of the welcome mail", "all", func(t *testing.T, s stopper) {
			path, _ := listUnsub(t, s.welcome)
			postForm(t, a, path, "List-Unsubscribe=One-Click")
		}},
		{"footer form, this question", "question", func(t *testing.T, s stopper) {
			path, _ := listUnsub(t, s.comment)
			resp, err := http.Get("http://" + a.httpAddr.String() + path)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET footer link: %v %v", resp, err)
			}
			resp.Body.Close()
			postForm(t, a, path, "scope=question")
		}},
		{"footer form, everything", "all", func(t *testing.T, s stopper) {
			path, _ := listUnsub(t, s.q1)
			postForm(t, a, path, "scope=all")
		}},
		{"mail to unsubscribe@", "all", func(t *testing.T, s stopper) {
			stopMail(t, a, s.addr, "unsubscribe@forum.test", "", "please stop")
		}},
		{"mail to a question's unsubscribe+TOKEN@", "question", func(t *testing.T, s stopper) {
			_, mt := listUnsub(t, s.comment)
			stopMail(t, a, s.addr, mt, "", "unsubscribe")
		}},
		{"mail to the welcome's unsubscribe+TOKEN@", "all", func(t *testing.T, s stopper) {
			_, mt := listUnsub(t, s.welcome)
			stopMail(t, a, s.addr, mt, "", "unsubscribe")
		}},
		{"reply unsubscribe all", "all", func(t *testing.T, s stopper) {
			to := strings.Trim(header(s.q1, "Reply-To"), "<>")
			stopMail(t, a, s.addr, to, "In-Reply-To: "+header(s.q1, "Message-Id")+"\n", "unsubscribe all")
		}},
		{"mail to unsubscribe+sleep@", "category", func(t *testing.T, s stopper) {
			stopMail(t, a, s.addr, "unsubscribe+sleep@forum.test", "", "stop")
		}},
	}

	// At most 10 cases: each follower's two follow requests come from
	// 127.0.0.1, whose confirmation requests are capped at 20 an hour.
	people, answers := withHistories(t, a, relay, alice, len(cases))
	// Pending when they stop: a new question in sleep, and alice's
	// comment on each one's answer.
	pauseNotify(t, a)
	askAs(t, a, alice, "Waking at four", true)
	for i := range people {
		reply(t, a, alice, answers[i], fmt.Sprintf("Comment-f%d: thanks.", i), "")
	}
	waitProcessed(t, a)
	pending := mtCount(t, a, `SELECT count(*) FROM notifications WHERE state = 'pending' AND kind IN ('new_question', 'comment')`)
	if pending != 2*len(people) {
		t.Fatalf("%d pending notifications, want %d", pending, 2*len(people))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.stop(t, people[i]) })
	}
	resumeNotify(t, a)
	mtSettle(t, a)
	// A new question after the stops, once every queue is drained.
	askAs(t, a, alice, "Restless legs", true)
	mtSettle(t, a)

	for i, c := range cases {
		checkStopped(t, a, relay, i, c.name, c.scope, people[i].addr)
	}
}

// TestEndedFollowCancelsPending: a follower of one category only stops
// it (unsubscribe+sleep@) while the mail of a new question in it is
// pending: that mail is cancelled at send time. Their old confirmation
// link does not start the follow again, and no second welcome is sent.
func TestEndedFollowCancelsPending(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	if _, err := a.store.AddCategory(ctx, "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	alice, bob := "alice@example.org", "bob@example.net"
	member(t, a, relay, alice, "Alice", "First night")
	sendMail(t, a, bob, []string{"subscribe+sleep@forum.test"}, "From: <"+bob+">\nTo: subscribe+sleep@forum.test\nSubject: follow\nMessage-ID: <f1@b.example>\n\n")
	req, _ := relay.waitFor(t, bob, subjectHas("Please confirm"))
	rtext, _ := bodyText(t, req)
	u, err := url.Parse(regexp.MustCompile(`https?://\S+/confirm/\S+`).FindString(rtext))
	if err != nil || u.Path == "" {
		t.Fatalf("no confirmation link in:\n%s", rtext)
	}
	postForm(t, a, u.Path, "")
	relay.waitFor(t, bob, subjectHas("You are following Sleep"))

	pauseNotify(t, a)
	askAs(t, a, alice, "Waking at four", true)
	stopMail(t, a, bob, "unsubscribe+sleep@forum.test", "", "stop")
	postForm(t, a, u.Path, "") // the old link, after the stop
	resumeNotify(t, a)
	mtSettle(t, a)
	var state, reason string
	if err := a.pool.QueryRow(ctx, `SELECT n.state, n.error FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE p.address_hash = $1 AND n.kind = 'new_question'`, a.store.Keys().AddressHash(bob)).Scan(&state, &reason); err != nil {
		t.Fatal(err)
	}
	if state != "cancelled" || sentTo(relay, bob, "Waking at four") != 0 {
		t.Errorf("pending new question after the follow ended: %s (%s), %d sent", state, reason, sentTo(relay, bob, "Waking at four"))
	}
	if n := len(relay.received(t, bob, "You are following")); n != 1 {
		t.Errorf("%d welcome mails, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM subscriptions WHERE ended_at IS NULL AND person_id <> (SELECT id FROM people WHERE address_hash = $1)`,
		a.store.Keys().AddressHash(alice)); n != 0 {
		t.Errorf("%d follows active after the stop and the old link", n)
	}
}

// checkStopped checks follower i (addr) of TestStopEveryWay after its stop
// (name) of scope all, question (Q1), follows (both: Q1 is in sleep) or
// category: which of the mail
// pending at the stop went out, whether the question asked afterwards
// reached them, and that both follows are kept, ended or not.
func checkStopped(t *testing.T, a *app, relay *sink, i int, name, scope, addr string) {
	t.Helper()
	ctx := context.Background()
	var q2, comment string
	if err := a.pool.QueryRow(ctx, `SELECT
		(SELECT n.state FROM notifications n JOIN posts q ON q.id = n.post_id WHERE n.person_id = pe.id AND q.title = 'Waking at four'),
		(SELECT n.state FROM notifications n JOIN posts c ON c.id = n.post_id WHERE n.person_id = pe.id AND n.kind = 'comment' AND c.body LIKE 'Comment-f%')
		FROM people pe WHERE pe.address_hash = $1`, a.store.Keys().AddressHash(addr)).Scan(&q2, &comment); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	wantQ2, wantComment, wantNew := "sent", "sent", 1
	switch scope {
	case "all":
		wantQ2, wantComment, wantNew = "cancelled", "cancelled", 0
	case "question":
		wantComment = "cancelled"
	case "follows":
		wantQ2, wantNew = "cancelled", 0
	}
	if q2 != wantQ2 || comment != wantComment {
		t.Errorf("%s: pending new question %s, pending comment %s; want %s and %s", name, q2, comment, wantQ2, wantComment)
	}
	if got := sentTo(relay, addr, "Restless legs"); got != wantNew {
		t.Errorf("%s: %d mails about the question asked after the stop, want %d", name, got, wantNew)
	}
	if got := sentTo(relay, addr, fmt.Sprintf("Comment-f%d:", i)); got != map[string]int{"sent": 1, "cancelled": 0}[wantComment] {
		t.Errorf("%s: %d mails of the comment", name, got)
	}
	var active, ended int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ended_at IS NULL), count(*) FILTER (WHERE ended_at IS NOT NULL)
		FROM subscriptions s JOIN people pe ON pe.id = s.person_id WHERE pe.address_hash = $1`, a.store.Keys().AddressHash(addr)).Scan(&active, &ended); err != nil {
		t.Fatal(err)
	}
	wantActive := map[string]int{"all": 0, "question": 2, "follows": 0, "category": 1}[scope]
	if active != wantActive || active+ended != 2 {
		t.Errorf("%s: %d follows active and %d ended, want %d active of 2 kept", name, active, ended, wantActive)
	}
}

// withHistories gives n followers every kind of history: follows of the
// forum and of category sleep, confirmed (their confirmation requests and
// welcome mails sent), a muted question ("Night sweats", by a reply
// "unsubscribe"), the mail of question Q1 ("Dreams at dawn") received and
// answered, and the mail of alice's comment on that answer received. It
// returns them with the mail of every answer to alice.
func withHistories(t *testing.T, a *app, relay *sink, alice string, n int) ([]stopper, []*mail.Reader) {
	t.Helper()
	people := make([]stopper, n)
	for i := range people {
		people[i].addr = fmt.Sprintf("follower%d@example.net", i)
		people[i].welcome = followBoth(t, a, relay, people[i].addr)
	}
	askAs(t, a, alice, "Night sweats", false)
	askAs(t, a, alice, "Dreams at dawn", true)
	for i := range people {
		p := &people[i]
		n0, _ := relay.waitFor(t, p.addr, subjectHas("Night sweats"))
		reply(t, a, p.addr, n0, "unsubscribe", "")
		p.q1, _ = relay.waitFor(t, p.addr, subjectHas("Dreams at dawn"))
		reply(t, a, p.addr, p.q1, fmt.Sprintf("Answer-f%d: keep a diary.", i), "")
		waitProcessed(t, a)
	}
	answers := make([]*mail.Reader, len(people))
	for i, p := range people {
		relay.waitFor(t, p.addr, subjectHas("Unsubscribed"))
		answers[i], _ = relay.waitFor(t, alice, containing(fmt.Sprintf("Answer-f%d:", i)))
		reply(t, a, alice, answers[i], fmt.Sprintf("Early-f%d: how long?", i), "")
	}
	for i := range people {
		people[i].comment, _ = relay.waitFor(t, people[i].addr, containing(fmt.Sprintf("Early-f%d:", i)))
	}
	return people, answers
}
