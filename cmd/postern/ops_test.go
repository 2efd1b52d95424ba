package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/export"
)

// opsForum is a running forum with alice's question (post 1), bob's
// answer to it and the notifications they caused, all sent.
func opsForum(t *testing.T) (*systemtest.App, *systemtest.Sink) {
	t.Helper()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	systemtest.Member(t, a, relay, "alice@example.org", "Alice Adams", "Waking at 4am")
	systemtest.Member(t, a, relay, "bob@example.net", "Bob Baker", "Naps")
	var qid int64
	var mid string
	if err := a.Pool().QueryRow(context.Background(), `SELECT id, message_id FROM posts WHERE title = 'Waking at 4am'`).Scan(&qid, &mid); err != nil {
		t.Fatal(err)
	}
	systemtest.SendMail(t, a, "bob@example.net", []string{"notifications@forum.test"}, fmt.Sprintf(
		"From: Bob Baker <bob@example.net>\nTo: notifications@forum.test\nSubject: Re: Waking at 4am\nMessage-ID: <bob-a1@b.example>\nIn-Reply-To: <%s>\n\nKeep the same wake-up time.\nFrom now on, no screens.\n", mid))
	relay.WaitFor(t, 0, func(m smtptest.Message) bool {
		return len(m.To) == 1 && m.To[0] == "alice@example.org" && bytes.Contains(m.Data, []byte("Keep the same wake-up time"))
	})
	systemtest.WaitDrained(t, a)
	return a, relay
}

// runOK runs a postern command in this process and returns its standard
// output, failing the test when it fails or when either output holds an
// address of the forum's members.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("postern %q: %v\n%s", args, err, errb.String())
	}
	noAddress(t, args, out.String()+errb.String())
	return out.String()
}

// noAddress fails the test when s holds a member's address.
func noAddress(t *testing.T, args []string, s string) {
	t.Helper()
	for _, addr := range []string{"alice@example.org", "bob@example.net", "@example.org", "@example.net", "@e.example", "bob-a1"} {
		if strings.Contains(s, addr) {
			t.Errorf("postern %q printed %q:\n%s", args, addr, s)
		}
	}
}

