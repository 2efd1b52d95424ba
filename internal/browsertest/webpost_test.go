package browsertest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/templates"
)

// TestAnswerByWebForm is the web poster's whole path: open the question
// from a notification's link, answer in the form with a name and an
// address (the address field shows only while the box is ticked, the
// privacy sentence right under it); nothing is shown until the address is
// confirmed through the link of the mailed request; the answer then
// appears under that name; the asker's emailed comment on it reaches the
// web poster by email, whose emailed reply then shows on the page.
func TestAnswerByWebForm(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	path := sleepForum(t, f)
	tb := newTab(t)
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`#your-answer`))
	shown := func() bool {
		return value(t, tb, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('.address-field')).display !== 'none'`))
	}
	if !shown() {
		t.Error("the address field is hidden while the box is ticked")
	}
	tb.do(t, chromedp.Click(`#f-notify`))
	if shown() {
		t.Error("the address field shows after the box is unticked")
	}
	tb.do(t, chromedp.Click(`#f-notify`))
	under := value(t, tb, chromedp.Evaluate[string](`document.querySelector('.notify').nextElementSibling.textContent`))
	if under != templates.PrivacyLine {
		t.Errorf("under the address field: %q, want the privacy sentence", under)
	}
	erin := "erin@example.net"
	tb.do(t, chromedp.SendKeys(`#f-body`, "A warm bath an hour before bed helps me."),
		chromedp.SendKeys(`#f-name`, "Erin"), chromedp.SendKeys(`#f-address`, erin),
		chromedp.Click(`.post-form button[type=submit]`), chromedp.WaitNotPresent(`#your-answer`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Check your email" {
		t.Fatalf("after posting: %q\n%s", h, value(t, tb, chromedp.Text(`main`)))
	}
	systemtest.WaitDrained(t, f.a)
	if page := get(t, f.base()+path); strings.Contains(page, "warm bath") {
		t.Fatal("the answer is shown before its address is confirmed")
	}
	_, req := f.waitFor(t, erin, "Please confirm")
	if !strings.Contains(string(req), "wrote this on the web pages") {
		t.Errorf("the confirmation request does not say it is about a web post:\n%s", req)
	}
	link := regexp.MustCompile(`https?://forum\.test(/confirm/[A-Za-z0-9_-]+)`).FindSubmatch(req)
	if link == nil {
		t.Fatalf("no confirmation link:\n%s", req)
	}
	tb.do(t, chromedp.Navigate(f.base()+string(link[1])), chromedp.Click(`main form button`), chromedp.WaitNotPresent(`main form`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Confirmed" {
		t.Fatalf("after confirming: %q", h)
	}
	systemtest.WaitProcessed(t, f.a)
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	authors := value(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('section.answer .entry .author')].map(e => e.textContent)`))
	if strings.Join(authors, ",") != "Carol,Dave,Erin" {
		t.Errorf("answers %v, want Carol, Dave, then Erin's from the web", authors)
	}
	// The asker comments on Erin's answer by email; Erin, now a member
	// by email, gets it and replies.
	n, _ := f.waitFor(t, "alice@example.org", "warm bath")
	f.reply(t, "alice@example.org", n, "How warm do you make it?")
	c, _ := f.waitFor(t, erin, "How warm do you make it?")
	f.reply(t, erin, c, "About 38 degrees, for twenty minutes.")
	systemtest.WaitDrained(t, f.a)
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	text := value(t, tb, chromedp.Text(`main`))
	for _, want := range []string{"How warm do you make it?", "About 38 degrees"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, text)
		}
	}
	if html := get(t, f.base()+path); strings.Contains(html, "example.net") || strings.Contains(html, "erin@") {
		t.Error("the page shows the web poster's address")
	}
	tb.noErrors(t)
}
