package threads

import (
	"context"
	"fmt"
	"testing"
)

func imapMessage(uid uint32, n int) IMAPMessage {
	raw := fmt.Sprintf("From: Reader <reader@example.org>\r\nTo: ask@%s\r\nMessage-ID: <imap%d@example.org>\r\nSubject: Question %d\r\n\r\nWhy?\r\n", testDomain, n, n)
	return IMAPMessage{UID: uid, Raw: []byte(raw),
		Env: Envelope{MailFrom: "reader@example.org", Rcpt: []string{"ask@" + testDomain}, Source: SourceIMAP}}
}

func inboundCount(t *testing.T, st *Store) (rows, jobs int) {
	t.Helper()
	err := st.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM inbound WHERE source = 'imap'),
		(SELECT count(*) FROM river_job WHERE kind = 'postern.process')`).Scan(&rows, &jobs)
	if err != nil {
		t.Fatal(err)
	}
	return rows, jobs
}

// TestTakeIMAP: messages are stored with the cursor past them; taking
// them again stores nothing; a new UIDVALIDITY resets the cursor and the
// same messages are found stored (Duplicate), a new one is stored; a
// refused message only moves the cursor.
func TestTakeIMAP(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	const key = "k1"
	if c, err := st.IMAPCursor(ctx, key); err != nil || c != (IMAPCursor{}) {
		t.Fatalf("cursor of an unread mailbox: %+v, %v", c, err)
	}
	res, err := st.TakeIMAP(ctx, key, 7, []IMAPMessage{imapMessage(3, 1), imapMessage(5, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Stored || !res[1].Stored || res[0].Duplicate || res[1].Duplicate || res[0].InboundID == res[1].InboundID {
		t.Fatalf("first take: %+v", res)
	}
	if c, _ := st.IMAPCursor(ctx, key); c != (IMAPCursor{UIDValidity: 7, LastUID: 5}) {
		t.Fatalf("cursor after the first take: %+v", c)
	}
	// Taken again (a reader that had not seen the cursor move): nothing.
	res, err = st.TakeIMAP(ctx, key, 7, []IMAPMessage{imapMessage(3, 1), imapMessage(5, 2)})
	if err != nil || res[0].Stored || res[1].Stored {
		t.Fatalf("second take: %+v, %v", res, err)
	}
	if rows, jobs := inboundCount(t, st); rows != 2 || jobs != 2 {
		t.Fatalf("after the second take: %d rows, %d jobs; want 2, 2", rows, jobs)
	}
	// The mailbox recreated: same messages under new UIDs, and a new one.
	refused := imapMessage(4, 4)
	refused.Raw = nil
	res, err = st.TakeIMAP(ctx, key, 8, []IMAPMessage{imapMessage(1, 1), imapMessage(2, 2), imapMessage(3, 3), refused})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Duplicate || !res[1].Duplicate || res[2].Duplicate || !res[2].Stored || res[3].Stored {
		t.Fatalf("take after a UIDVALIDITY change: %+v", res)
	}
	if rows, jobs := inboundCount(t, st); rows != 3 || jobs != 3 {
		t.Fatalf("after the UIDVALIDITY change: %d rows, %d jobs; want 3, 3", rows, jobs)
	}
	if c, _ := st.IMAPCursor(ctx, key); c != (IMAPCursor{UIDValidity: 8, LastUID: 4}) {
		t.Fatalf("cursor after the UIDVALIDITY change: %+v", c)
	}
	// An empty take records a new UIDVALIDITY, the cursor reset.
	if _, err := st.TakeIMAP(ctx, key, 9, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.IMAPCursor(ctx, key); c != (IMAPCursor{UIDValidity: 9}) {
		t.Fatalf("cursor after an empty take: %+v", c)
	}
	bad := imapMessage(10, 10)
	bad.Env.Source = SourceSMTP
	if _, err := st.TakeIMAP(ctx, key, 9, []IMAPMessage{bad}); err == nil {
		t.Fatal("a message not from IMAP was taken")
	}
}

// TestPurgeIMAPRefused: the record of a refused IMAP message is listed
// until RawRetention has passed, then deleted by the maintenance step;
// a newer record stays.
func TestPurgeIMAPRefused(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	old, recent := imapMessage(1, 1), imapMessage(2, 2)
	old.Raw, recent.Raw = nil, nil
	old.Refused = &IMAPRefusal{Mailbox: "imap.test:993/INBOX", MessageID: "<old@example.org>", Size: 10, Reason: "over the size limit"}
	recent.Refused = &IMAPRefusal{Mailbox: "imap.test:993/INBOX", Size: 10, Reason: "over the size limit"}
	if _, err := st.TakeIMAP(ctx, "k", 1, []IMAPMessage{old, recent}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeIMAPRefused(ctx); err != nil || n != 0 {
		t.Fatalf("purge before the retention: %d, %v", n, err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE imap_refused SET refused_at = now() - make_interval(secs => $1) - interval '1 minute' WHERE uid = 1`,
		st.cfg.RawRetention.Seconds()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeIMAPRefused(ctx); err != nil || n != 1 {
		t.Fatalf("purge past the retention: %d, %v; want 1", n, err)
	}
	left, err := st.ListIMAPRefused(ctx, 10)
	if err != nil || len(left) != 1 || left[0].UID != 2 {
		t.Fatalf("left after the purge: %+v, %v", left, err)
	}
}
