package mailin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/mailin"
	"github.com/postern/postern/threads"
)

// bigBody is a message body of about n bytes of CRLF lines.
func bigBody(n int) string {
	line := strings.Repeat("w", 98) + "\r\n"
	return strings.Repeat(line, n/len(line))
}

// waitCount polls sql (a count) until it satisfies ok, up to 10 s.
func waitCount(t *testing.T, f *fixture, sql string, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := f.store.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if ok(n) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond) // polls for an awaited change
	}
}

// TestLargeMessageStoredInChunks: a message over threads.StreamFrom is
// stored in chunks before 250, opens to the bytes sent, and its memory
// is given back to the budget.
func TestLargeMessageStoredInChunks(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{MemoryBudget: 8 << 20}, false)
	msg := message("big@example.org", bigBody(3*threads.StreamFrom+5000))
	c := dial(t, f.addr)
	if err := send(c, "alice@example.org", []string{"ask@forum.test"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	ctx := context.Background()
	var id int64
	var chunks int
	if err := f.store.Pool().QueryRow(ctx, `SELECT id, chunks FROM inbound WHERE message_id = 'big@example.org' AND sealed IS NULL`).Scan(&id, &chunks); err != nil {
		t.Fatalf("chunked inbound row after 250: %v", err)
	}
	if chunks != 4 {
		t.Errorf("stored in %d chunks, want 4", chunks)
	}
	err := f.store.InboundTx(ctx, id, func(_ *threads.Tx, in threads.Inbound) error {
		if in.Purged || string(in.Raw) != msg || in.MailFrom != "alice@example.org" {
			t.Errorf("opened %d bytes (purged %v), want the %d sent", len(in.Raw), in.Purged, len(msg))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The whole budget is free again: a message of the largest size fits.
	if err := send(c, "alice@example.org", []string{"ask@forum.test"}, message("big2@example.org", bigBody(6<<20))); err != nil {
		t.Fatalf("send after: %v", err)
	}
}

// TestLargeMessageDroppedMidData: a session that drops mid-DATA after
// some chunks were stored leaves no message and no chunk; one whose
// streamed part holds a bare LF gets 550 5.6.0 and leaves none either.
func TestLargeMessageDroppedMidData(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{ReadTimeout: 5 * time.Second}, false)
	const chunksSQL = `SELECT count(*) FROM inbound_chunks`
	c := dialFrom(t, f.addr, "")
	c.transaction(false, "drop@example.org")
	c.write("Subject: dropped\r\nMessage-ID: <drop@example.org>\r\n\r\n" + bigBody(3*threads.StreamFrom))
	if n := waitCount(t, f, chunksSQL, func(n int) bool { return n >= 2 }); n < 2 {
		t.Fatalf("%d chunks stored while the message was sent, want 2 or more", n)
	}
	_ = c.Conn().Close()
	if n := waitCount(t, f, chunksSQL, func(n int) bool { return n == 0 }); n != 0 {
		t.Errorf("%d chunks left by a dropped session", n)
	}

	c = dialFrom(t, f.addr, "")
	c.transaction(false, "bare@example.org")
	c.write("Subject: bare\r\nMessage-ID: <bare@example.org>\r\n\r\n" + bigBody(threads.StreamFrom+300) + "bare\nLF\r\n" + bigBody(streamTail) + ".\r\n")
	c.must("550 5.6.0 ", 10*time.Second)
	if n := waitCount(t, f, chunksSQL, func(n int) bool { return n == 0 }); n != 0 {
		t.Errorf("%d chunks left by a refused message", n)
	}
	if n := countInbound(t, f); n != 0 {
		t.Errorf("%d messages stored, want 0", n)
	}
}

// streamTail is what follows the bare LF: more than a chunk.
const streamTail = 2 << 20
