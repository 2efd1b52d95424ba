package threads

import (
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

// TestAcceptTxCommitsWithCallersRow stores a message in the caller's
// transaction: nobody sees it before the commit; after it, the row, its
// one processing job and the caller's row are there, the message is
// processed into a post, and sending it again by either path is a
// Duplicate of it.
func TestAcceptTxCommitsWithCallersRow(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	insertForm := webForm(t, st)
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	insertForm(tx)
	acc, err := st.AcceptTx(ctx, tx, webEnvelope(), []byte(webMessage))
	if err != nil {
		t.Fatal(err)
	}
	if acc.Duplicate || acc.InboundID == 0 {
		t.Fatalf("AcceptTx = %+v, want a new row", acc)
	}
	if again, err := st.AcceptTx(ctx, tx, webEnvelope(), []byte(webMessage)); err != nil || again != (Accepted{InboundID: acc.InboundID, Duplicate: true}) {
		t.Fatalf("the same message again in the transaction: %+v, %v; want a duplicate of %d", again, err, acc.InboundID)
	}
	if in, jobs, forms := counts(t, st); in != 0 || jobs != 0 || forms != 0 {
		t.Fatalf("before commit, others see %d inbound rows, %d jobs, %d form rows; want none", in, jobs, forms)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if in, jobs, forms := counts(t, st); in != 1 || jobs != 1 || forms != 1 {
		t.Fatalf("after commit: %d inbound rows, %d jobs, %d form rows; want one of each", in, jobs, forms)
	}
	var source string
	var jobID int64
	if err := st.pool.QueryRow(ctx, `SELECT source, (SELECT (args->>'inbound_id')::bigint FROM river_job WHERE kind = 'postern.process')
		FROM inbound WHERE id = $1`, acc.InboundID).Scan(&source, &jobID); err != nil {
		t.Fatal(err)
	}
	if source != "web" || jobID != acc.InboundID {
		t.Fatalf("stored source %q, job for inbound %d; want web, %d", source, jobID, acc.InboundID)
	}
	if err := st.Process(ctx, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	if state, reason, post := inboundState(t, st, acc.InboundID); state != StateProcessed || post == 0 {
		t.Fatalf("processed to %s (%s), post %d; want a post", state, reason, post)
	}
	if dup, err := st.Accept(ctx, webEnvelope(), []byte(webMessage)); err != nil || dup != (Accepted{InboundID: acc.InboundID, Duplicate: true}) {
		t.Fatalf("Accept of the committed message: %+v, %v; want a duplicate of %d", dup, err, acc.InboundID)
	}
}

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
