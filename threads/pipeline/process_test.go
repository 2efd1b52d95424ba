package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/threads"
)

// testDomain is the forum domain of the stores made by newTestStore.
const testDomain = storetest.Domain

// newTestStore returns a Store over a freshly migrated database, with an
// insert-only River client: jobs are enqueued but never worked, so tests
// call Process themselves.
func newTestStore(t *testing.T) *threads.Store {
	t.Helper()
	return newTestStoreWith(t, func(*threads.Config) {})
}

// newTestStoreWith is newTestStore with its configuration changed by
// change (storetest.New: deliver sends from 192.0.2.1, and that network
// is trusted, so tests about other things post as confirmed members
// directly; the trust tests use other addresses or clear the list).
func newTestStoreWith(t *testing.T, change func(*threads.Config)) *threads.Store {
	return storetest.New(t, change)
}

// reconfigured returns a store over st's database and keys with st's
// configuration changed by change: the tests' way to change a setting
// between messages.
func reconfigured(t *testing.T, st *threads.Store, change func(*threads.Config)) *threads.Store {
	t.Helper()
	cfg := st.Config()
	change(&cfg)
	return storeOver(t, st.Pool(), cfg, st.Keys())
}

// storeOver returns a Store over pool with an insert-only River client.
func storeOver(t *testing.T, pool *pgxpool.Pool, cfg threads.Config, keys *threads.Keys) *threads.Store {
	return storetest.Over(t, pool, cfg, keys)
}

// confirmedPerson returns the id of the confirmed person with addr,
// creating them when needed (a test shortcut for the confirmation loop).
func confirmedPerson(t *testing.T, st *threads.Store, addr, name string) threads.Person {
	t.Helper()
	ctx := context.Background()
	var p threads.Person
	err := pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		var err error
		p, err = st.EnsurePerson(ctx, tx, threads.NormalizeAddress(addr), name)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE people SET confirmed_at = coalesce(confirmed_at, now()), suppressed_at = NULL, bounce_score = 0 WHERE id = $1`, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Confirmed, p.Suppressed = true, false
	return p
}

// deliver accepts and processes raw (storetest.Deliver).
func deliver(t *testing.T, st *threads.Store, mailFrom string, rcpt []string, raw string) int64 {
	return storetest.Deliver(t, st, Process, mailFrom, rcpt, raw)
}

// inboundState returns the state, reason and post id of inbound id.
func inboundState(t *testing.T, st *threads.Store, id int64) (state, reason string, post int64) {
	return storetest.InboundState(t, st, id)
}

// TestRetryFailedInbound checks that a message that failed (a reply that
// could not be placed) is processed normally once retried after the cause
// is fixed, here by the thread it refers to appearing in the index.
func TestRetryFailedInbound(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "asker@example.org", "Asker")
	confirmedPerson(t, st, "helper@example.net", "Helper")

	q := deliver(t, st, "asker@example.org", []string{"ask@" + testDomain}, "From: Asker <asker@example.org>\nTo: ask@forum.test\nSubject: Why is the sky blue?\nMessage-ID: <q1@example.org>\n\nI always wondered.\n")
	if state, reason, _ := inboundState(t, st, q); state != threads.StateProcessed {
		t.Fatalf("question: %s %s", state, reason)
	}
	// The helper replies to a Message-ID the forum does not know (yet).
	raw := "From: Helper <helper@example.net>\nTo: notifications@forum.test\nSubject: Re: Why is the sky blue?\nMessage-ID: <a1@example.net>\nIn-Reply-To: <lost-id@example.org>\n\nRayleigh scattering.\n"
	id := deliver(t, st, "helper@example.net", []string{"notifications@" + testDomain}, raw)
	state, reason, _ := inboundState(t, st, id)
	if state != threads.StateFailed || !strings.Contains(reason, "could not tell which discussion") {
		t.Fatalf("reply to unknown id: %s %q", state, reason)
	}
	failedList, err := st.ListInbound(ctx, threads.InboundFailed, 10)
	if err != nil || len(failedList) != 1 || failedList[0].ID != id {
		t.Fatalf("inbound list --failed: %+v %v", failedList, err)
	}
	// The fix: the id becomes known (as if the operator imported it).
	var qpost int64
	if err := st.Pool().QueryRow(ctx, `SELECT post_id FROM inbound WHERE id = $1`, q).Scan(&qpost); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO message_ids (message_id, post_id, direction) VALUES ('lost-id@example.org', $1, 'out')`, qpost); err != nil {
		t.Fatal(err)
	}
	if err := st.RetryInbound(ctx, id); err != nil {
		t.Fatal(err)
	}
	if state, _, _ := inboundState(t, st, id); state != threads.StateAccepted {
		t.Fatalf("after retry state = %s, want accepted", state)
	}
	if err := Process(ctx, st, id); err != nil {
		t.Fatal(err)
	}
	state, reason, post := inboundState(t, st, id)
	if state != threads.StateProcessed || post == 0 {
		t.Fatalf("after retry: %s %q post %d", state, reason, post)
	}
	th, err := st.GetThread(ctx, qpost)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Answers) != 1 || th.Answers[0].Body != "Rayleigh scattering." {
		t.Fatalf("answers after retry: %+v", th.Answers)
	}
	// A processed message cannot be retried.
	if err := st.RetryInbound(ctx, id); err == nil {
		t.Fatal("retrying a processed message succeeded")
	}
}

// TestAttachmentsKeptAndDropped checks that files are stored with the
// post, inline cid: images are marked inline, and programs are dropped
// with a note in the body.
func TestAttachmentsKeptAndDropped(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	confirmedPerson(t, st, "asker@example.org", "Asker")
	raw := strings.ReplaceAll(`From: Asker <asker@example.org>
To: ask@forum.test
Subject: Files
Message-ID: <files@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: multipart/related; boundary="r"

--r
Content-Type: text/html; charset=utf-8

<p>See <img src="cid:img1@x"> and the notes.</p>
--r
Content-Type: image/png
Content-ID: <img1@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--r--
--m
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

some notes
--m
Content-Type: application/octet-stream; name="setup.exe"
Content-Disposition: attachment; filename="setup.exe"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA
--m--
`, "\n", "\r\n")
	id := deliver(t, st, "asker@example.org", []string{"ask@" + testDomain}, raw)
	state, reason, post := inboundState(t, st, id)
	if state != threads.StateProcessed || post == 0 {
		t.Fatalf("%s %q", state, reason)
	}
	th, err := st.GetThread(ctx, post)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(th.Body, "[attachment setup.exe was not kept: programs and scripts are not accepted]") {
		t.Errorf("body lacks the drop note: %q", th.Body)
	}
	if len(th.Attachments) != 2 {
		t.Fatalf("attachments %+v", th.Attachments)
	}
	if a := th.Attachments[0]; a.ContentType != "image/png" || !a.Inline {
		t.Errorf("inline image %+v", a)
	}
	if a := th.Attachments[1]; a.Filename != "notes.txt" || a.Inline || a.Size != len("some notes") {
		t.Errorf("text attachment %+v", a)
	}
	info, data, err := st.GetAttachment(ctx, th.Attachments[1].ID)
	if err != nil || string(data) != "some notes" || info.Filename != "notes.txt" {
		t.Errorf("GetAttachment: %+v %q %v", info, data, err)
	}
}
