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
)

// confirmNewSender answers the confirmation request sent to addr.
func confirmNewSender(t *testing.T, a *app, relay *sink, addr string) {
	t.Helper()
	req, _ := relay.waitFor(t, addr, subjectHas("Please confirm"))
	confirmByReply(t, a, addr, req)
}

func containing(s string) func(*mail.Reader, []byte) bool {
	return func(_ *mail.Reader, raw []byte) bool { return bytes.Contains(raw, []byte(s)) }
}

// TestForumByEmail: carol follows a category; alice asks in it; carol
// receives the question and answers by reply; dave answers too; alice
// votes +1 on dave's answer and accepts carol's; carol is told; the thread
// shows the best answer, votes and points; the question is closed and a
// reply to it is refused with an explanation.
func TestForumByEmail(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, _ := testAppWith(t, relay, func(c *Config) { c.Forum.CloseOnSelect = true })
	ctx := context.Background()
	if _, err := a.store.AddCategory(ctx, "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	alice, carol, dave := "alice@example.org", "carol@example.com", "dave@example.info"

	// carol follows the category (double opt-in).
	sendMail(t, a, carol, []string{"subscribe+sleep@forum.test"}, "From: Carol <"+carol+">\nTo: subscribe+sleep@forum.test\nSubject: follow\nMessage-ID: <f1@c.example>\n\n")
	confirmNewSender(t, a, relay, carol)

	// alice asks in it, with tags.
	sendMail(t, a, alice, []string{"ask+sleep@forum.test"}, "From: Alice <"+alice+">\nTo: ask+sleep@forum.test\nSubject: Waking at 4am #insomnia\nMessage-ID: <q1@a.example>\n\nTags: night\n\nEvery night at 4am I am awake.\n")
	confirmNewSender(t, a, relay, alice)
	newQ, _ := relay.waitFor(t, carol, subjectHas("Waking at 4am"))

	// carol answers by reply (from a client that names its message);
	// dave (new) answers too and confirms.
	carolTo := strings.Trim(header(newQ, "Reply-To"), "<>")
	sendMail(t, a, carol, []string{carolTo}, fmt.Sprintf("From: Carol <%s>\nTo: %s\nSubject: Re: Waking at 4am\nMessage-ID: <carol-answer@c.example>\nIn-Reply-To: %s\n\nNo screens after 9pm.\n",
		carol, carolTo, header(newQ, "Message-Id")))
	carolAns, _ := relay.waitFor(t, alice, containing("No screens after 9pm"))
	sendMail(t, a, dave, []string{"notifications@forum.test"}, fmt.Sprintf("From: Dave <%s>\nTo: notifications@forum.test\nSubject: Re: Waking\nMessage-ID: <d1@d.example>\nReferences: %s\n\nMagnesium before bed.\n", dave, header(newQ, "Message-Id")))
	confirmNewSender(t, a, relay, dave)
	daveAns, _ := relay.waitFor(t, alice, containing("Magnesium before bed"))

	// alice votes +1 on dave's answer and accepts carol's.
	reply(t, a, alice, daveAns, "+1", "")
	reply(t, a, alice, carolAns, "accept", "")
	relay.waitFor(t, carol, subjectHas("Waking at 4am"))
	sel, _ := relay.waitFor(t, carol, containing("selected as the best answer"))
	waitProcessed(t, a)
	// The "selected" mail is threaded under the answer carol sent: her
	// client's Message-ID, after the question's and before her answer's
	// forum ids.
	var qID, aID string
	if err := a.pool.QueryRow(ctx, `SELECT q.message_id, p.message_id FROM posts p JOIN posts q ON q.id = p.question_id
		WHERE p.kind = 'answer' AND p.body = 'No screens after 9pm.'`).Scan(&qID, &aID); err != nil {
		t.Fatal(err)
	}
	if got := header(sel, "In-Reply-To"); got != "<carol-answer@c.example>" {
		t.Errorf("selected mail In-Reply-To %q, want carol's own Message-ID", got)
	}
	if got, want := header(sel, "References"), "<"+qID+"> <carol-answer@c.example> <"+aID+">"; got != want {
		t.Errorf("selected mail References %q, want %q", got, want)
	}

	th, err := a.store.GetThread(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if th.Category != "Sleep" || strings.Join(th.Tags, ",") != "insomnia,night" || th.Title != "Waking at 4am" {
		t.Errorf("question: category %q tags %v title %q", th.Category, th.Tags, th.Title)
	}
	if th.State != "closed" {
		t.Errorf("question state %q, want closed (close_on_select)", th.State)
	}
	if len(th.Answers) != 2 {
		t.Fatalf("answers: %+v", th.Answers)
	}
	ca, da := th.Answers[0], th.Answers[1]
	if th.BestAnswer == nil || *th.BestAnswer != ca.ID || !ca.Best || da.Best {
		t.Errorf("best answer %v, carol's %d", th.BestAnswer, ca.ID)
	}
	if ca.Votes != 0 || da.Votes != 1 {
		t.Errorf("votes: carol %d dave %d, want 0 and 1", ca.Votes, da.Votes)
	}
	// Question2Answer's points: 100 to start; asking 2, selecting 3;
	// answering 4, being selected 30; an up vote on an answer 2.
	if th.AuthorPoints != 105 || ca.AuthorPoints != 134 || da.AuthorPoints != 106 {
		t.Errorf("points: alice %d carol %d dave %d, want 105 134 106", th.AuthorPoints, ca.AuthorPoints, da.AuthorPoints)
	}
	// A vote is not a post and sends nothing; voting twice replaces.
	reply(t, a, alice, daveAns, "-1", "")
	waitProcessed(t, a)
	th, _ = a.store.GetThread(ctx, 1)
	if th.Answers[1].Votes != -1 {
		t.Errorf("second vote did not replace the first: %d", th.Answers[1].Votes)
	}

	// The question is closed: dave's reply is refused with an explanation.
	reply(t, a, dave, newQ, "One more idea: a warm bath.", "")
	rej, _ := relay.waitFor(t, dave, subjectHas("was not posted"))
	text, _ := bodyText(t, rej)
	if !strings.Contains(text, "closed") {
		t.Errorf("refusal does not explain: %s", text)
	}
	th, _ = a.store.GetThread(ctx, 1)
	if len(th.Answers) != 2 {
		t.Errorf("a reply to a closed question was posted")
	}

	// carol edits her answer.
	relay.waitFor(t, carol, containing("No screens after 9pm"))
	ownN, _ := relay.waitFor(t, carol, containing("selected as the best answer"))
	reply(t, a, carol, ownN, "edit\nNo screens after 9pm, and a dark room.", "")
	waitProcessed(t, a)
	th, _ = a.store.GetThread(ctx, 1)
	if th.Answers[0].Body != "No screens after 9pm, and a dark room." || th.Answers[0].EditedAt == nil {
		t.Errorf("edit: %q edited %v", th.Answers[0].Body, th.Answers[0].EditedAt)
	}
	// The question page shows the edited answer as edited, and when;
	// the unedited question is not.
	_, page := httpGet(t, fmt.Sprintf("http://%s/q/%d", a.httpAddr, th.ID))
	if n := strings.Count(page, "edited <time"); n != 1 || !strings.Contains(page, th.Answers[0].EditedAt.UTC().Format("2006-01-02T15:04:05Z")) {
		t.Errorf("question page shows %d edited marks, want 1 with the edit's time:\n%s", n, page)
	}
}

// TestModerationByEmail: with moderation on, a newcomer's question waits
// for a moderator; the moderator approves it by replying "approve" to the
// moderation mail, and only then do followers hear of it.
func TestModerationByEmail(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, _ := testAppWith(t, relay, func(c *Config) { c.Forum.ModeratePointsBelow = 101 })
	ctx := context.Background()
	mod, bob, erin := "mod@example.org", "bob@example.net", "erin@example.com"
	follow(t, a, relay, mod)
	follow(t, a, relay, bob)
	if err := a.store.SetModerator(ctx, mod, true); err != nil {
		t.Fatal(err)
	}
	sendMail(t, a, erin, []string{"ask@forum.test"}, "From: Erin <"+erin+">\nTo: ask@forum.test\nSubject: Racing thoughts\nMessage-ID: <e1@e.example>\n\nHow do I slow them down?\n")
	confirmNewSender(t, a, relay, erin)
	modN, _ := relay.waitFor(t, mod, subjectHas("Waiting for approval: Racing thoughts"))
	if !strings.Contains(header(modN, "From"), "moderate@forum.test") {
		t.Errorf("moderation mail From = %q", header(modN, "From"))
	}
	waitDrained(t, a)
	for _, s := range relay.all() {
		if s.To[0] == bob && bytes.Contains(s.Data, []byte("Racing thoughts")) {
			t.Fatal("a follower was told of a post before its approval")
		}
	}
	if qs, _ := a.store.ListQuestions(ctx, 10); len(qs) != 0 {
		t.Fatal("a queued question is visible")
	}
	if q, _ := a.store.ModerationQueue(ctx); len(q) != 1 {
		t.Fatalf("moderation queue: %+v", q)
	}
	// The moderator replies to the From address (ignoring Reply-To).
	sendMail(t, a, mod, []string{"moderate@forum.test"}, fmt.Sprintf("From: <%s>\nTo: moderate@forum.test\nSubject: Re\nMessage-ID: <m1@m.example>\nIn-Reply-To: %s\n\napprove\n", mod, header(modN, "Message-Id")))
	relay.waitFor(t, bob, subjectHas("Racing thoughts"))
	if qs, _ := a.store.ListQuestions(ctx, 10); len(qs) != 1 {
		t.Fatal("approved question not visible")
	}
}

// TestWebConfirmAndDownload: the confirmation link's GET only shows a
// button (link scanners must not confirm); its POST confirms and
// publishes; the post's attachment is linked from the notification and
// served as a download.
func TestWebConfirmAndDownload(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	erin := "erin@example.com"
	u, _ := url.Parse(askSleepDiary(t, a, relay, erin))
	base := "http://" + a.httpAddr.String()
	resp, err := http.Get(base + u.Path)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET confirm: %v %v", resp, err)
	}
	resp.Body.Close()
	if qs, _ := a.store.ListQuestions(ctx, 5); len(qs) != 0 {
		t.Fatal("a GET of the confirmation link confirmed")
	}
	resp, err = http.Post(base+u.Path, "application/x-www-form-urlencoded", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST confirm: %v %v", resp, err)
	}
	resp.Body.Close()
	posted, _ := relay.waitFor(t, erin, subjectHas("] My sleep diary"))
	ptext, _ := bodyText(t, posted)
	dl := regexp.MustCompile(`https?://\S+/a/\d+`).FindString(ptext)
	if dl == "" {
		t.Fatalf("no attachment link in the notification:\n%s", ptext)
	}
	du, _ := url.Parse(dl)
	resp, err = http.Get(base + du.Path)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Mon 4am, Tue 3am, Wed 5am.\n" && string(body) != "Mon 4am, Tue 3am, Wed 5am." {
		t.Errorf("downloaded %q", body)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "diary.txt") {
		t.Errorf("Content-Disposition %q", cd)
	}
}

