package browsertest

import (
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/postern/postern/internal/systemtest"
)

// TestQuestionPageInBrowser: a question asked by email, two answers, a
// vote, a best answer and a comment by email; the link of a notification
// opened in Chromium shows the best answer first and marked, then the
// other, with votes, points and the comment, the quoted text folded, and
// the browser reports no error. The search and the feeds find it and
// show no address.
func TestQuestionPageInBrowser(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	path := sleepForum(t, f)
	tb := newTab(t)
	js := func(sel, expr string) string {
		return `[...document.querySelectorAll(` + "`" + sel + "`" + `)].map(e => ` + expr + `)`
	}
	tb.do(t, chromedp.Navigate(f.base()+path), chromedp.WaitVisible(`section.answer`))
	authors := value(t, tb, chromedp.Evaluate[[]string](js(`section.answer .entry .author`, `e.textContent`)))
	votes := value(t, tb, chromedp.Evaluate[[]string](js(`.entry .votes .count`, `e.textContent`)))
	points := value(t, tb, chromedp.Evaluate[[]string](js(`.entry .points`, `e.textContent`)))
	best := value(t, tb, chromedp.Text(`section.answer.best .best-mark`))
	comment := value(t, tb, chromedp.Text(`section.answer.best .comment .body`))
	title := value(t, tb, chromedp.Title())
	desc := value(t, tb, chromedp.AttributeValue(`meta[name=description]`, "content")).Value
	quoted := value(t, tb, chromedp.Text(`.question details.quoted`))
	quotedOpen := value(t, tb, chromedp.Evaluate[bool](`document.querySelector('details.quoted').open`))
	if strings.Join(authors, ",") != "Carol,Dave" {
		t.Errorf("answers in order %v, want Carol (best) then Dave", authors)
	}
	if best != "Best answer" || !strings.Contains(comment, "Thanks, trying it tonight.") {
		t.Errorf("best mark %q, comment %q", best, comment)
	}
	// Votes: the question 0, carol's 0, dave's +1. Points as Question2Answer
	// counts them: alice 100+2 asked +3 selected; carol 100+4+30; dave
	// 100+4+2 for the vote.
	if strings.Join(votes, ",") != "0,0,1" || strings.Join(points, ",") != "(105 points),(134 points),(106 points)" {
		t.Errorf("votes %v points %v", votes, points)
	}
	if title != "Waking at 4am" || !strings.HasPrefix(desc, "Every night at 4am") {
		t.Errorf("title %q description %q", title, desc)
	}
	if quotedOpen || !strings.Contains(quoted, "show quoted text") {
		t.Errorf("quoted text not folded (open %v): %q", quotedOpen, quoted)
	}
	rel := value(t, tb, chromedp.AttributeValue(`a[href="https://example.org/sleep"]`, "rel")).Value
	if rel != "nofollow ugc noopener" {
		t.Errorf("link rel %q", rel)
	}
	// The home, unanswered, category, tag and about pages open without
	// error, list the question and show no member's address.
	for _, p := range []string{"/", "/c/sleep", "/t/insomnia", "/about", "/unanswered"} {
		tb.do(t, chromedp.Navigate(f.base()+p))
		text := value(t, tb, chromedp.Text(`body`))
		if p != "/about" && p != "/unanswered" && !strings.Contains(text, "Waking at 4am") {
			t.Errorf("%s does not list the question:\n%s", p, text)
		}
		for _, leak := range []string{"example.org", "example.com", "example.info", "alice@", "carol@", "dave@"} {
			if html := get(t, f.base()+p); strings.Contains(html, leak) && !(p == "/" && leak == "example.org") {
				t.Errorf("%s contains %q", p, leak)
			}
		}
	}
	// The search finds the question by its title, an answer and a
	// comment; the results and the feeds show no member's address.
	for _, p := range []string{"/search?q=waking", "/search?q=magnesium", "/search?q=tonight", "/feed.atom", "/c/sleep/feed.atom"} {
		body := get(t, f.base()+p)
		if !strings.Contains(body, "Waking at 4am") {
			t.Errorf("%s does not list the question", p)
		}
		for _, leak := range []string{"@", "example.org", "example.com", "example.info"} {
			if strings.HasPrefix(p, "/feed") && strings.Contains(body, leak) {
				t.Errorf("%s contains %q", p, leak)
			}
		}
		for _, leak := range []string{"alice@", "carol@", "dave@", "example.com", "example.info"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s contains %q", p, leak)
			}
		}
	}
	tb.noErrors(t)
}

// xss are markup vectors a post by email may carry.
var xss = []string{
	`<script>alert(1)</script>`, `<img src=x onerror=alert(2)>`, `<svg onload=alert(3)><script>alert(4)</script></svg>`,
	`<a href="javascript:alert(5)">x</a>`, `javascript:alert(6)`, `data:text/html,<script>alert(7)</script>`,
	`<iframe src="data:text/html,<script>alert(8)</script>">`, `"><script>alert(9)</script>`, `<body onload=alert(10)>`,
	`<scr<script>ipt>alert(11)</script>`, `<a href=x onmouseover=alert(12)`, `<style>*{display:none}</style>`,
}

