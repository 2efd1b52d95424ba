package threads

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// webForm makes a table standing for the row a caller of AcceptTx (the
// web form, the IMAP cursor) commits with the message, and returns a
// function inserting one into tx.
func webForm(t *testing.T, st *Store) func(tx pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.pool.Exec(ctx, `CREATE TABLE web_form (id serial PRIMARY KEY, note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return func(tx pgx.Tx) {
		t.Helper()
		if _, err := tx.Exec(ctx, `INSERT INTO web_form (note) VALUES ('written')`); err != nil {
			t.Fatal(err)
		}
	}
}

// counts returns how many inbound rows, processing jobs and web_form rows
// the database holds.
func counts(t *testing.T, st *Store) (inbound, jobs, forms int) {
	t.Helper()
	err := st.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM inbound),
		(SELECT count(*) FROM river_job WHERE kind = 'postern.process'), (SELECT count(*) FROM web_form)`).Scan(&inbound, &jobs, &forms)
	if err != nil {
		t.Fatal(err)
	}
	return inbound, jobs, forms
}

func webEnvelope() Envelope {
	return Envelope{MailFrom: "writer@example.org", Rcpt: []string{"ask@" + testDomain}, RemoteAddr: "192.0.2.1:443", Source: SourceWeb}
}

const webMessage = "From: Writer <writer@example.org>\r\nTo: ask@forum.test\r\nMessage-ID: <web1@example.org>\r\n" +
	"Subject: Written on the web\r\n\r\nHow do I ask from the web form?\r\n"

// TestAcceptTxRolledBack leaves nothing behind: no row, no job, and the
// message is new to a later Accept.
func TestAcceptTxRolledBack(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	insertForm := webForm(t, st)
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insertForm(tx)
	if _, err := st.AcceptTx(ctx, tx, webEnvelope(), []byte(webMessage)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if in, jobs, forms := counts(t, st); in != 0 || jobs != 0 || forms != 0 {
		t.Fatalf("after rollback: %d inbound rows, %d jobs, %d form rows; want none", in, jobs, forms)
	}
	acc, err := st.Accept(ctx, webEnvelope(), []byte(webMessage))
	if err != nil || acc.Duplicate {
		t.Fatalf("Accept after the rollback: %+v, %v; want a new row", acc, err)
	}
}

// TestSources stores a message from each source under its string, and
// refuses one from no known source without touching the database.
func TestSources(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	want := map[Source]string{SourceSMTP: "smtp", SourceLMTP: "lmtp", SourceIMAP: "imap", SourceWeb: "web", SourceImport: "import"}
	for src, name := range want {
		if !src.Valid() {
			t.Errorf("%q not valid", src)
		}
		env := Envelope{MailFrom: "s@example.org", Rcpt: []string{"ask@" + testDomain}, Source: src}
		acc, err := st.Accept(ctx, env, []byte(fmt.Sprintf("Message-ID: <%s@example.org>\r\n\r\nbody\r\n", name)))
		if err != nil {
			t.Fatalf("source %s: %v", name, err)
		}
		var stored string
		if err := st.pool.QueryRow(ctx, `SELECT source FROM inbound WHERE id = $1`, acc.InboundID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != name {
			t.Errorf("source %s stored as %q", name, stored)
		}
	}
	for _, bad := range []Source{"", "SMTP", "pop3"} {
		if bad.Valid() {
			t.Errorf("%q valid", bad)
		}
		if acc, err := st.Accept(ctx, Envelope{Rcpt: []string{"ask@" + testDomain}, Source: bad}, []byte("\r\nbody\r\n")); err == nil {
			t.Errorf("source %q accepted as %d", bad, acc.InboundID)
		}
	}
	var n int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM inbound`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d rows stored, want %d", n, len(want))
	}
}

// TestLargeInboundReadInSlices processes a message above sliceFrom, which
// InboundTx reads in slices: it opens to the bytes accepted.
func TestLargeInboundReadInSlices(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	body := bytes.Repeat([]byte("a line of a long message, to be read in slices\r\n"), (3*sliceFrom)/49)
	raw := append([]byte("From: Writer <writer@example.org>\r\nTo: ask@forum.test\r\nMessage-ID: <big1@example.org>\r\nSubject: Big\r\n\r\n"), body...)
	env := Envelope{MailFrom: "writer@example.org", Rcpt: []string{"ask@" + testDomain}, RemoteAddr: "192.0.2.1:25", Source: SourceSMTP}
	acc, err := st.Accept(ctx, env, raw)
	if err != nil {
		t.Fatal(err)
	}
	err = st.InboundTx(ctx, acc.InboundID, func(_ *Tx, in Inbound) error {
		if in.Purged || !bytes.Equal(in.Raw, raw) || in.MailFrom != env.MailFrom {
			t.Fatalf("opened %d bytes (purged %v, from %q), want the %d accepted", len(in.Raw), in.Purged, in.MailFrom, len(raw))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
