package systemtest

import (
	"context"
	"fmt"
	"regexp"
	"testing"
)

// TestOneIDFromReceiptToSending: the log lines of one message, from its
// 250 to the notifications it caused, carry the same inbound_id (and the
// post's id once it is one), so an operator follows a message by one id.
func TestOneIDFromReceiptToSending(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a, logs := Start(t, relay, nil)
	member(t, a, relay, "ida@example.org", "Ida", "Why is my tea cold?")
	sendMail(t, a, "ida@example.org", []string{"ask@forum.test"},
		"From: Ida <ida@example.org>\nTo: ask@forum.test\nSubject: And my coffee?\nMessage-ID: <logid-2@client.example>\n\nAlso cold.\n")
	waitDrained(t, a)
	var in, post int64
	if err := a.pool.QueryRow(context.Background(), `SELECT id, post_id FROM inbound WHERE message_id = 'logid-2@client.example'`).Scan(&in, &post); err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	for _, re := range []string{
		fmt.Sprintf(`msg="message accepted" .*inbound_id=%d `, in),
		fmt.Sprintf(`msg="inbound processed" inbound_id=%d .*post_id=%d`, in, post),
		fmt.Sprintf(`msg="notification sent" .*notification_id=\d+ inbound_id=%d post_id=%d `, in, post),
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("no log line matching %s in:\n%s", re, text)
		}
	}
}