// TestHelpAndBlockedWords: help@ answers a confirmed member with the guide
// (and an unconfirmed address with nothing); blocked words are censored in
// notifications and in the thread.
func TestHelpAndBlockedWords(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, _ := testAppWith(t, relay, func(c *Config) { c.Forum.BlockedWords = []string{"darn"} })
	alice, stranger := "alice@example.org", "stranger@example.com"
	sendMail(t, a, alice, []string{"ask@forum.test"}, "From: Alice <"+alice+">\nTo: ask@forum.test\nSubject: Darn insomnia\nMessage-ID: <d1@a.example>\n\nIt is darn hard.\n")
	confirmNewSender(t, a, relay, alice)
	posted, _ := relay.waitFor(t, alice, subjectHas("] **** insomnia"))
	if text, _ := bodyText(t, posted); strings.Contains(strings.ToLower(text), "darn") {
		t.Errorf("blocked word in a notification:\n%s", text)
	}
	if th, _ := a.store.GetThread(context.Background(), 1); th == nil || th.Title != "**** insomnia" {
		t.Errorf("thread title not censored: %+v", th)
	}
	for _, who := range []string{alice, stranger} {
		sendMail(t, a, who, []string{"help@forum.test"}, "From: <"+who+">\nTo: help@forum.test\nSubject: help\nMessage-ID: <h-"+who+">\n\nhelp\n")
	}
	guide, _ := relay.waitFor(t, alice, subjectHas("How to use"))
	text, _ := bodyText(t, guide)
	for _, w := range []string{"ask@forum.test", "subscribe+CATEGORY@forum.test", "+1 / -1", "accept"} {
		if !strings.Contains(text, w) {
			t.Errorf("guide lacks %q", w)
		}
	}
	waitDrained(t, a)
	for _, s := range relay.all() {
		if s.To[0] == stranger {
			t.Fatal("an unconfirmed address received mail in answer to help@")
		}
	}
}
