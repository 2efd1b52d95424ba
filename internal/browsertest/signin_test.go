package browsertest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/systemtest"
)

// signInLink matches the sign-in link of a mail (its path).
var signInLink = regexp.MustCompile(`https?://forum\.test(/signin/[A-Za-z0-9_-]+)`)

// signIn asks for a sign-in link for addr in tb, opens the mailed link
// (the first mailed to addr not opened before) and presses its button;
// it returns the link's path.
func (f *forum) signIn(t *testing.T, tb *tab, addr string) string {
	t.Helper()
	tb.do(t, chromedp.Navigate(f.base()+"/signin"), chromedp.WaitVisible(`#f-address`),
		chromedp.SendKeys(`#f-address`, addr), chromedp.Click(`.post-form button[type=submit]`),
		chromedp.WaitNotPresent(`#f-address`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Check your email" {
		t.Fatalf("after asking for a sign-in link: %q\n%s", h, value(t, tb, chromedp.Text(`main`)))
	}
	var link string
	f.relay.WaitFor(t, 0, func(m smtptest.Message) bool {
		l := signInLink.FindSubmatch(m.Data)
		if len(m.To) != 1 || m.To[0] != addr || l == nil || f.used[string(l[1])] {
			return false
		}
		link = string(l[1])
		return true
	})
	f.used[link] = true
	tb.do(t, chromedp.Navigate(f.base()+link), chromedp.WaitVisible(`main form button`))
	if b := value(t, tb, chromedp.Text(`main form button`)); b != "Sign in" {
		t.Fatalf("the link's page has the button %q", b)
	}
	tb.do(t, chromedp.Click(`main form button`), chromedp.WaitVisible(`form.settings`))
	return link
}

// clickThrough clicks the element the script expression finds and waits
// for the page the click loads (the old page is marked, so that the wait
// does not stop at it).
func (tb *tab) clickThrough(t *testing.T, element string) {
	t.Helper()
	value(t, tb, chromedp.Evaluate[bool](`document.body.dataset.old = "1"; `+element+`.click(); true`))
	tb.do(t, chromedp.WaitNotPresent(`body[data-old]`), chromedp.WaitVisible(`main`))
}

// TestSignInByEmail is a member's signed-in path: a sign-in link by
// email (the same page for an address nobody uses, which gets no mail),
// votes, the best answer and an edit with the rules and points of the
// email commands, the settings, a used link refused, signing out, and
// signing out everywhere ending the member's other browser's session.
func TestSignInByEmail(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	path := sleepForum(t, f)
	dave, alice := "dave@example.info", "alice@example.org"
	tb := newTab(t, chromedp.WithNewBrowserContext())

	// Dave votes up the question and Carol's answer; his own answer has
	// no vote form.
	link := f.signIn(t, tb, dave)
	if who := value(t, tb, chromedp.Text(`main .author`)); who != "Dave" {
		t.Errorf("settings page signed in as %q, want Dave", who)
	}
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	if n := value(t, tb, chromedp.Evaluate[int](`[...document.querySelectorAll('section.answer')].filter(s => s.querySelector('.author').textContent === 'Dave' && s.querySelector('form.votes')).length`)); n != 0 {
		t.Error("Dave's own answer has a vote form")
	}
	tb.clickThrough(t, `document.querySelector('.question form.votes button[value=up]')`)
	tb.clickThrough(t, `[...document.querySelectorAll('section.answer')].find(s => s.querySelector('.author').textContent === 'Carol').querySelector('form.votes button[value=up]')`)
	votes := func() []string {
		return value(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.entry .count')].map(e => e.textContent)`))
	}
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	if v := strings.Join(votes(), ","); v != "1,1,1" {
		t.Errorf("votes (question, Carol's best, Dave's) = %s, want 1,1,1", v)
	}
	// Alice, the asker, moves the best answer to Dave's: Dave gets the
	// selected answer's 30 points.
	points := func(who string) string {
		return value(t, tb, chromedp.Evaluate[string](`[...document.querySelectorAll('section.answer')].find(s => s.querySelector('.author').textContent === '`+who+`').querySelector('.points').textContent`))
	}
	before := points("Dave")
	tb2 := newTab(t, chromedp.WithNewBrowserContext())
	f.signIn(t, tb2, alice)
	tb2.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	tb2.clickThrough(t, `[...document.querySelectorAll('section.answer')].find(s => s.querySelector('.author').textContent === 'Dave').querySelector('.best-form button')`)
	first := value(t, tb2, chromedp.Text(`section.answer .author`))
	if first != "Dave" || !strings.Contains(value(t, tb2, chromedp.Text(`section.answer`)), "Best answer") {
		t.Errorf("after selecting Dave's answer the first answer is %q's", first)
	}
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	if after := points("Dave"); before != "(106 points)" || after != "(136 points)" {
		t.Errorf("Dave's points %s before the selection, %s after; want 106 and 136", before, after)
	}
	_, sel := f.waitFor(t, dave, "selected")
	if !strings.Contains(string(sel), "Magnesium") {
		t.Errorf("the selected mail does not name Dave's answer:\n%s", sel)
	}

	// Alice edits her question: the page shows the new text, "edited".
	tb2.clickThrough(t, `document.querySelector('.question > .entry a.edit')`)
	if h := value(t, tb2, chromedp.Text(`main h1`)); h != "Edit your post" {
		t.Fatalf("the edit link opens %q", h)
	}
	tb2.do(t, chromedp.SetValue(`#f-body`, "Every night at 4am I am awake, even on holiday. What helps?"))
	tb2.clickThrough(t, `document.querySelector('.post-form button[type=submit]')`)
	q := value(t, tb2, chromedp.Text(`.question .entry`))
	if !strings.Contains(q, "even on holiday") || !strings.Contains(q, "edited") {
		t.Errorf("after the edit the question reads:\n%s", q)
	}
	if n := value(t, tb2, chromedp.Evaluate[int](`document.querySelectorAll('section.answer > .entry a.edit').length`)); n != 0 {
		t.Error("Alice is offered to edit others' answers")
	}
	if n := value(t, tb2, chromedp.Evaluate[int](`document.querySelectorAll('.comments a.edit').length`)); n != 1 {
		t.Errorf("Alice is offered to edit %d comments, want her own one", n)
	}

	// Dave's settings: no more mail when his answers are selected or
	// commented on.
	tb.do(t, chromedp.Navigate(f.base()+"/settings"), chromedp.WaitVisible(`form.settings`),
		chromedp.Click(`#s-answers`), chromedp.Click(`form.settings button`), chromedp.WaitVisible(`.saved`))
	tb.do(t, chromedp.Navigate(f.base()+"/settings"), chromedp.WaitVisible(`form.settings`))
	if on := value(t, tb, chromedp.Evaluate[bool](`document.querySelector('#s-answers').checked`)); on {
		t.Error("the answers setting is on again after saving it off")
	}
	if !value(t, tb, chromedp.Evaluate[bool](`document.querySelector('#s-questions').checked`)) {
		t.Error("saving one setting turned another off")
	}

	// Signed in, Dave asks in the form: no name or address fields, and
	// the question is published under his name at once, unconfirmed by
	// mail (the session shows he wrote it).
	tb.do(t, chromedp.Navigate(f.base()+"/ask"), chromedp.WaitVisible(`#f-title`))
	if n := value(t, tb, chromedp.Evaluate[int](`document.querySelectorAll('#f-address, #f-name').length`)); n != 0 {
		t.Error("the signed-in ask form asks for a name or an address")
	}
	tb.do(t, chromedp.SendKeys(`#f-title`, "Does reading in bed help?"), chromedp.SendKeys(`#f-body`, "I read for an hour every night."))
	tb.clickThrough(t, `document.querySelector('.post-form button[type=submit]')`)
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Thank you" {
		t.Fatalf("after asking signed in: %q\n%s", h, value(t, tb, chromedp.Text(`main`)))
	}
	systemtest.WaitDrained(t, f.a)
	if home := get(t, f.base()+"/"); !strings.Contains(home, "Does reading in bed help?") {
		t.Errorf("the signed-in member's question is not on the home page:\n%s", home)
	}
	for _, m := range f.relay.Messages() {
		if m.To[0] == dave && strings.Contains(string(m.Data), "Please confirm your message: Does reading") {
			t.Error("the signed-in member was asked to confirm their own question")
		}
	}

	// A used link signs in no more.
	tb.do(t, chromedp.Navigate(f.base()+link), chromedp.Click(`main form button`), chromedp.WaitNotPresent(`main form`), chromedp.WaitVisible(`main h1`))
	tb.expectError(t, "status of 404")
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Link not valid" {
		t.Errorf("a used sign-in link gives %q", h)
	}

	// Sign out in one browser; Dave signs in in another, then signs out
	// everywhere from the first: the other's session ends too.
	tb.do(t, chromedp.Navigate(f.base()+"/settings"), chromedp.WaitVisible(`form.settings`),
		chromedp.Click(`form[action="/signout"] button`), chromedp.WaitNotPresent(`form.settings`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Signed out" {
		t.Errorf("after signing out: %q", h)
	}
	tb.do(t, chromedp.Navigate(f.base()+"/settings"), chromedp.WaitVisible(`#f-address`))
	tb3 := newTab(t, chromedp.WithNewBrowserContext())
	f.signIn(t, tb3, dave)
	f.signIn(t, tb, dave)
	tb.do(t, chromedp.Click(`form[action="/signout/everywhere"] button`), chromedp.WaitNotPresent(`form.settings`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Signed out everywhere" {
		t.Errorf("after signing out everywhere: %q", h)
	}
	tb3.do(t, chromedp.Navigate(f.base()+"/settings"), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb3, chromedp.Text(`main h1`)); h != "Sign in" {
		t.Errorf("the other browser's session survived signing out everywhere: %q", h)
	}

	// An address nobody uses gets the same page, and no mail.
	tb.do(t, chromedp.Navigate(f.base()+"/signin"), chromedp.WaitVisible(`#f-address`),
		chromedp.SendKeys(`#f-address`, "nobody@example.com"), chromedp.Click(`.post-form button[type=submit]`),
		chromedp.WaitNotPresent(`#f-address`), chromedp.WaitVisible(`main h1`))
	if h := value(t, tb, chromedp.Text(`main h1`)); h != "Check your email" {
		t.Errorf("an unknown address gets %q, not the page a member gets", h)
	}
	systemtest.WaitDrained(t, f.a)
	for _, m := range f.relay.Messages() {
		if strings.Join(m.To, ",") == "nobody@example.com" {
			t.Error("a sign-in link was mailed to an address nobody uses")
		}
	}
	for _, tt := range []*tab{tb, tb2, tb3} {
		tt.noErrors(t)
	}
}
