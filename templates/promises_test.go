package templates

import (
	"strings"
	"testing"

	"github.com/postern/postern/threads/mailkind"
)

// TestMailsPromiseOnlyWhatIsKept: no mail promises what the code does not
// keep. A third party can cause more mail after an unsubscribe (a forged
// From: to the reply token asks for a confirmation; a second stop sends a
// second notice), each message without evidence is asked about again, and
// accept is the asker's or a moderator's (threads selectAnswer).
func TestMailsPromiseOnlyWhatIsKept(t *testing.T) {
	s := mustNew(t)
	for _, c := range []struct {
		kind         mailkind.Kind
		reason       string
		never, wants []string
	}{
		// Writing to the forum clears no stop (only confirming a follow
		// clears a stop of everything, and nothing unmutes a question).
		{mailkind.Unsubscribed, "You will receive no more emails from this forum.", []string{"only email we send", "write to the forum again"}, nil},
		{mailkind.Confirm, "", []string{"only time we ask"}, []string{"we ask again"}},
		{mailkind.Help, "", []string{"the asker only"}, []string{"the asker or a moderator"}},
	} {
		d := goldenData(c.kind)
		d.Reason = c.reason
		_, text, html, err := s.Mail(c.kind, d)
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		for part, body := range map[string]string{"text": strings.Join(strings.Fields(text), " "), "html": html} {
			for _, n := range c.never {
				if strings.Contains(body, n) {
					t.Errorf("%s %s promises %q:\n%s", c.kind, part, n, body)
				}
			}
			for _, w := range c.wants {
				if !strings.Contains(body, w) {
					t.Errorf("%s %s lacks %q:\n%s", c.kind, part, w, body)
				}
			}
		}
	}
}

// TestUnprovenStopUndo: the notice of a stop that did not show it came
// from the person tells them to follow new questions "again" only when
// the stop ended a follow; a stop of everything (which may have ended
// none) says what writing to subscribe does.
func TestUnprovenStopUndo(t *testing.T) {
	const again = "to follow new questions again"
	for _, c := range []struct {
		st    Stop
		again bool
		want  string
	}{
		{Stop{Follow: true, Forum: true}, true, "write to subscribe@f.test " + again},
		{Stop{Follow: true, Categories: []string{"veg"}}, true, "write to subscribe@f.test " + again},
		{Stop{Follow: true}, false, "nothing to undo"},
		{Stop{Everything: true}, false, "write to subscribe@f.test to receive emails again"},
		{Stop{Question: true}, false, "postmaster@f.test"},
	} {
		got := NoteUnprovenStop(c.st, true, "subscribe@f.test", "postmaster@f.test")
		if strings.Contains(got, again) != c.again || !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q (want %q, %q: %v)", c.st, got, c.want, again, c.again)
		}
	}
}