// TestEscapingInBrowser: every vector posted by email (in the body, and
// RFC 2047-encoded in the subject and the display name) and by the forms
// (body, name, tags; shown again after a refusal) stays text: the
// page's DOM has no element or attribute from mail, and the browser
// opens no dialog and reports no error.
func TestEscapingInBrowser(t *testing.T) {
	t.Parallel()
	f := startForum(t)
	mallory := "mallory@example.net"
	subject := mime.QEncoding.Encode("utf-8", `<script>alert("s")</script><img src=x onerror=alert(13)>`)
	name := mime.BEncoding.Encode("utf-8", `Mallory" onmouseover="alert(14)" &lt;b&gt; &amp;`)
	systemtest.SendMail(t, f.a, mallory, []string{"ask@forum.test"}, "From: "+name+" <"+mallory+">\nTo: ask@forum.test\nSubject: "+subject+
		"\nMessage-ID: <x1@m.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"+strings.Join(xss, "\n\n")+"\n")
	f.confirm(t, mallory)
	f.answerAsNewcomer(t, "eve@example.com", "Eve", f.questionMessageID(t, 1), strings.Join(xss, "\n"))
	// A From whose encoded name holds an address-like "<...>" is refused
	// as malformed (no trustworthy sender): nothing of it can reach a page.
	systemtest.SendMail(t, f.a, "zed@example.com", []string{"ask@forum.test"}, "From: "+mime.QEncoding.Encode("utf-8", `<b onclick=alert(15)>Zed</b>`)+
		" <zed@example.com>\nTo: ask@forum.test\nSubject: Zed\nMessage-ID: <z1@z.example>\n\nhello\n")
	systemtest.WaitDrained(t, f.a)
	tb := newTab(t)
	// The same vectors typed into the answer form, under a name that is
	// one, and confirmed; and into the ask form, refused (no title) and so
	// shown again with what was typed.
	tb.do(t, chromedp.Navigate(f.base()+"/q/1"), chromedp.WaitVisible(`#f-body`),
		chromedp.SendKeys(`#f-body`, strings.Join(xss, "\n")), chromedp.SendKeys(`#f-name`, `"><script>alert(16)</script>`),
		chromedp.SendKeys(`#f-address`, "webxss@example.org"), chromedp.Click(`.post-form button[type=submit]`), chromedp.WaitNotPresent(`#your-answer`), chromedp.WaitVisible(`main h1`))
	_, req := f.waitFor(t, "webxss@example.org", "Please confirm")
	link := regexp.MustCompile(`https?://forum\.test(/confirm/[A-Za-z0-9_-]+)`).FindSubmatch(req)
	if link == nil {
		t.Fatalf("no confirmation link:\n%s", req)
	}
	tb.do(t, chromedp.Navigate(f.base()+string(link[1])), chromedp.Click(`main form button`), chromedp.WaitNotPresent(`main form`), chromedp.WaitVisible(`main h1`))
	systemtest.WaitDrained(t, f.a)
	tb.do(t, chromedp.Navigate(f.base()+"/ask"), chromedp.WaitVisible(`#f-body`),
		chromedp.SendKeys(`#f-body`, strings.Join(xss, "\n")), chromedp.SendKeys(`#f-tags`, `<img src=x onerror=alert(17)>`),
		chromedp.SendKeys(`#f-address`, "webxss@example.org"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-title').removeAttribute('required')`),
		chromedp.Click(`.post-form button[type=submit]`), chromedp.WaitVisible(`.form-errors`))
	if n := value(t, tb, chromedp.Evaluate[int](`document.querySelectorAll('main script,main img,main svg,main iframe,[onerror],[onload]').length`)); n != 0 {
		t.Errorf("the ask form shown again has %d elements from what was typed", n)
	}
	tb.expectError(t, "status of 400")
	if !strings.Contains(get(t, f.base()+"/q/1"), "alert(16)") {
		t.Error("the web answer is not on the page")
	}
	for _, p := range []string{"/q/1", "/", "/unanswered"} {
		html := get(t, f.base()+p)
		for _, bad := range []string{"<script", "<img", "<svg", "<iframe", "<body onload", "<style", "<b ", `href="javascript`, `href="data`} {
			if strings.Contains(html, bad) {
				t.Errorf("%s has %q as markup", p, bad)
			}
		}
		tb.do(t, chromedp.Navigate(f.base()+p), chromedp.WaitReady(`footer`))
		n := value(t, tb, chromedp.Evaluate[int](`document.querySelectorAll('script,img,svg,iframe,object,embed,style,b,[onerror],[onload],[onclick],[onmouseover],[style]').length`))
		hrefs := value(t, tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))`))
		if n != 0 {
			t.Errorf("%s: %d elements or attributes from mail in the DOM", p, n)
		}
		for _, h := range hrefs {
			if !strings.HasPrefix(h, "/") && !strings.HasPrefix(h, "https://") && !strings.HasPrefix(h, "http://") {
				t.Errorf("%s: link %q", p, h)
			}
		}
	}
	tb.do(t, chromedp.Navigate(f.base()+"/q/1"))
	body := value(t, tb, chromedp.Text(`main`))
	if !strings.Contains(body, `<script>alert(1)</script>`) || !strings.Contains(body, "onerror=alert(13)") {
		t.Errorf("the vectors are not shown as text:\n%s", body)
	}
	tb.noErrors(t)
}

// TestScreenshots writes the home page and a question page at desktop and
// phone widths into the directory POSTERN_SCREENSHOTS names (`make
// screenshots`: docs/screenshots); without it, it is skipped.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("POSTERN_SCREENSHOTS")
	if dir == "" {
		t.Skip("POSTERN_SCREENSHOTS not set (make screenshots)")
	}
	f := startForum(t)
	path := sleepForum(t, f)
	tb := newTab(t)
	for _, s := range []struct {
		name string
		w, h int64
		url  string
	}{
		{"home-desktop.png", 1280, 800, "/"}, {"home-phone.png", 390, 844, "/"},
		{"question-desktop.png", 1280, 1000, path}, {"question-phone.png", 390, 844, path},
	} {
		tb.do(t, chromedp.EmulateViewport(s.w, s.h), chromedp.Navigate(f.base()+s.url), chromedp.WaitReady(`footer`))
		png := value(t, tb, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(dir, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tb.noErrors(t)
}