// TestOpsCommands runs inbound show, outbox list/retry/cancel, stats and
// category list with and without --json against a running forum, and
// checks what they print (no address anywhere) and what retry and cancel
// do to the mail sent.
func TestOpsCommands(t *testing.T) {
	t.Parallel()
	a, relay := opsForum(t)
	ctx := context.Background()
	db := []string{"--database-url", a.Config().Store.DatabaseURL}
	cmd := func(words ...string) []string { return append(words, db...) }

	var answerIn, answerPost int64
	if err := a.Pool().QueryRow(ctx, `SELECT id, post_id FROM inbound WHERE post_id IN (SELECT id FROM posts WHERE kind = 'answer')`).Scan(&answerIn, &answerPost); err != nil {
		t.Fatal(err)
	}
	show := runOK(t, cmd("inbound", "show", fmt.Sprint(answerIn))...)
	for _, want := range []string{"state          processed", "(Bob Baker)", "notifications@forum.test", fmt.Sprintf("%d (answer, visible)", answerPost), "over smtp"} {
		if !strings.Contains(show, want) {
			t.Errorf("inbound show lacks %q:\n%s", want, show)
		}
	}
	var d threads.InboundDetail
	if err := json.Unmarshal([]byte(runOK(t, cmd("inbound", "show", fmt.Sprint(answerIn), "--json")...)), &d); err != nil || d.State != "processed" || d.SenderName != "Bob Baker" || d.PostKind != "answer" || !d.RawKept {
		t.Errorf("inbound show --json: %+v %v", d, err)
	}

	var list []threads.OutboxEntry
	if err := json.Unmarshal([]byte(runOK(t, cmd("outbox", "list", "--json")...)), &list); err != nil || len(list) == 0 {
		t.Fatalf("outbox list --json: %v %v", list, err)
	}
	var answerNote threads.OutboxEntry
	for _, e := range list {
		if e.PostID != nil && *e.PostID == answerPost && e.Kind != "posted" {
			answerNote = e
		}
		if e.State != "sent" || e.Attempts < 1 && e.SentAt == nil {
			t.Errorf("notification not sent: %+v", e)
		}
	}
	if answerNote.ID == 0 {
		t.Fatalf("no notification of the answer in %+v", list)
	}
	if out := runOK(t, cmd("outbox", "list")...); !strings.Contains(out, "ATTEMPTS") || !strings.Contains(out, fmt.Sprintf("%d  ", answerNote.ID)) {
		t.Errorf("outbox list:\n%s", out)
	}

	// A refusal quoting the address: listed without it; retry sends again.
	if _, err := a.Pool().Exec(ctx, `UPDATE notifications SET state = 'failed', error = '550 5.1.1 <alice@example.org>: no such user' WHERE id = $1`, answerNote.ID); err != nil {
		t.Fatal(err)
	}
	failed := runOK(t, cmd("outbox", "list", "--failed")...)
	if !strings.Contains(failed, "[address removed]") || strings.Count(failed, "\n") != 2 {
		t.Errorf("outbox list --failed:\n%s", failed)
	}
	if out := runOK(t, cmd("outbox", "list", "--pending", "--json")...); strings.TrimSpace(out) != "[]" {
		t.Errorf("outbox list --pending: %s", out)
	}
	before := len(relay.Messages())
	if out := runOK(t, cmd("outbox", "retry", fmt.Sprint(answerNote.ID))...); !strings.Contains(out, "queued for sending now") {
		t.Errorf("outbox retry: %s", out)
	}
	relay.WaitFor(t, 0, func(m smtptest.Message) bool {
		return len(relay.Messages()) > before && bytes.Contains(m.Data, []byte("Keep the same wake-up time")) && m.To[0] == "alice@example.org"
	})
	systemtest.WaitDrained(t, a)
	if n := systemtest.Count(t, a, `SELECT count(*) FROM notifications WHERE id = $1 AND state = 'sent'`, answerNote.ID); n != 1 {
		t.Errorf("retried notification not sent")
	}
	if err := run(ctx, cmd("outbox", "retry", fmt.Sprint(answerNote.ID)), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already sent") {
		t.Errorf("retry of a sent notification: %v", err)
	}
	// A pending notification whose job is gone: cancel keeps it unsent.
	if _, err := a.Pool().Exec(ctx, `UPDATE notifications SET state = 'pending' WHERE id = $1`, answerNote.ID); err != nil {
		t.Fatal(err)
	}
	if out := runOK(t, cmd("outbox", "cancel", fmt.Sprint(answerNote.ID))...); !strings.Contains(out, "cancelled") {
		t.Errorf("outbox cancel: %s", out)
	}
	if err := run(ctx, cmd("outbox", "cancel", fmt.Sprint(answerNote.ID)), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not pending") {
		t.Errorf("second cancel: %v", err)
	}

	// A pending notification whose job waits for a later try: listed
	// with its next try; retry makes it due now, and it is sent.
	if _, err := a.Pool().Exec(ctx, `UPDATE notifications SET state = 'pending' WHERE id = $1`, answerNote.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pool().Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at)
		VALUES (jsonb_build_object('notification_ids', jsonb_build_array($1::bigint)), 'postern.notify', 130, 'notify', 'scheduled', now() + interval '1 hour')`, answerNote.ID); err != nil {
		t.Fatal(err)
	}
	var pendingList []threads.OutboxEntry
	if err := json.Unmarshal([]byte(runOK(t, cmd("outbox", "list", "--pending", "--json")...)), &pendingList); err != nil || len(pendingList) != 1 ||
		pendingList[0].ID != answerNote.ID || pendingList[0].NextTry == nil || pendingList[0].NextTry.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("outbox list --pending: %+v %v", pendingList, err)
	}
	before = len(relay.Messages())
	runOK(t, cmd("outbox", "retry", fmt.Sprint(answerNote.ID))...)
	relay.WaitFor(t, 0, func(m smtptest.Message) bool {
		return len(relay.Messages()) > before && bytes.Contains(m.Data, []byte("Keep the same wake-up time")) && m.To[0] == "alice@example.org"
	})
	systemtest.WaitDrained(t, a)
	if n := systemtest.Count(t, a, `SELECT count(*) FROM river_job WHERE kind = 'postern.notify' AND state IN ('scheduled', 'available', 'retryable')`); n != 0 {
		t.Errorf("%d notify jobs still waiting after the retry", n)
	}

	stats := strings.Join(strings.Fields(runOK(t, cmd("stats")...)), " ")
	for _, want := range []string{"questions 2 (2 visible)", "answers 1 (1 visible)", "people 2 (2 confirmed, 0 forgotten)",
		"queue notify 0 jobs", "received, last hour 5 (5 processed)", "notifications, last hour"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lacks %q:\n%s", want, stats)
		}
	}
	var s threads.Stats
	if err := json.Unmarshal([]byte(runOK(t, cmd("stats", "--json")...)), &s); err != nil || s.Posts["question"]["visible"] != 2 || s.People.Confirmed != 2 ||
		len(s.Queues) != 2 || s.LastHour.Received["processed"] < 5 || s.LastHour.Notifications["sent"] < 4 {
		t.Errorf("stats --json: %+v %v", s, err)
	}
	runOK(t, cmd("category", "add", "sleep", "Sleep")...)
	if out := runOK(t, cmd("category", "list", "--json")...); !strings.Contains(out, `"slug": "sleep"`) {
		t.Errorf("category list --json: %s", out)
	}
}

// TestExportCommand: `postern export` writes the forum as an mbox that
// reads back (every visible post, forum Message-IDs and In-Reply-To
// kept, authors by display name, a "From " line in a body escaped) and
// as JSON threads; no address in either, to a file or standard output.
func TestExportCommand(t *testing.T) {
	t.Parallel()
	a, _ := opsForum(t)
	db := []string{"--database-url", a.Config().Store.DatabaseURL}
	type post struct{ kind, mid, parent string }
	want := map[string]post{}
	rows, err := a.Pool().Query(context.Background(), `SELECT p.kind, p.message_id, coalesce(q.message_id, '') FROM posts p LEFT JOIN posts q ON q.id = coalesce(p.parent_id, p.question_id)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p post
		if err := rows.Scan(&p.kind, &p.mid, &p.parent); err != nil {
			t.Fatal(err)
		}
		want["<"+p.mid+">"] = p
	}
	rows.Close()

	file := filepath.Join(t.TempDir(), "forum.mbox")
	runOK(t, append([]string{"export", "--out", file}, db...)...)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	noAddress(t, []string{"export"}, string(raw))
	if !bytes.Contains(raw, []byte("\n>From now on, no screens.")) {
		t.Error(`a body line starting "From " is not escaped`)
	}
	r := mbox.NewReader(bytes.NewReader(raw), mbox.Options{})
	n := 0
	for m, err := r.Next(); err == nil; m, err = r.Next() {
		n++
		msg := string(m.Raw)
		mid := header(msg, "Message-ID")
		p, ok := want[mid]
		if !ok {
			t.Errorf("exported Message-ID %q is not a post's:\n%s", mid, msg)
			continue
		}
		if p.parent != "" && header(msg, "In-Reply-To") != "<"+p.parent+">" {
			t.Errorf("%s In-Reply-To %q, want <%s>", mid, header(msg, "In-Reply-To"), p.parent)
		}
		if p.kind == "answer" && (header(msg, "From") != `"Bob Baker": ;` || !strings.Contains(msg, "\nFrom now on, no screens.") || header(msg, "Subject") != "Re: Waking at 4am") {
			t.Errorf("answer exported as:\n%s", msg)
		}
	}
	if n != len(want) {
		t.Errorf("mbox has %d messages, the forum %d posts", n, len(want))
	}

	out := runOK(t, append([]string{"export", "--format", "json"}, db...)...)
	var threadsOut []export.Thread
	if err := json.Unmarshal([]byte(out), &threadsOut); err != nil || len(threadsOut) != 2 {
		t.Fatalf("export --format json: %v\n%s", err, out)
	}
	q := threadsOut[0]
	if q.Question.Title != "Waking at 4am" || q.Question.Author != "Alice Adams" || len(q.Replies) != 1 || q.Replies[0].Author != "Bob Baker" ||
		"<"+q.Replies[0].InReplyTo+">" != "<"+q.Question.MessageID+">" {
		t.Errorf("exported thread: %+v", q)
	}
	if err := run(context.Background(), append([]string{"export", "--out", file}, db...), io.Discard, io.Discard); err == nil {
		t.Error("export overwrote its --out file")
	}
}

