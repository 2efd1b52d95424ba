package systemtest

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

// TestWebGuests: with POSTERN_WEB_GUESTS on, a form without an address
// is published at once under the name given, as a guest's: the asker is
// told of a guest's answer, nothing is ever sent towards the guest (a
// comment on their answer notifies nobody), the same form sent twice
// posts once, tags and category work as by mail, and a network's guest
// posts count against its hourly limit. Off (the default), the same form
// asks for an address (TestWebFormRefusals).
func TestWebGuests(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, _ := Start(t, relay, func(c *Config) {
		c.Forum.WebGuests = true
		c.Forum.Rates.RepliesPerIP = 2
	})
	if _, err := a.Store().AddCategory(context.Background(), "sleep", "Sleep"); err != nil {
		t.Fatal(err)
	}
	member(t, a, relay, "gus@example.org", "Gus", "Why do I dream?") // question 1
	b := newBrowser(t, a)
	page := b.get("/q/1")
	if !strings.Contains(page, "Without an address your post is published as a guest") {
		t.Errorf("the answer form does not say guest posts are published:\n%s", page)
	}
	answer := url.Values{"token": {formToken(t, page)}, "body": {"Dreams sort the day's memories."}, "name": {"Quinn"}}
	for range 2 {
		if status, page := b.do("POST", "/q/1/answer", answer, nil); status != 200 || !strings.Contains(page, "published as a guest") {
			t.Fatalf("guest answer: %d\n%s", status, page)
		}
	}
	n, _ := relay.waitFor(t, "gus@example.org", func(r *mail.Reader, raw []byte) bool { return strings.Contains(header(r, "From"), "Quinn") })
	if c := mtCount(t, a, `SELECT count(*) FROM posts WHERE kind = 'answer' AND state = 'visible'`); c != 1 {
		t.Errorf("%d answers shown for one guest form sent twice, want 1", c)
	}
	if page := b.get("/q/1"); !strings.Contains(page, "Quinn") || !strings.Contains(page, "Dreams sort") {
		t.Errorf("the guest's answer is not on the page:\n%s", page)
	}
	// Gus comments on the guest's answer: nobody is notified of it.
	before := len(relay.all())
	replyTo := strings.Trim(header(n, "Reply-To"), "<>")
	sendMail(t, a, "gus@example.org", []string{replyTo}, "From: Gus <gus@example.org>\nTo: "+replyTo+"\nSubject: Re: x\nMessage-ID: <c1@g.example>\n\nThanks, Quinn.\n")
	waitDrained(t, a)
	if c := mtCount(t, a, `SELECT count(*) FROM posts WHERE kind = 'comment' AND state = 'visible'`); c != 1 {
		t.Fatalf("%d comments shown, want Gus's one", c)
	}
	for _, m := range relay.all()[before:] {
		t.Errorf("mail sent after a comment on a guest's answer, to %v", m.To)
	}
	// A guest's question with tags and a category.
	ask := url.Values{"token": {formToken(t, b.get("/ask"))}, "title": {"Do naps help?"}, "body": {"Twenty minutes at noon."},
		"category": {"sleep"}, "tags": {"naps"}}
	if status, page := b.do("POST", "/ask", ask, nil); status != 200 || !strings.Contains(page, "published as a guest") {
		t.Fatalf("guest question: %d\n%s", status, page)
	}
	waitDrained(t, a)
	var id int64
	if err := a.pool.QueryRow(context.Background(), `SELECT id FROM posts WHERE title = 'Do naps help?' AND state = 'visible'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	q := b.get("/q/" + strconv.FormatInt(id, 10))
	for _, want := range []string{`href="/c/sleep"`, `href="/t/naps"`, "Twenty minutes", "Anonymous"} {
		if !strings.Contains(q, want) {
			t.Errorf("the guest's question page lacks %q", want)
		}
	}
	// The network's second and third guest answers: the third is over
	// the limit of two an hour.
	second := url.Values{"token": {formToken(t, b.get("/q/1"))}, "body": {"Another thought."}, "name": {"me@example.net"}}
	if status, _ := b.do("POST", "/q/1/answer", second, nil); status != 200 {
		t.Fatalf("second guest answer: %d", status)
	}
	waitDrained(t, a)
	if page := b.get("/q/1"); !strings.Contains(page, "Another thought.") || strings.Contains(page, "example.net") {
		t.Errorf("a guest's name that is an address is shown, or the answer is not:\n%s", page)
	}
	third := url.Values{"token": {formToken(t, b.get("/q/1"))}, "body": {"A third thought."}}
	if status, page := b.do("POST", "/q/1/answer", third, nil); status != 429 || !strings.Contains(page, "Too many posts from your network") {
		t.Errorf("third guest answer in an hour: %d\n%s", status, page)
	}
	if c := mtCount(t, a, `SELECT count(*) FROM people WHERE address_hash IS NULL`); c != 3 {
		t.Errorf("%d people without an address, want the 3 guest posts'", c)
	}
}
