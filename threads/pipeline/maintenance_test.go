package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/postern/postern/threads"
)

// TestRetentionPurge: raw mail (sealed, it holds addresses) is purged once
// processed longer ago than RawRetention; unprocessed mail is never
// purged; held posts past HeldTTL are discarded.
func TestRetentionPurge(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	raw := []byte("From: A <a@example.org>\r\nTo: ask@forum.test\r\nSubject: hi\r\nMessage-ID: <p1@example.org>\r\n\r\nhello\r\n")
	done, err := st.Accept(ctx, threads.Envelope{MailFrom: "a@example.org", Rcpt: []string{"ask@forum.test"}, Source: threads.SourceSMTP}, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := Process(ctx, st, done.InboundID); err != nil {
		t.Fatal(err)
	}
	raw2 := []byte("From: A <a@example.org>\r\nTo: ask@forum.test\r\nSubject: hi\r\nMessage-ID: <p2@example.org>\r\n\r\nhello\r\n")
	waiting, err := st.Accept(ctx, threads.Envelope{MailFrom: "a@example.org", Rcpt: []string{"ask@forum.test"}, Source: threads.SourceSMTP}, raw2)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is old enough yet.
	if n, err := st.PurgeRaw(ctx); err != nil || n != 0 {
		t.Fatalf("PurgeRaw before retention: %d %v", n, err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE inbound SET processed_at = now() - interval '31 days' WHERE id = $1`, done.InboundID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE inbound SET received_at = now() - interval '31 days' WHERE id = $1`, waiting.InboundID); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeRaw(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeRaw: %d %v, want 1", n, err)
	}
	var purged, kept bool
	if err := st.Pool().QueryRow(ctx, `SELECT sealed IS NULL FROM inbound WHERE id = $1`, done.InboundID).Scan(&purged); err != nil || !purged {
		t.Fatalf("processed message not purged: %v", err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT sealed IS NOT NULL FROM inbound WHERE id = $1`, waiting.InboundID).Scan(&kept); err != nil || !kept {
		t.Fatalf("unprocessed message purged: %v", err)
	}
	// The sender was unknown: the first post is held. Past HeldTTL it is discarded.
	var state string
	if err := st.Pool().QueryRow(ctx, `SELECT state FROM posts ORDER BY id LIMIT 1`).Scan(&state); err != nil || state != "held" {
		t.Fatalf("first post state %q (%v), want held", state, err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE posts SET created_at = now() - $1::interval`, (8 * 24 * time.Hour).String()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.DiscardHeld(ctx); err != nil || n != 1 {
		t.Fatalf("DiscardHeld: %d %v", n, err)
	}
	var body string
	if err := st.Pool().QueryRow(ctx, `SELECT state, body FROM posts ORDER BY id LIMIT 1`).Scan(&state, &body); err != nil || state != "hidden" || body != "" {
		t.Fatalf("after discard: %q %q %v", state, body, err)
	}
}
