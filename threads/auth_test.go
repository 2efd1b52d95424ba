package threads

import (
	"context"
	"testing"
)

// TestAuthPolicy: with a trusted front MTA and the "dmarc" policy, a
// confirmed sender's message that fails DMARC is held for confirmation
// like an unknown sender's, one that passes is posted; Authentication-
// Results from anyone else are ignored; results are recorded either way.
func TestAuthPolicy(t *testing.T) {
	st := newTestStore(t)
	st.cfg.Auth = AuthConfig{TrustedID: "mx.forum.test", Policy: "dmarc"}
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
		if err := st.pool.QueryRow(ctx, `SELECT p.state, i.auth_dmarc FROM posts p JOIN inbound i ON i.post_id = p.id WHERE p.id = $1`, post).Scan(&state, &dmarc); err != nil {
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
