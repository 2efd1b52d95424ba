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

	"github.com/emersion/go-message/mail"
	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
)

// linkInMail finds the http(s) links of a mail's bodies and headers.
var linkInMail = regexp.MustCompile(`https?://[^\s<>"',]+`)

// TestEveryNotificationLinkOpens runs a thread through the whole system
// (a follow with its confirmation and welcome, a question with a file, a
// newcomer's confirmation, the follower's new-question mail, an answer, a
// comment, a best-answer selection, a refused reply to the closed
// question, an unsubscribe by reply) and requests every link of every
// mail the forum sent, from the bodies and the List-Unsubscribe field:
// each answers 200 (a GET of an unsubscribe or confirm link changes
// nothing). Every Reply-To and List-Unsubscribe mailto: is a forum address
// whose token verifies. The question page of a held post is 404, and the
// page of the thread shows its posts in order with display names, never
// an address. Once the question is deleted (hidden), its page and file
// links are 404 and the unsubscribe and confirm links still 200.
func TestEveryNotificationLinkOpens(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	alice, carol, dave := "alice@example.org", "carol@example.com", "dave@example.info"
	mtFollow(t, a, relay, carol, "Carol")
	sendMail(t, a, alice, []string{"ask@forum.test"}, `From: Alice <`+alice+`>
To: ask@forum.test
Subject: Waking at 4am <script>
Message-ID: <lq1@a.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8

Every night at 4am I am awake. See https://example.org/sleep?a=1&b=2 and javascript:alert(1)
--XX
Content-Type: text/plain; name="diary.txt"
Content-Disposition: attachment; filename="diary.txt"

Mon 4am.
--XX--
`)
	confirmNewSender(t, a, relay, alice)
	newQ, _ := relay.waitFor(t, carol, subjectHas("Waking at 4am"))
	reply(t, a, carol, newQ, "No screens after 9pm.", "")
	ans, _ := relay.waitFor(t, alice, containing("No screens after 9pm"))
	reply(t, a, alice, ans, "Thanks, which screens?", "")
	relay.waitFor(t, carol, containing("which screens"))
	reply(t, a, alice, ans, "accept", "")
	sel, _ := relay.waitFor(t, carol, containing("selected as the best answer"))
	var q int64
	if err := a.pool.QueryRow(ctx, `SELECT id FROM posts WHERE kind = 'question' AND title LIKE 'Waking%'`).Scan(&q); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetQuestionState(ctx, q, true, 0); err != nil {
		t.Fatal(err)
	}
	reply(t, a, carol, newQ, "One more idea.", "")
	relay.waitFor(t, carol, subjectHas("was not posted"))
	reply(t, a, carol, sel, "unsubscribe", "")
	relay.waitFor(t, carol, subjectHas("] Unsubscribed"))
	// dave's question stays held: he never confirms.
	sendMail(t, a, dave, []string{"ask@forum.test"}, "From: Dave <"+dave+">\nTo: ask@forum.test\nSubject: Held one\nMessage-ID: <lq2@d.example>\n\nNot confirmed.\n")
	relay.waitFor(t, dave, subjectHas("Please confirm"))
	mtSettle(t, a)

	sent := map[string]bool{}
	rows, err := a.pool.Query(ctx, `SELECT DISTINCT kind FROM notifications WHERE state = 'sent'`)
	if err != nil {
		t.Fatal(err)
	}
	kindsSent, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kindsSent {
		sent[k] = true
	}
	for _, k := range []mailkind.Kind{mailkind.ConfirmSubscribe, mailkind.Welcome, mailkind.Confirm, mailkind.Posted, mailkind.NewQuestion,
		mailkind.Answer, mailkind.Comment, mailkind.Selected, mailkind.Rejected, mailkind.Unsubscribed} {
		if !sent[string(k)] {
			t.Errorf("no %s mail was sent (sent: %v)", k, kindsSent)
		}
	}

	base := "http://" + a.httpAddr.String()
	links := map[string]bool{}
	for _, m := range relay.all() {
		r, err := mail.CreateReader(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		checkMailAddresses(t, a, r)
		found := linkInMail.FindAllString(r.Header.Get("List-Unsubscribe"), -1)
		text, html := bodyText(t, r)
		found = append(found, linkInMail.FindAllString(text, -1)...)
		found = append(found, linkInMail.FindAllString(html, -1)...)
		for _, l := range found {
			l = strings.ReplaceAll(l, "&amp;", "&")
			if strings.HasPrefix(l, a.store.Config().BaseURL+"/") {
				links[l] = true
			} else if !strings.HasPrefix(l, "https://example.org/") {
				t.Errorf("mail link %q points outside the forum", l)
			}
		}
	}
	kinds := map[string]bool{}
	for l := range links {
		u, _ := url.Parse(l)
		kinds[strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)[0]] = true
		status, body := httpGet(t, base+u.Path)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d", u.Path, status)
		}
		if strings.Contains(body, "@example.") {
			t.Errorf("GET %s shows an address", u.Path)
		}
	}
	for _, k := range []string{"q", "unsubscribe", "confirm", "a"} {
		if !kinds[k] {
			t.Errorf("no mail carried a /%s/ link (links: %v)", k, links)
		}
	}

	var held int64
	if err := a.pool.QueryRow(ctx, `SELECT id FROM posts WHERE title = 'Held one' AND state = 'held'`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if status, _ := httpGet(t, fmt.Sprintf("%s/q/%d", base, held)); status != http.StatusNotFound {
		t.Errorf("held question page: %d, want 404", status)
	}
	for _, p := range []string{"/q/0", "/q/x", "/q/999999"} {
		if status, _ := httpGet(t, base+p); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, status)
		}
	}
	_, page := httpGet(t, fmt.Sprintf("%s/q/%d", base, q))
	iq, ia, ic := strings.Index(page, "Every night at 4am"), strings.Index(page, "No screens after 9pm"), strings.Index(page, "which screens")
	if iq < 0 || ia < iq || ic < ia {
		t.Errorf("thread not in order (question %d, answer %d, comment %d):\n%s", iq, ia, ic, page)
	}
	for _, want := range []string{"Waking at 4am &lt;script&gt;", "Alice", "Carol", "Best answer", "diary.txt",
		`<a href="https://example.org/sleep?a=1&amp;b=2" rel="nofollow ugc noopener">`, "javascript:alert(1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("question page lacks %q", want)
		}
	}
	if strings.Contains(page, `href="javascript`) || strings.Contains(page, "<script") {
		t.Errorf("question page carries script")
	}

	// The question is deleted: its page and files are gone, the links
	// that stop mail or confirm still open.
	if _, err := a.pool.Exec(ctx, `UPDATE posts SET state = 'hidden' WHERE id = $1`, q); err != nil {
		t.Fatal(err)
	}
	for l := range links {
		u, _ := url.Parse(l)
		want := http.StatusOK
		if strings.HasPrefix(u.Path, "/q/") || strings.HasPrefix(u.Path, "/a/") {
			want = http.StatusNotFound
		}
		if status, _ := httpGet(t, base+u.Path); status != want {
			t.Errorf("GET %s of a deleted question: %d, want %d", u.Path, status, want)
		}
	}
}

