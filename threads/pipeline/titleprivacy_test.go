package pipeline

import (
	"context"
	"strings"
	"testing"
)

// TestQuestionTitleHasNoAddress checks that a question's title, which
// every follower's notification subject, the page and the read commands
// show, keeps no address from its subject: neither a member's (as the
// body loses it) nor any other, plain or RFC 2047 encoded.
func TestQuestionTitleHasNoAddress(t *testing.T) {
	st := newTestStore(t)
	confirmedPerson(t, st, "yan@example.org", "Yan")
	confirmedPerson(t, st, "carol@example.com", "Carol")
	confirmedPerson(t, st, "dave@example.com", "Dave")
	for i, c := range []struct{ subject, want string }{
		{"Ask carol@example.com or dave@example.com about it", "Ask [address removed] or [address removed] about it"},
		{"=?utf-8?q?Yan_asks_dave=40example=2Ecom?=", "Yan asks [address removed]"},
		{"Re: write to stranger@example.net #help", "write to [address removed]"},
	} {
		raw := "From: <yan@example.org>\r\nTo: ask@forum.test\r\nSubject: " + c.subject +
			"\r\nMessage-ID: <t" + string(rune('a'+i)) + "@x>\r\n\r\nWho knows? carol@example.com\r\n"
		_, _, post := inboundState(t, st, deliver(t, st, "yan@example.org", []string{"ask@forum.test"}, raw))
		var title, body string
		err := st.Pool().QueryRow(context.Background(), `SELECT title, body FROM posts WHERE id = $1`, post).Scan(&title, &body)
		if err != nil {
			t.Fatal(err)
		}
		if title != c.want {
			t.Errorf("subject %q: title %q, want %q", c.subject, title, c.want)
		}
		if strings.Contains(title+body, "@") {
			t.Errorf("subject %q: stored %q / %q keeps an address", c.subject, title, body)
		}
	}
}
