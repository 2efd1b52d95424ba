package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestTitleHasNoAddress checks the whole way of a question whose subject
// names members by address, plain and RFC 2047 encoded: the followers'
// notification subject, the question's page and "postern threads" show
// "[address removed]" and no address.
func TestTitleHasNoAddress(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	ctx := context.Background()
	yan, bob, carol, dave := "yan@example.org", "bob@example.net", "carol@example.com", "dave@example.com"
	follow(t, a, relay, bob)
	member(t, a, relay, yan, "Yan", "Warm-up one")
	member(t, a, relay, carol, "Carol", "Warm-up two")
	member(t, a, relay, dave, "Dave", "Warm-up three")
	for i, subject := range []string{
		"Ask carol@example.com or dave@example.com about it",
		"=?utf-8?q?Yan_asks_dave=40example=2Ecom?=",
	} {
		sendMail(t, a, yan, []string{"ask@forum.test"}, fmt.Sprintf("From: Yan <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: <title%d@client.example>\n\nWho knows?\n", yan, subject, i))
		n, _ := relay.waitFor(t, bob, subjectHas("[address removed]"))
		if s, _ := n.Header.Subject(); strings.Contains(s, "@") {
			t.Errorf("follower's notification subject %q has an address", s)
		}
		var qid int64
		if err := a.pool.QueryRow(ctx, `SELECT max(id) FROM posts WHERE kind = 'question'`).Scan(&qid); err != nil {
			t.Fatal(err)
		}
		code, page := httpGet(t, fmt.Sprintf("http://%s/q/%d", a.httpAddr, qid))
		if code != 200 || !strings.Contains(page, "[address removed]") || strings.Contains(page, carol) || strings.Contains(page, dave) {
			t.Errorf("/q/%d: status %d, page without the redacted title or with an address:\n%s", qid, code, page)
		}
	}
	var out, errb bytes.Buffer
	if err := runCLI(t, ctx, []string{"threads", "--database-url", a.cfg.Store.DatabaseURL, "--domain", "forum.test"}, &out, &errb); err != nil {
		t.Fatalf("postern threads: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "[address removed]") || strings.Contains(out.String(), "@") {
		t.Errorf("postern threads:\n%s", out.String())
	}
}
