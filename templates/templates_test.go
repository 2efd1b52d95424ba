package templates

import (
	"flag"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postern/postern/threads/mailkind"
)

var dump = flag.Bool("dump", false, "print every rendered mail")

func sample(kind mailkind.Kind) MailData {
	return MailData{
		ForumName:      "Gardeners",
		PosterName:     "Ann Example",
		RecipientName:  "Bob",
		QuestionTitle:  "Why do my tomatoes split?",
		QuestionID:     42,
		PostKind:       map[mailkind.Kind]string{mailkind.NewQuestion: "question", mailkind.Posted: "question", mailkind.Answer: "answer", mailkind.Comment: "comment"}[kind],
		Body:           "First paragraph line one.\nLine two.\n\nSecond paragraph.",
		ParentExcerpt:  "The original question, shortened.",
		ThreadURL:      "https://forum.example.org/q/42",
		ReplyAbove:     true,
		UnsubscribeURL: "https://forum.example.org/u/TOKEN",
		CategoryName:   "Vegetables",
	}
}

func mustNew(t *testing.T) *Set {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// postKinds are the notifications about a post; the others are system
// mail about the person's own request (see TestSystemMail).
var postKinds = []mailkind.Kind{mailkind.Answer, mailkind.Comment, mailkind.NewQuestion, mailkind.Posted}

// TestSystemMail renders the confirmation, unsubscribe and rejection mail
// (their words are in the golden files, TestGoldenMail): each has a
// one-line subject and the privacy line, and escapes user text in HTML.
func TestSystemMail(t *testing.T) {
	s := mustNew(t)
	for _, kind := range []mailkind.Kind{mailkind.Confirm, mailkind.ConfirmSubscribe, mailkind.Unsubscribed, mailkind.Rejected, mailkind.Welcome} {
		subject, text, html, err := s.Mail(kind, goldenData(kind))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if subject == "" || strings.Contains(subject, "\n") {
			t.Errorf("%s: subject %q", kind, subject)
		}
		if !strings.Contains(text, PrivacyLine) {
			t.Errorf("%s: text lacks the privacy line:\n%s", kind, text)
		}
		if strings.Contains(html, "<i>") || !strings.Contains(html, PrivacyLine) {
			t.Errorf("%s: html unescaped or without privacy line:\n%s", kind, html)
		}
	}
}

// TestHTMLTitleNeverEmpty renders every mail kind, about a question and
// about none (system mail such as the welcome, the help or an unsubscribe
// from everything carries no question title), and checks that the HTML
// part's <title> is never empty.
func TestHTMLTitleNeverEmpty(t *testing.T) {
	s := mustNew(t)
	titleRE := regexp.MustCompile(`(?s)<title>(.*?)</title>`)
	for _, kind := range s.MailKinds() {
		for _, title := range []string{"Why do my tomatoes split?", ""} {
			d := sample(kind)
			d.QuestionTitle, d.QuestionID = title, 0
			_, _, html, err := s.Mail(kind, d)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			m := titleRE.FindStringSubmatch(html)
			if m == nil {
				t.Errorf("%s (question title %q): no <title> in the HTML", kind, title)
				continue
			}
			if strings.TrimSpace(m[1]) == "" {
				t.Errorf("%s (question title %q): empty <title>", kind, title)
			}
		}
	}
}

// TestKinds: the set renders exactly the kinds of package mailkind (New
// fails otherwise), each with its three files.
func TestKinds(t *testing.T) {
	s := mustNew(t)
	var names []string
	for _, k := range s.MailKinds() {
		names = append(names, string(k))
	}
	got := strings.Join(names, ",")
	if want := "answer,command,comment,confirm,confirm_subscribe,help,moderate,new_question,posted,rejected,selected,signin,unsubscribed,welcome"; got != want {
		t.Fatalf("MailKinds = %q, want %q", got, want)
	}
}

// TestRenderEveryKind renders each notification about a post: its subject,
// its layout (reply marker first, privacy line last), its links, no
// external content and a 76-column text.
func TestRenderEveryKind(t *testing.T) {
	s := mustNew(t)
	wantSubject := map[mailkind.Kind]string{
		mailkind.NewQuestion: "[Gardeners] Why do my tomatoes split?",
		mailkind.Posted:      "[Gardeners] Why do my tomatoes split?",
		mailkind.Answer:      "Re: [Gardeners] Why do my tomatoes split?",
		mailkind.Comment:     "Re: [Gardeners] Why do my tomatoes split?",
	}
	for _, kind := range postKinds {
		t.Run(string(kind), func(t *testing.T) {
			d := sample(kind)
			subject, text, html, err := s.Mail(kind, d)
			if err != nil {
				t.Fatalf("Mail: %v", err)
			}
			if *dump {
				fmt.Printf("=== %s\nSubject: %s\n\n%s\n---- html\n%s\n", kind, subject, text, html)
			}
			if subject != wantSubject[kind] {
				t.Errorf("subject = %q, want %q", subject, wantSubject[kind])
			}
			// The words are in the golden files (TestGoldenMail); here
			// what every notification keeps: the links to this thread
			// and this unsubscribe, the reply marker, the privacy line.
			for _, w := range []string{
				"View the thread on the web: https://forum.example.org/q/42",
				"Stop these emails: https://forum.example.org/u/TOKEN",
				"\n-- \nReply to this email to ",
			} {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			if !strings.HasSuffix(text, "\n"+PrivacyLine+"\n") {
				t.Errorf("text does not end with one newline after the privacy line: %q", text[max(0, len(text)-100):])
			}
			if !strings.HasPrefix(text, ReplyMarker+"\n") {
				t.Errorf("text does not start with the reply marker")
			}
			for _, w := range []string{
				ReplyMarker, "Hello Bob,", PrivacyLine,
				"<p>First paragraph line one.<br>\nLine two.</p>\n<p>Second paragraph.</p>",
				`href="https://forum.example.org/q/42"`,
				`href="https://forum.example.org/u/TOKEN"`,
			} {
				if !strings.Contains(html, w) {
					t.Errorf("html lacks %q", w)
				}
			}
			checkNoExternal(t, html)
			checkTextWidth(t, text, d)
		})
	}
}

// checkNoExternal asserts the HTML loads nothing and links only to the
// thread and unsubscribe URLs.
func checkNoExternal(t *testing.T, html string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, bad := range []string{"<img", "<link", "<script", "src=", "url(", "<iframe", "@import"} {
		if strings.Contains(lower, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	rest := lower
	for {
		i := strings.Index(rest, "http")
		if i < 0 {
			break
		}
		rest = rest[i:]
		if !strings.HasPrefix(rest, "https://forum.example.org/q/42") && !strings.HasPrefix(rest, "https://forum.example.org/u/token") {
			t.Errorf("html has an unexpected link near %q", rest[:min(len(rest), 40)])
		}
		rest = rest[4:]
	}
}

// checkTextWidth asserts the template's own prose wraps at 76 columns:
// only lines carrying user text or URLs, or the fixed privacy line, may be
// longer.
func checkTextWidth(t *testing.T, text string, d MailData) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if utf8.RuneCountInString(line) <= 76 || line == PrivacyLine {
			continue
		}
		if strings.Contains(line, d.ThreadURL) || strings.Contains(line, d.UnsubscribeURL) ||
			strings.Contains(d.Body, line) || strings.Contains(line, d.QuestionTitle) {
			continue
		}
		t.Errorf("text line over 76 columns: %q", line)
	}
}

func TestHTMLEscapesBody(t *testing.T) {
	s := mustNew(t)
	for _, kind := range postKinds {
		d := sample(kind)
		d.Body = "look <script>alert(1)</script> & \"quotes\"\n\n<b>bold</b>"
		d.QuestionTitle = "<i>title</i>"
		d.PosterName = "<em>Mallory</em>"
		d.ParentExcerpt = "<script>x()</script>"
		d.ThreadURL = "javascript:alert(1)"
		subject, text, html, err := s.Mail(kind, &d)
		if err != nil {
			t.Fatalf("%s: Mail: %v", kind, err)
		}
		for _, bad := range []string{"<script", "<b>", "<i>", "<em>", "javascript:"} {
			if strings.Contains(strings.ToLower(html), bad) {
				t.Errorf("%s: html contains unescaped %q", kind, bad)
			}
		}
		if !strings.Contains(html, "look &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;") {
			t.Errorf("%s: escaped body missing from html", kind)
		}
		// The text part is plain text: user text is kept as it is.
		if !strings.Contains(text, d.Body) {
			t.Errorf("%s: text body changed", kind)
		}
		if !strings.Contains(subject, "<i>title</i>") {
			t.Errorf("%s: subject = %q", kind, subject)
		}
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	s := mustNew(t)
	d := sample(mailkind.Answer)
	d.QuestionTitle = "two\r\nlines\tand   spaces "
	subject, _, _, err := s.Mail(mailkind.Answer, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Re: [Gardeners] two lines and spaces"; subject != want {
		t.Fatalf("subject = %q, want %q", subject, want)
	}
}

func TestOptionalFieldsOmitted(t *testing.T) {
	s := mustNew(t)
	d := MailData{ForumName: "F", PosterName: "P", QuestionTitle: "T", Body: "B"}
	_, text, html, err := s.Mail(mailkind.Comment, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{ReplyMarker, "Hello", "In reply to", "Stop these emails", "View the thread"} {
		if strings.Contains(text, bad) || strings.Contains(html, bad) {
			t.Errorf("output contains %q although its field is empty", bad)
		}
	}
	if !strings.Contains(text, PrivacyLine) || !strings.Contains(html, PrivacyLine) {
		t.Errorf("privacy line missing")
	}
}

func TestKindFilledIn(t *testing.T) {
	s := mustNew(t)
	_, text, _, err := s.Mail(mailkind.NewQuestion, MailData{ForumName: "F", QuestionTitle: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Reply to this email to answer. Your reply is posted publicly") {
		t.Errorf("footer does not say answer:\n%s", text)
	}
	_, text, _, err = s.Mail(mailkind.Answer, &MailData{ForumName: "F", QuestionTitle: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Reply to this email to comment. Your reply is posted publicly") {
		t.Errorf("footer does not say comment:\n%s", text)
	}
}

func TestUnknown(t *testing.T) {
	s := mustNew(t)
	if _, _, _, err := s.Mail("nope", MailData{}); err == nil {
		t.Error("Mail(nope) did not fail")
	}
	if _, err := s.Page("nope", nil); err == nil {
		t.Error("Page(nope) did not fail")
	}
}

func TestMessagePage(t *testing.T) {
	s := mustNew(t)
	out, err := s.Page("message", MessagePage{Title: "Done <ok>", Message: "You are unsubscribed.\n\n<script>no</script>"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"<title>Done &lt;ok&gt;</title>", "<h1>Done &lt;ok&gt;</h1>", "<p>You are unsubscribed.</p>", "&lt;script&gt;no&lt;/script&gt;", "<!DOCTYPE html>"} {
		if !strings.Contains(out, w) {
			t.Errorf("page lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("page has an unescaped script")
	}
}

// TestPagesPromisePrivacyWithoutInlineStyle: every page variant ends with
// the privacy line and carries no inline style or script (the pages'
// Content-Security-Policy forbids them), only the linked stylesheet.
func TestPagesPromisePrivacyWithoutInlineStyle(t *testing.T) {
	s := mustNew(t)
	for _, p := range everyMessagePage() {
		out, err := s.Page("message", p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, PrivacyLine) {
			t.Errorf("page %q lacks the privacy line:\n%s", p.Title, out)
		}
		for _, bad := range []string{"style=", "<style", "<script", "javascript:"} {
			if strings.Contains(out, bad) {
				t.Errorf("page %q has %q:\n%s", p.Title, bad, out)
			}
		}
		if !strings.Contains(out, `<link rel="stylesheet" href="/s/`+StylesheetHash()+`/style.css">`) {
			t.Errorf("page %q does not link the stylesheet", p.Title)
		}
	}
	if css := string(Stylesheet()); !strings.Contains(css, "body {") {
		t.Errorf("stylesheet: %q", css)
	}
}

func TestQuote(t *testing.T) {
	if got, want := quote("a\r\n\r\nb\n"), "> a\n>\n> b"; got != want {
		t.Errorf("quote = %q, want %q", got, want)
	}
	if got := quote(""); got != "" {
		t.Errorf("quote(\"\") = %q", got)
	}
}

// TestAttachmentLinks: a post's files are linked in both parts, escaped
// in HTML, never attached.
func TestAttachmentLinks(t *testing.T) {
	s := mustNew(t)
	d := sample(mailkind.Answer)
	d.Files = []FileLink{{Name: "sleep <log>.pdf", Size: "12 KB", URL: "https://forum.example.org/a/7"}}
	_, text, html, err := s.Mail(mailkind.Answer, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Attachments:\n  sleep <log>.pdf (12 KB): https://forum.example.org/a/7") {
		t.Errorf("text lacks the attachment link:\n%s", text)
	}
	if !strings.Contains(html, `<a href="https://forum.example.org/a/7">sleep &lt;log&gt;.pdf</a>`) {
		t.Errorf("html lacks the escaped attachment link:\n%s", html)
	}
}

// BenchmarkRender measures rendering one answer notification (subject,
// text and HTML), as the dispatcher does per recipient.
func BenchmarkRender(b *testing.B) {
	s, err := New()
	if err != nil {
		b.Fatal(err)
	}
	d := sample(mailkind.Answer)
	d.Body = strings.Repeat("A paragraph of an answer, long enough to be realistic.\n", 40)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := s.Mail(mailkind.Answer, d); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHumanSize: sizes in decimal units, as a file manager shows them.
func TestHumanSize(t *testing.T) {
	for n, want := range map[int]string{300: "300 bytes", 12_345: "12 KB", 3_000_000: "3.0 MB", 8_000_000: "8.0 MB", 1_500_000: "1.5 MB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
