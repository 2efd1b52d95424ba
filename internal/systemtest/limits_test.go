package systemtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// deepMessage returns a message whose text lies depth multiparts deep.
func deepMessage(head string, depth int, text string) string {
	var sb strings.Builder
	sb.WriteString(head)
	sb.WriteString("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&sb, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", i-1, i)
	}
	fmt.Fprintf(&sb, "--b%d\nContent-Type: text/plain\n\n%s\n", depth-1, text)
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "--b%d--\n", i)
	}
	return sb.String()
}

// TestDeepNestingBecomesPost: a question and a reply nested deeper than
// the MIME depth limit become posts that say parts were dropped, never
// empty posts or refusals; within the limit the text is read.
func TestDeepNestingBecomesPost(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	dana := "dana@example.com"
	first := mtAskConfirmed(t, a, relay, dana, "Dana", "First question", "Hello.")

	sendMail(t, a, dana, []string{"ask@forum.test"}, deepMessage("From: Dana <"+dana+">\nTo: ask@forum.test\nSubject: Deep question\nMessage-ID: <deep-q@client.test>\n", 60, "lost at the bottom"))
	sendMail(t, a, dana, []string{"ask@forum.test"}, deepMessage("From: Dana <"+dana+">\nTo: ask@forum.test\nSubject: Shallow question\nMessage-ID: <shallow-q@client.test>\n", 10, "found at the bottom"))
	var firstMID string
	if err := a.pool.QueryRow(ctx, `SELECT message_id FROM message_ids WHERE post_id = $1 AND message_id LIKE 'q%'`, first).Scan(&firstMID); err != nil {
		t.Fatal(err)
	}
	sendMail(t, a, "erin@example.com", []string{"notifications@forum.test"}, deepMessage("From: Erin <erin@example.com>\nTo: notifications@forum.test\nSubject: Re: First question\nMessage-ID: <deep-r@client.test>\nIn-Reply-To: <"+firstMID+">\n", 80, "my answer, lost"))
	waitProcessed(t, a)

	for _, c := range []struct {
		mid, want string
		lost      bool
	}{
		{"deep-q@client.test", partsDroppedText, true},
		{"deep-r@client.test", partsDroppedText, true},
		{"shallow-q@client.test", "found at the bottom", false},
	} {
		state, reason, post := mtOutcome(t, a, c.mid)
		if state != "processed" || post == 0 {
			t.Errorf("%s: %s (%s), post %d; want a post", c.mid, state, reason, post)
			continue
		}
		var body string
		if err := a.pool.QueryRow(ctx, `SELECT body FROM posts WHERE id = $1`, post).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, c.want) || c.lost && strings.Contains(body, "lost") {
			t.Errorf("%s: body %q, want it to contain %q", c.mid, body, c.want)
		}
	}
}

// partsDroppedText is what a post made from a too deeply nested message says.
const partsDroppedText = "some parts of this message were not kept"
