package pipeline

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads"
)

// The message that AcceptTx stores with the caller's row is processed like
// any other; threads/intake_test.go tests the rest of AcceptTx.

// webForm makes a table standing for the row a caller of AcceptTx (the
// web form, the IMAP cursor) commits with the message, and returns a
// function inserting one into tx.
func webForm(t *testing.T, st *threads.Store) func(tx pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `CREATE TABLE web_form (id serial PRIMARY KEY, note text NOT NULL)`); err != nil {
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
func counts(t *testing.T, st *threads.Store) (inbound, jobs, forms int) {
	t.Helper()
	err := st.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM inbound),
		(SELECT count(*) FROM river_job WHERE kind = 'postern.process'), (SELECT count(*) FROM web_form)`).Scan(&inbound, &jobs, &forms)
	if err != nil {
		t.Fatal(err)
	}
	return inbound, jobs, forms
}

func webEnvelope() threads.Envelope {
	return threads.Envelope{MailFrom: "writer@example.org", Rcpt: []string{"ask@" + testDomain}, RemoteAddr: "192.0.2.1:443", Source: threads.SourceWeb}
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
	tx, err := st.Pool().Begin(ctx)
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
	if again, err := st.AcceptTx(ctx, tx, webEnvelope(), []byte(webMessage)); err != nil || again != (threads.Accepted{InboundID: acc.InboundID, Duplicate: true}) {
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
	if err := st.Pool().QueryRow(ctx, `SELECT source, (SELECT (args->>'inbound_id')::bigint FROM river_job WHERE kind = 'postern.process')
		FROM inbound WHERE id = $1`, acc.InboundID).Scan(&source, &jobID); err != nil {
		t.Fatal(err)
	}
	if source != "web" || jobID != acc.InboundID {
		t.Fatalf("stored source %q, job for inbound %d; want web, %d", source, jobID, acc.InboundID)
	}
	if err := Process(ctx, st, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	if state, reason, post := inboundState(t, st, acc.InboundID); state != threads.StateProcessed || post == 0 {
		t.Fatalf("processed to %s (%s), post %d; want a post", state, reason, post)
	}
	if dup, err := st.Accept(ctx, webEnvelope(), []byte(webMessage)); err != nil || dup != (threads.Accepted{InboundID: acc.InboundID, Duplicate: true}) {
		t.Fatalf("Accept of the committed message: %+v, %v; want a duplicate of %d", dup, err, acc.InboundID)
	}
}
