package templates

import (
	htmltemplate "html/template"
	"strings"
	"testing"
)

// everyMessagePage is every page web renders from page/message.html.tmpl:
// each notice, the unsubscribe form of each kind of link, the confirm
// form of an address and a follow, and an unsubscribe's answer.
func everyMessagePage() []MessagePage {
	var out []MessagePage
	for _, n := range Notices() {
		out = append(out, NoticePage(n))
	}
	return append(out,
		StopForm("/unsubscribe/x", false, false), StopForm("/unsubscribe/x", true, false), StopForm("/unsubscribe/x", false, true),
		ConfirmForm("/confirm/x", false), ConfirmForm("/confirm/x", true),
		Stopped(Stop{Question: true}))
}

// TestNoticePages: every notice has its own title and message, and its
// page shows both (escaped) above the privacy line.
func TestNoticePages(t *testing.T) {
	s := mustNew(t)
	seen := map[string]Notice{}
	for _, n := range Notices() {
		p := NoticePage(n)
		if p.Title == "" || p.Message == "" {
			t.Errorf("notice %d: empty title or message", n)
		}
		if o, dup := seen[p.Message]; dup {
			t.Errorf("notices %d and %d say the same", o, n)
		}
		seen[p.Message] = n
		out, err := s.Page("message", p)
		if err != nil {
			t.Fatal(err)
		}
		esc := htmltemplate.HTMLEscapeString
		for _, want := range []string{"<title>" + esc(p.Title) + "</title>", "<h1>" + esc(p.Title) + "</h1>", "<p>" + esc(p.Message) + "</p>"} {
			if !strings.Contains(out, want) {
				t.Errorf("notice %d: page lacks %q:\n%s", n, want, out)
			}
		}
		if strings.Index(out, esc(p.Message)) > strings.Index(out, PrivacyLine) {
			t.Errorf("notice %d: message below the privacy line", n)
		}
		// The search form (a GET) is on every page; a notice has no
		// form that posts.
		if strings.Contains(out, `<form method="post"`) {
			t.Errorf("notice %d: page has a form that posts", n)
		}
	}
	if NoticePage(Notice(999)) != NoticePage(NoticeInternalError) {
		t.Error("an unknown notice is not the internal error page")
	}
	if got := s.ErrorPage(); !strings.Contains(got, "Something went wrong") || !strings.Contains(got, PrivacyLine) {
		t.Errorf("ErrorPage:\n%s", got)
	}
}

// TestFormPages: the unsubscribe form offers the buttons of what its link
// stops, posting to its action; the confirm form one button; neither
// page changes anything by itself (they are the GET answers).
func TestFormPages(t *testing.T) {
	s := mustNew(t)
	for _, c := range []struct {
		p        MessagePage
		want     []string
		wantNot  []string
		sentence string
	}{
		{StopForm("/unsubscribe/tok", false, false), []string{`action="/unsubscribe/tok"`, `value="question"`, `value="all"`}, []string{`value="follows"`}, "this question only"},
		{StopForm("/unsubscribe/tok", true, false), []string{`value="follows"`, `value="all"`}, []string{`value="question"`}, "new questions that you follow"},
		{StopForm("/unsubscribe/tok", false, true), []string{`value="all"`}, []string{`value="question"`, `value="follows"`}, "stop all emails"},
		{ConfirmForm("/confirm/tok", false), []string{`action="/confirm/tok"`, ">Confirm</button>"}, []string{"scope"}, "Your held message is then published"},
		{ConfirmForm("/confirm/tok", true), []string{`action="/confirm/tok"`}, []string{"scope"}, "receive new questions by email"},
	} {
		out, err := s.Page("message", c.p)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range append(c.want, c.sentence) {
			if !strings.Contains(out, w) {
				t.Errorf("%q page lacks %q:\n%s", c.p.Title, w, out)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(out, w) {
				t.Errorf("%q page has %q:\n%s", c.p.Title, w, out)
			}
		}
	}
	if p := Stopped(Stop{Everything: true}); p.Title != "Unsubscribed" || p.Message != StopText(Stop{Everything: true}) {
		t.Errorf("Stopped: %+v", p)
	}
}
