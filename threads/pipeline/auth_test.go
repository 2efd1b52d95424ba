package pipeline

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/postern/postern/threads"
)

// TestAuthPolicy: with a trusted front MTA and the "dmarc" policy, a
// confirmed sender's message that fails DMARC is held for confirmation
// like an unknown sender's, one that passes is posted; Authentication-
// Results from anyone else are ignored; results are recorded either way.
func TestAuthPolicy(t *testing.T) {
	st := newTestStoreWith(t, func(c *threads.Config) {
		c.Auth = threads.AuthConfig{TrustedID: "mx.forum.test", Policy: "dmarc"}
	})
	confirmedPerson(t, st, "alice@example.org", "Alice")
	ctx := context.Background()
	mail := func(id, results string) string {
		return results + "From: Alice <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Question " + id + "\r\nMessage-ID: <" + id + "@example.org>\r\n\r\nText.\r\n"
	}
	tests := []struct {
		id, results, state string
	}{
		{"pass", "Authentication-Results: mx.forum.test; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n", "visible"},
		{"fail", "Authentication-Results: mx.forum.test; dkim=fail header.d=example.org; dmarc=fail header.from=example.org\r\n", "held"},
		{"forged", "Authentication-Results: evil.example; dmarc=pass header.from=example.org\r\n", "held"},
	}
	for _, tc := range tests {
		id := deliver(t, st, "alice@example.org", []string{"ask@forum.test"}, mail(tc.id, tc.results))
		_, _, post := inboundState(t, st, id)
		var state, dmarc string
		if err := st.Pool().QueryRow(ctx, `SELECT p.state, i.auth_dmarc FROM posts p JOIN inbound i ON i.post_id = p.id WHERE p.id = $1`, post).Scan(&state, &dmarc); err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if state != tc.state {
			t.Errorf("%s: post state %q, want %q", tc.id, state, tc.state)
		}
		want := map[string]string{"pass": "pass", "fail": "fail", "forged": "none"}[tc.id]
		if dmarc != want {
			t.Errorf("%s: recorded dmarc %q, want %q", tc.id, dmarc, want)
		}
	}
}

// deliverFrom is deliver from the client address remote (IP:port).
func deliverFrom(t *testing.T, st *threads.Store, remote, mailFrom string, rcpt []string, raw string) int64 {
	t.Helper()
	ctx := context.Background()
	acc, err := st.Accept(ctx, threads.Envelope{MailFrom: mailFrom, Rcpt: rcpt, RemoteAddr: remote, Source: threads.SourceSMTP}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := Process(ctx, st, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	return acc.InboundID
}

// TestEvidenceRules: the reply-token rule needs the member's own token
// (current epoch) and their own envelope sender; a trusted network
// matches IPv4-mapped client addresses; policies "dkim" and "dmarc"
// accept nothing but their own result. Held posts of a member say why.
func TestEvidenceRules(t *testing.T) {
	st := newTestStoreWith(t, func(c *threads.Config) {
		c.Auth.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	bob := confirmedPerson(t, st, "bob@example.net", "Bob")
	q := deliverFrom(t, st, "10.1.2.3:25", "alice@example.org", []string{"ask@" + testDomain},
		"From: Alice <alice@example.org>\nSubject: A question\nMessage-ID: <q@example.org>\n\nText.\n")
	_, _, qid := inboundState(t, st, q)
	own := st.Addresses().Reply(qid, alice.ID, alice.Epoch)
	bobs := st.Addresses().Reply(qid, bob.ID, bob.Epoch)
	stale := st.Addresses().Reply(qid, alice.ID, alice.Epoch+1)
	reply := func(n int) string {
		return fmt.Sprintf("From: Alice <alice@example.org>\nSubject: Re: A question\nMessage-ID: <r%d@example.org>\n\nMore text %d.\n", n, n)
	}
	tests := []struct {
		name, policy, remote, mailFrom, rcpt, evidence, state string
	}{
		{"trusted network", "", "10.1.2.3:25", "alice@example.org", "ask@" + testDomain, threads.EvidenceNetwork, "processed"},
		{"ipv4-mapped trusted", "", "[::ffff:10.9.9.9]:25", "x@elsewhere.example", "ask@" + testDomain, threads.EvidenceNetwork, "processed"},
		{"own token, own envelope", "", "198.51.100.1:25", "Alice@Example.org", own, threads.EvidenceReplyToken, "processed"},
		{"own token, other envelope", "", "198.51.100.1:25", "mallory@evil.example", own, threads.EvidenceNone, "held"},
		{"someone else's token", "", "198.51.100.1:25", "alice@example.org", bobs, threads.EvidenceNone, "held"},
		{"revoked token", "", "198.51.100.1:25", "alice@example.org", stale, threads.EvidenceNone, "rejected"},
		{"dkim policy ignores token", "dkim", "198.51.100.1:25", "alice@example.org", own, threads.EvidenceNone, "held"},
		{"dmarc policy ignores network", "dmarc", "10.1.2.3:25", "alice@example.org", "ask@" + testDomain, threads.EvidenceNone, "held"},
	}
	for i, tc := range tests {
		pst := reconfigured(t, st, func(c *threads.Config) { c.Auth.Policy = tc.policy })
		raw := reply(i)
		if strings.HasPrefix(tc.rcpt, "ask@") {
			raw = strings.Replace(raw, "Re: A question", fmt.Sprintf("Question %d", i), 1)
		}
		id := deliverFrom(t, pst, tc.remote, tc.mailFrom, []string{tc.rcpt}, raw)
		var state, reason, evidence, postState string
		err := st.Pool().QueryRow(ctx, `SELECT i.state, i.reason, i.evidence, coalesce(p.state, '') FROM inbound i LEFT JOIN posts p ON p.id = i.post_id WHERE i.id = $1`, id).
			Scan(&state, &reason, &evidence, &postState)
		if err != nil {
			t.Fatal(err)
		}
		got := "processed"
		switch {
		case postState == "held":
			got = "held"
			if !strings.Contains(reason, "no evidence") {
				t.Errorf("%s: held with reason %q", tc.name, reason)
			}
		case state == threads.StateFailed:
			got = "rejected"
		case postState != "visible":
			got = state + "/" + postState
		}
		if got != tc.state || evidence != tc.evidence {
			t.Errorf("%s: %s with evidence %q (%s); want %s with %q", tc.name, got, evidence, reason, tc.state, tc.evidence)
		}
	}
}