// header is the value of the header key of the message msg (LF or CRLF).
func header(msg, key string) string {
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return ""
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestImportMaildirCommand: `postern import maildir` imports the
// messages of cur/ and new/ (not tmp/) as `import mbox` does: threaded by
// In-Reply-To, senders unconfirmed, a second run only duplicates, and no
// address printed.
func TestImportMaildirCommand(t *testing.T) {
	t.Parallel()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(sub, name, msg string) {
		if err := os.WriteFile(filepath.Join(dir, sub, name), []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cur", "1700000000.M1P1.host:2,S", "From: Alice <alice@example.org>\nSubject: Snoring\nMessage-ID: <a1@archive.example>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nMy partner snores.\n")
	write("new", "1700000100.M2P1.host", "From: Bob <bob@example.net>\nSubject: Re: Snoring\nMessage-ID: <b1@archive.example>\nIn-Reply-To: <a1@archive.example>\nDate: Mon, 1 Jan 2024 11:00:00 +0000\n\nTry a wedge pillow.\n")
	write("tmp", "1700000200.M3P1.host", "From: Carol <carol@example.com>\nSubject: Half delivered\n\n")
	args := []string{"import", "maildir", dir, "--json", "--database-url", a.Config().Store.DatabaseURL, "--domain", "forum.test", "--secret-file", a.Config().Store.SecretFile}
	var sum importSummary
	if err := json.Unmarshal([]byte(runOK(t, args...)), &sum); err != nil || sum.Read != 2 || sum.Imported != 2 || sum.Questions != 1 || sum.Answers != 1 || sum.People != 2 {
		t.Fatalf("import maildir: %+v %v", sum, err)
	}
	thread := runOK(t, "thread", "1", "--database-url", a.Config().Store.DatabaseURL)
	if !strings.Contains(thread, "#1 Snoring") || !strings.Contains(thread, "answer #2 by Bob") {
		t.Errorf("imported thread:\n%s", thread)
	}
	if n := systemtest.Count(t, a, `SELECT count(*) FROM people WHERE confirmed_at IS NULL`); n != 2 {
		t.Errorf("%d unconfirmed people, want 2", n)
	}
	if err := json.Unmarshal([]byte(runOK(t, args...)), &sum); err != nil || sum.Imported != 0 || sum.Duplicates != 2 {
		t.Errorf("second import: %+v %v", sum, err)
	}
	systemtest.WaitDrained(t, a)
	if n := systemtest.Count(t, a, `SELECT count(*) FROM notifications n JOIN posts p ON p.id = n.post_id WHERE p.title = 'Snoring'`); n != 0 {
		t.Errorf("the import notified %d", n)
	}
	if err := run(context.Background(), []string{"import", "maildir", t.TempDir(), "--database-url", a.Config().Store.DatabaseURL, "--domain", "forum.test", "--secret-file", a.Config().Store.SecretFile}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Errorf("import of a folder that is no Maildir: %v", err)
	}
}
