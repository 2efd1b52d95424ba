package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/systemtest"
)

// TestImportCommand runs `postern import mbox` against a running forum:
// the archive becomes threads, its senders unconfirmed people whose
// addresses appear nowhere in clear (pg_dump, output, logs), nobody is
// notified, a second run imports nothing, and a member replying by email
// to an archived message (In-Reply-To its Message-ID) lands under it.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	relay := systemtest.StartSink(t)
	a, logs := systemtest.Start(t, relay, nil)
	ctx := context.Background()
	systemtest.Member(t, a, relay, "kim@example.org", "Kim", "Pillows")
	systemtest.WaitProcessed(t, a)

	senders := []string{"alice.archive@example.org", "bob.archive@example.net", "carol.archive@example.com"}
	msg := func(from, name, subject, id, extra, body string) string {
		return fmt.Sprintf("From %s Mon Jan  1 10:00:00 2024\nFrom: %s <%s>\nSubject: %s\nMessage-ID: <%s>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n%s\n%s\n\n",
			from, name, from, subject, id, extra, body)
	}
	archive := msg(senders[0], "Alice", "Snoring", "a1@archive.example", "", "a1 My partner snores.") +
		// Before its parent, quoting its author's address.
		msg(senders[2], "Carol", "Re: Snoring", "c1@archive.example", "In-Reply-To: <b1@archive.example>\nReferences: <a1@archive.example> <b1@archive.example>\n",
			"c1 Earplugs work.\n\nOn Monday, Bob <"+senders[1]+"> wrote:\n> b1 Try a wedge pillow.") +
		msg(senders[1], "Bob", "Re: Snoring", "b1@archive.example", "In-Reply-To: <a1@archive.example>\n", "b1 Try a wedge pillow.") +
		// Only a subject to go by.
		msg(senders[1], "Bob", "RE: [sleep-list] Snoring", "b2@archive.example", "", "b2 Or a nasal strip.") +
		// No Message-ID at all.
		strings.Replace(msg(senders[2], "Carol", "Bedtime", "x", "", "c2 When do you go to bed?"), "Message-ID: <x>\n", "", 1)
	file := filepath.Join(t.TempDir(), "archive.mbox")
	if err := os.WriteFile(file, []byte(archive), 0o600); err != nil {
		t.Fatal(err)
	}
	count := func(sql string) int { return systemtest.Count(t, a, sql) }
	// Jobs of mail only: the running app's River also enqueues its
	// periodic maintenance job, whenever it becomes leader.
	notes0, jobs0 := count(`SELECT count(*) FROM notifications`), count(`SELECT count(*) FROM river_job WHERE kind IN ('postern.process', 'postern.notify')`)

	importArgs := []string{"import", "mbox", "--database-url", a.Config().Store.DatabaseURL, "--domain", "forum.test", "--secret-file", a.Config().Store.SecretFile, "--json", file}
	var out, errb bytes.Buffer
	if err := run(ctx, importArgs, &out, &errb); err != nil {
		t.Fatalf("import: %v\n%s", err, errb.String())
	}
	var sum importSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
	if sum.Read != 5 || sum.Imported != 5 || sum.Threads != 2 || sum.People != 3 || sum.Duplicates != 0 || sum.Rate <= 0 {
		t.Errorf("summary %+v", sum)
	}
	// Nobody notified, nothing queued.
	if n, j := count(`SELECT count(*) FROM notifications`), count(`SELECT count(*) FROM river_job WHERE kind IN ('postern.process', 'postern.notify')`); n != notes0 || j != jobs0 {
		t.Errorf("the import made %d notifications and %d jobs", n-notes0, j-jobs0)
	}
	if n := count(`SELECT count(*) FROM people WHERE confirmed_at IS NULL AND address_enc IS NOT NULL`); n != 3 {
		t.Errorf("%d unconfirmed people with sealed addresses, want 3", n)
	}
	// The text summary names every count; the second run finds only
	// duplicates.
	out.Reset()
	if err := run(ctx, importArgs[:len(importArgs)-2], &out, &errb); err == nil {
		t.Error("import without a file succeeded")
	}
	// (From a gzip-compressed copy.)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(archive)); err != nil || zw.Close() != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".gz", gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, append(importArgs[:len(importArgs)-2:len(importArgs)-2], file+".gz"), &out, &errb); err != nil {
		t.Fatalf("second import: %v\n%s", err, errb.String())
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"messages read 5", "imported 0", "duplicates 5", "messages/s"} {
		if !strings.Contains(text, want) {
			t.Errorf("second summary lacks %q:\n%s", want, out.String())
		}
	}

	// kim replies by email to bob's archived answer.
	systemtest.SendMail(t, a, "kim@example.org", []string{"notifications@forum.test"},
		"From: Kim <kim@example.org>\nTo: notifications@forum.test\nSubject: Re: Snoring\nMessage-ID: <k1@client.example>\nIn-Reply-To: <b1@archive.example>\n\nk1 A wedge worked for me.\n")
	systemtest.WaitProcessed(t, a)
	var qid int64
	if err := a.Pool().QueryRow(ctx, `SELECT id FROM posts WHERE title = 'Snoring'`).Scan(&qid); err != nil {
		t.Fatal(err)
	}
	th, err := a.Store().GetThread(ctx, qid)
	if err != nil {
		t.Fatal(err)
	}
	var shape []string
	for _, an := range th.Answers {
		s := strings.Fields(an.Body)[0]
		for _, c := range an.Comments {
			s += " [" + strings.Fields(c.Body)[0] + "]"
		}
		shape = append(shape, s)
	}
	if got := strings.Join(shape, ", "); got != "b1 [c1] [k1], b2" {
		t.Errorf("thread: %s", got)
		rows, _ := a.Pool().Query(ctx, `SELECT id, kind, coalesce(question_id, 0), coalesce(parent_id, 0), state, left(body, 20) FROM posts ORDER BY id`)
		for rows.Next() {
			var id, q, p int64
			var k, st, b string
			_ = rows.Scan(&id, &k, &q, &p, &st, &b)
			t.Logf("post %d %s q=%d parent=%d %s %q", id, k, q, p, st, b)
		}
		rows.Close()
	}

	// No sender's address in clear: not in the database, not in what the
	// command printed, not in the logs.
	dump := bytes.ToLower(systemtest.PgDump(t, a.Config().Store.DatabaseURL))
	if !bytes.Contains(dump, []byte("try a wedge pillow")) {
		t.Fatal("pg_dump output does not contain the archive")
	}
	for i, s := range senders {
		local := s[:strings.IndexByte(s, '@')]
		if bytes.Contains(dump, []byte(local)) {
			t.Errorf("pg_dump contains (the local part of) the address of archive sender %d", i)
		}
		if strings.Contains(out.String()+errb.String(), local) {
			t.Errorf("the import command printed the address of archive sender %d", i)
		}
		if strings.Contains(logs.String(), local) {
			t.Errorf("a log line holds the address of archive sender %d", i)
		}
	}
}