// checkMailAddresses checks the token-bearing addresses of a mail the
// forum sent: its Reply-To is a reply or confirm address and its
// List-Unsubscribe mailto: an unsubscribe address, each with a token
// that verifies.
func checkMailAddresses(t *testing.T, a *app, r *mail.Reader) {
	t.Helper()
	subject := r.Header.Get("Subject")
	if rt := strings.Trim(r.Header.Get("Reply-To"), "<>"); rt != "" {
		rc, err := a.store.Addresses().Parse(rt)
		if err != nil || (rc.Kind != threads.RcptReply && rc.Kind != threads.RcptConfirm) {
			t.Errorf("%q: Reply-To is %v (%v), want a reply or confirm address", subject, rc.Kind, err)
		}
	}
	for _, m := range regexp.MustCompile(`<mailto:([^?>]+)\?subject=unsubscribe>`).FindAllStringSubmatch(r.Header.Get("List-Unsubscribe"), -1) {
		rc, err := a.store.Addresses().Parse(m[1])
		if err != nil || rc.Kind != threads.RcptUnsubscribe || rc.Token.Person == 0 {
			t.Errorf("%q: List-Unsubscribe mailto is %v %+v (%v), want an unsubscribe address with a token", subject, rc.Kind, rc.Token, err)
		}
	}
}

// httpGet returns the status and body of a GET of u.
func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
