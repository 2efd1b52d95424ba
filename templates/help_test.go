package templates

import (
	htmltemplate "html/template"
	"strings"
	"testing"

	"github.com/postern/postern/threads/mailkind"
)

// TestHelpGuide: the help mail lists every address of the guide with what
// it does, in the text and (escaped) in the HTML body.
func TestHelpGuide(t *testing.T) {
	s := mustNew(t)
	fa := ForumAddresses{
		Ask: "ask@f.test", AskCategory: "ask+CATEGORY@f.test",
		Subscribe: "subscribe@f.test", SubscribeCategory: "subscribe+CATEGORY@f.test",
		Unsubscribe: "unsubscribe@f.test", UnsubscribeCategory: "unsubscribe+CATEGORY@f.test",
		Help: "help@f.test",
	}
	_, text, html, err := s.Mail(mailkind.Help, MailData{ForumName: "F", Forum: fa})
	if err != nil {
		t.Fatal(err)
	}
	guide := fa.Guide()
	if len(guide) != 6 {
		t.Fatalf("guide has %d lines, want 6", len(guide))
	}
	// As html/template escapes element text (it escapes "+" too).
	esc := func(s string) string { return strings.ReplaceAll(htmltemplate.HTMLEscapeString(s), "+", "&#43;") }
	for _, g := range guide {
		if g.Address == "" || g.What == "" {
			t.Errorf("empty guide line %+v", g)
		}
		if !strings.Contains(text, "  "+g.Address+"\n      "+g.What+"\n") {
			t.Errorf("text lacks %q: %q", g.Address, g.What)
		}
		if !strings.Contains(html, "<li><code>"+esc(g.Address)+"</code>: "+esc(g.What)+"</li>") {
			t.Errorf("html lacks %q: %q\n%s", g.Address, g.What, html)
		}
	}
	if !strings.Contains(text, "unsubscribe+CATEGORY@f.test stops one category") {
		t.Errorf("text lacks the category stop:\n%s", text)
	}
}
