package templates

import (
	"strings"

	"github.com/postern/postern/threads/mailkind"
)

// Stop says what an unsubscribe stopped, so that the page answering it
// and the mail confirming it say exactly that (StopText).
type Stop = mailkind.Stopped

// StopText is the plain sentence telling the person what s stopped. It
// names categories, never an address.
func StopText(s Stop) string {
	switch {
	case s.Everything:
		return "You will receive no more emails from this forum."
	case s.Question:
		return "You will receive no more emails about this question."
	case !s.Follow:
		return "Nothing was stopped."
	}
	const own = " Emails about your own questions and answers still come; to stop them too, unsubscribe from all emails."
	cats := ""
	if len(s.Categories) > 0 {
		cats = "the category " + strings.Join(s.Categories, ", the category ")
	}
	switch {
	case s.Forum && cats != "":
		return "You no longer follow this forum or " + cats + ": you will receive no more emails about new questions." + own
	case s.Forum:
		return "You no longer follow this forum: you will receive no more emails about new questions." + own
	case cats != "":
		return "You no longer follow " + cats + ": you will receive no more emails about its new questions." + own
	}
	return "You had already stopped following these new questions: nothing more to stop." + own
}
