package systemtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

// followCategory makes addr a confirmed follower of category sleep only,
// confirmed by replying to the request.
func followCategory(t *testing.T, a *app, relay *sink, addr string) {
	t.Helper()
	sendMail(t, a, addr, []string{"subscribe+sleep@forum.test"}, fmt.Sprintf("From: <%s>\nTo: subscribe+sleep@forum.test\nSubject: follow\nMessage-ID: <fc%d@client.test>\n\n", addr, time.Now().UnixNano()))
	req, _ := relay.waitFor(t, addr, func(r *mail.Reader, raw []byte) bool {
		return subjectHas("Please confirm")(r, raw) && strings.Contains(string(raw), " in Sleep")
	})
	confirmByReply(t, a, addr, req)
	relay.waitFor(t, addr, subjectHas("You are following Sleep"))
}

// postPage posts body to path on a's web server, wants 200 and returns
// the page.
func postPage(t *testing.T, a *app, path, body string) string {
	t.Helper()
	resp, err := http.Post("http://"+a.httpAddr.String()+path, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s (%s): status %d, %v", path, body, resp.StatusCode, err)
	}
	return string(page)
}

// oneLine joins a mail text's lines, so that a sentence wrapped by the
// composer can be searched.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestStopFollowFromNewQuestion: the List-Unsubscribe of a new-question
// mail stops the "list" it came from (RFC 2369, RFC 8058). A follower of
// the forum and a follower of category sleep press one-click on the mail
// of a question in sleep, two others write to its mailto: each follow
// ends, the page or the confirmation mail says which one, and a question
// asked afterwards in sleep reaches none of them (but reaches a follower
// who did not stop). The one-click of an answer notification still mutes
// only its question: the asker hears of no more answers to it, but of
// answers to her other question; so does an unsubscribe token minted
// before (purpose unsubscribe on a new question).
func TestStopFollowFromNewQuestion(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	if _, err := a.store.AddCategory(t.Context(), "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	alice := "alice@example.org"
	forumClick, catClick := "forum-click@example.net", "cat-click@example.net"
	forumMail, catMail := "forum-mail@example.net", "cat-mail@example.net"
	keeper := "keeper@example.net"
	member(t, a, relay, alice, "Alice", "First night")
	for _, f := range []string{forumClick, forumMail, keeper} {
		follow(t, a, relay, f)
		relay.waitFor(t, f, subjectHas("You are following the forum"))
	}
	followCategory(t, a, relay, catClick)
	followCategory(t, a, relay, catMail)

	askAs(t, a, alice, "Dreams at dawn", true)
	q1 := map[string]*mail.Reader{}
	for _, f := range []string{forumClick, catClick, forumMail, catMail, keeper} {
		q1[f], _ = relay.waitFor(t, f, subjectHas("Dreams at dawn"))
	}
	// The footer link's form offers to stop the follows, not the question.
	path, _ := listUnsub(t, q1[forumClick])
	resp, err := http.Get("http://" + a.httpAddr.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(form), `value="follows">Stop emails about new questions`) {
		t.Fatalf("footer form of a new question: %d\n%s", resp.StatusCode, form)
	}
	// An answer to alice's question, for her one-click below.
	reply(t, a, forumClick, q1[forumClick], "Answer-1: write your dreams down.", "")
	ans, _ := relay.waitFor(t, alice, containing("Answer-1:"))

	pages := map[string]string{
		forumClick: "You no longer follow this forum: you will receive no more emails about new questions.",
		catClick:   "You no longer follow the category Sleep: you will receive no more emails about its new questions.",
	}
	for f, want := range pages {
		path, _ := listUnsub(t, q1[f])
		if page := oneLine(postPage(t, a, path, "List-Unsubscribe=One-Click")); !strings.Contains(page, want) {
			t.Errorf("one-click page for %s lacks %q:\n%s", f, want, page)
		}
	}
	mails := map[string]string{
		forumMail: pages[forumClick],
		catMail:   pages[catClick],
	}
	for f, want := range mails {
		_, mt := listUnsub(t, q1[f])
		stopMail(t, a, f, mt, "", "unsubscribe")
		conf, _ := relay.waitFor(t, f, subjectHas("Unsubscribed"))
		if text, _ := bodyText(t, conf); !strings.Contains(oneLine(text), want) {
			t.Errorf("confirmation mail for %s lacks %q:\n%s", f, want, text)
		}
	}
	// A token minted before new-question mail carried the follow stop (of
	// purpose unsubscribe, for the question) still mutes only the question.
	var keeperID, epoch, q1ID int64
	if err := a.pool.QueryRow(t.Context(), `SELECT p.id, p.token_epoch, (SELECT id FROM posts WHERE title = 'Dreams at dawn')
		FROM people p WHERE p.address_hash = $1`, a.store.Keys().AddressHash(keeper)).Scan(&keeperID, &epoch, &q1ID); err != nil {
		t.Fatal(err)
	}
	old := "/unsubscribe/" + a.store.Addresses().UnsubscribeToken(q1ID, keeperID, epoch)
	if page := oneLine(postPage(t, a, old, "List-Unsubscribe=One-Click")); !strings.Contains(page, "You will receive no more emails about this question.") {
		t.Errorf("one-click page of an old token:\n%s", page)
	}
	if resp, err := http.Get("http://" + a.httpAddr.String() + "/unsubscribe/not-a-token"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("footer form of a bad token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// alice stops the answers to "Dreams at dawn" from the answer's mail.
	path, _ = listUnsub(t, ans)
	if page := oneLine(postPage(t, a, path, "List-Unsubscribe=One-Click")); !strings.Contains(page, "You will receive no more emails about this question.") {
		t.Errorf("one-click page of an answer:\n%s", page)
	}
	mtSettle(t, a)

	askAs(t, a, alice, "Restless legs", true)
	q2, _ := relay.waitFor(t, keeper, subjectHas("Restless legs"))
	reply(t, a, keeper, q2, "Answer-2: stretch before bed.", "")
	reply(t, a, keeper, q1[keeper], "Answer-3: a dream diary.", "")
	relay.waitFor(t, alice, containing("Answer-2:"))
	mtSettle(t, a)
	for _, f := range []string{forumClick, catClick, forumMail, catMail} {
		if n := sentTo(relay, f, "Restless legs"); n != 0 {
			t.Errorf("%s: %d mails of the question asked after their stop", f, n)
		}
		if n := mtCount(t, a, `SELECT count(*) FROM subscriptions s JOIN people p ON p.id = s.person_id
			WHERE p.address_hash = $1 AND s.ended_at IS NULL`, a.store.Keys().AddressHash(f)); n != 0 {
			t.Errorf("%s: %d follows still active", f, n)
		}
	}
	if n := mtCount(t, a, `SELECT count(*) FROM mutes WHERE person_id = $1 AND question_id = $2`, keeperID, q1ID); n != 1 {
		t.Errorf("the old token did not mute its question for keeper (%d mutes)", n)
	}
	if n := sentTo(relay, alice, "Answer-3:"); n != 0 {
		t.Errorf("alice got %d mails of an answer to the question she stopped", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM people WHERE unsubscribed_at IS NOT NULL`); n != 0 {
		t.Errorf("%d people unsubscribed from everything; only follows and one question were stopped", n)
	}
}
