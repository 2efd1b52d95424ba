package importer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/threads"
)

func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in    string
		base  string
		reply bool
	}{
		{"Sleep tips", "sleep tips", false},
		{"Re: Sleep tips", "sleep tips", true},
		{"RE:  Sleep   tips ", "sleep tips", true},
		{"AW: Re: [sleepers] Re:sleep TIPS", "sleep tips", true},
		{"[sleepers] Sleep tips", "sleep tips", false},
		{"Sv: Fwd: Sleep tips", "sleep tips", true},
		{"Fwd: Sleep tips", "sleep tips", false},
		{"Re[2]: Sleep tips", "sleep tips", true},
		{"Re: [PATCH]", "[patch]", true},
		{"Réponse: x", "réponse: x", false},
		{"", "", false},
	} {
		base, reply := BaseSubject(tc.in)
		if base != tc.base || reply != tc.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tc.in, base, reply, tc.base, tc.reply)
		}
	}
}

// mboxMessage is one message of a test mailbox: header lines (joined with
// LF) and body.
func mboxMessage(header, body string) string {
	var b strings.Builder
	b.WriteString("From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n")
	if strings.HasPrefix(header, "From ") {
		// A message saved with its own From_ line.
		sep, rest, _ := strings.Cut(header, "\n")
		b.Reset()
		b.WriteString(sep + "\n")
		header = rest
	}
	for _, l := range strings.SplitAfter(strings.TrimSpace(header)+"\n\n"+body, "\n") {
		if regexp.MustCompile(`^>*From `).MatchString(l) {
			b.WriteString(">")
		}
		b.WriteString(l)
	}
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// testArchive is a list archive with every threading case: a reply before
// its parent, replies with only a "Re:" subject, a root waiting for a
// parent that comes later, a message without Message-ID, a bounce, a reply
// that is all quote, and a reply to it.
func testArchive() string {
	date := func(day int) string { return fmt.Sprintf("Date: Mon, %d Jan 2024 10:00:00 +0000\n", day) }
	msgs := []string{
		mboxMessage("From: Alice <alice@example.org>\nSubject: [sleepers] Sleep tips\nMessage-ID: <m1@example.org>\n"+date(1),
			"m1 How do you fall asleep faster?\n"),
		// m3 replies to m2, which comes later: first placed under m1.
		mboxMessage("From: Carol <carol@example.com>\nSubject: Re: [sleepers] Sleep tips\nMessage-ID: <m3@example.com>\nIn-Reply-To: <m2@example.net>\nReferences: <m1@example.org> <m2@example.net>\n"+date(3),
			"m3 Agreed with Bob.\n\nOn Tue, Bob <bob@example.net> wrote:\n> m2 Read a book.\n"),
		mboxMessage("From: Bob <bob@example.net>\nSubject: Re: [sleepers] Sleep tips\nMessage-ID: <m2@example.net>\nIn-Reply-To: <m1@example.org>\n"+date(2),
			"m2 Read a book. Alice <alice@example.org> asked, and stranger@example.net too.\n"),
		// No references: the subject finds the thread.
		mboxMessage("From: Dave <dave@example.info>\nSubject: RE: Sleep tips\nMessage-ID: <m4@example.info>\n"+date(4), "m4 Warm milk, says ivan@example.org.\n"),
		mboxMessage("From: Alice <alice@example.org>\nSubject: Re: [sleepers] Re:  sleep   TIPS\nMessage-ID: <m5@example.org>\n"+date(5), "m5 Thanks all!\n"),
		// m7 replies to m6, which comes later: a question until the end.
		mboxMessage("From: Erin <erin@example.org>\nSubject: Re: Night owls\nMessage-ID: <m7@example.org>\nIn-Reply-To: <m6@example.org>\nReferences: <m6@example.org>\n"+date(7),
			"m7 Me too.\nFrom the mailbox writer.\n"),
		mboxMessage("From: Frank <frank@example.org>\nSubject: Night owls\nMessage-ID: <m6@example.org>\n"+date(6), "m6 Who else is up at 3am?\n"),
		// No Message-ID.
		mboxMessage("From: Gina <gina@example.org>\nSubject: Re: Night owls\nIn-Reply-To: <m6@example.org>\n"+date(8), "m8 Every night.\n"),
		mboxMessage("From: Mail Delivery System <MAILER-DAEMON@example.org>\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <bounce@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n"+date(8),
			"--B\nContent-Type: text/plain\n\nGone.\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n\n--B--\n"),
		// All quote: nothing to post, but m11 replies to it.
		mboxMessage("From: Henry <henry@example.org>\nSubject: Re: Sleep tips\nMessage-ID: <m10@example.org>\nIn-Reply-To: <m2@example.net>\n"+date(9),
			"On Tue, Bob wrote:\n> m2 Read a book.\n"),
		mboxMessage("From: Ivan <ivan@example.org>\nSubject: Re: Sleep tips\nMessage-ID: <m11@example.org>\nIn-Reply-To: <m10@example.org>\n"+date(10), "m11 Which book?\n"),
		// Mailman's pipermail hides the "@".
		mboxMessage("From: jane at example.org (Jane Doe)\nSubject: Naps\nMessage-ID: <m12@example.org>\n"+date(11), "m12 Do naps help?\n"),
	}
	return "This archive was made by a test.\n" + strings.Join(msgs, "")
}

// forumTree renders every post as an indented tree, each post by the
// first word of its body: "q m1 [title]", "  a m2", "    c m3".
func forumTree(t *testing.T, st *threads.Store) string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT id, kind, coalesce(question_id, 0), coalesce(parent_id, 0), title, split_part(body, ' ', 1) FROM posts ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type post struct {
		id, q, parent      int64
		kind, title, label string
	}
	var all []post
	for rows.Next() {
		var p post
		if err := rows.Scan(&p.id, &p.kind, &p.q, &p.parent, &p.title, &p.label); err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	var b strings.Builder
	var walk func(parent int64, depth int)
	walk = func(parent int64, depth int) {
		for _, p := range all {
			if p.parent == parent && p.kind != "question" {
				fmt.Fprintf(&b, "%s%c %s\n", strings.Repeat("  ", depth), p.kind[0], p.label)
				walk(p.id, depth+1)
			}
		}
	}
	for _, p := range all {
		if p.kind == "question" {
			fmt.Fprintf(&b, "q %s [%s]\n", p.label, p.title)
			walk(p.id, 1)
		}
	}
	return b.String()
}

func countRows(t *testing.T, st *threads.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportMbox imports an archive in batches of 3 messages (so that
// threads span batches) and checks the threads JWZ's algorithm gives, the
// people, the privacy of their addresses, that nobody is notified, that a
// second run imports nothing, and that a live reply to an archived
// message lands under it.
func TestImportMbox(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	if _, err := st.AddCategory(ctx, "sleepers", "Sleepers"); err != nil {
		t.Fatal(err)
	}
	archive := testArchive()
	var progress []Stats
	stats, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(archive), mbox.Options{}),
		Options{BatchSize: 3, Workers: 3, Progress: func(p Stats) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	want := `q m1 [Sleep tips]
  a m2
    c m3
    c m11
  a m4
  c m5
q m6 [Night owls]
  a m7
  a m8
q m12 [Naps]
`
	if got := forumTree(t, st); got != want {
		t.Errorf("threads:\n%s\nwant:\n%s", got, want)
	}
	if stats.Read != 12 || stats.Imported != 10 || stats.Questions != 4 || stats.Reparented != 1 || stats.Moved != 1 || stats.Threads() != 3 ||
		stats.Duplicates != 0 || stats.People != 10 || stats.Skipped[skipBounce] != 1 || stats.Skipped[skipEmptyReply] != 1 {
		t.Errorf("stats %+v", stats)
	}
	if n := countRows(t, st, `SELECT count(*) FROM posts WHERE body LIKE '%ivan@%'`); n != 0 || stats.Redacted != 1 {
		t.Errorf("address of a sender met in a later batch not redacted (%d posts, %d redacted at the end)", n, stats.Redacted)
	}
	if stats.Garbage != int64(len("This archive was made by a test.\n")) || stats.Bytes != int64(len(archive)) {
		t.Errorf("garbage %d, bytes %d of %d", stats.Garbage, stats.Bytes, len(archive))
	}
	if len(progress) != 4 || progress[3].Read != 12 {
		t.Errorf("progress calls %d", len(progress))
	}

	// The question's category from "[sleepers]", its date from Date.
	var cat string
	var created time.Time
	err = st.Pool().QueryRow(ctx, `SELECT coalesce(c.slug, ''), p.created_at FROM posts p LEFT JOIN categories c ON c.id = p.category_id
		WHERE p.title = 'Sleep tips'`).Scan(&cat, &created)
	if err != nil || cat != "sleepers" || !created.Equal(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("question category %q, created %v, %v", cat, created, err)
	}
	// Bodies: the known author's address redacted, a stranger's kept;
	// the mboxrd escape undone.
	var body, elided string
	if err := st.Pool().QueryRow(ctx, `SELECT body, elided FROM posts WHERE body LIKE 'm2 %'`).Scan(&body, &elided); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "alice@") || !strings.Contains(body, "[address removed]") || !strings.Contains(body, "stranger@example.net") {
		t.Errorf("m2 body not redacted as live mail is: %q", body)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT body, elided FROM posts WHERE body LIKE 'm3 %'`).Scan(&body, &elided); err != nil {
		t.Fatal(err)
	}
	if body != "m3 Agreed with Bob." || strings.Contains(elided, "bob@") {
		t.Errorf("m3: body %q elided %q", body, elided)
	}
	if n := countRows(t, st, `SELECT count(*) FROM posts WHERE body = 'm7 Me too.'||E'\n'||'From the mailbox writer.'`); n != 1 {
		t.Errorf("m7's escaped From line not restored")
	}
	// People: unconfirmed, addresses only sealed and hashed.
	if n := countRows(t, st, `SELECT count(*) FROM people WHERE confirmed_at IS NULL AND address_enc IS NOT NULL AND address_hash IS NOT NULL`); n != 10 {
		t.Errorf("%d unconfirmed people with sealed addresses, want 10", n)
	}
	for _, addr := range []string{"alice@example.org", "bob@example.net", "jane@example.org"} {
		var keyID int
		var sealed, hash []byte
		var name string
		if err := st.Pool().QueryRow(ctx, `SELECT key_id, address_enc, address_hash, display_name FROM people WHERE address_hash = $1`, st.Keys().AddressHash(addr)).
			Scan(&keyID, &sealed, &hash, &name); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if got, err := st.Keys().Open(keyID, sealed, hash); err != nil || got != addr {
			t.Errorf("sealed address opens to %q, %v", got, err)
		}
		if bytes.Contains(sealed, []byte(addr)) || name == "" || strings.Contains(name, "@") {
			t.Errorf("person %q: sealed %x", name, sealed)
		}
	}
	if n := countRows(t, st, `SELECT count(*) FROM posts WHERE message_id LIKE '%example%' OR title LIKE '%@%'`); n != 0 {
		t.Errorf("%d posts carry a client Message-ID or an address", n)
	}
	if n := countRows(t, st, `SELECT count(*) FROM message_ids WHERE message_id LIKE '%example%'`); n != 0 {
		t.Errorf("%d client Message-IDs indexed in clear", n)
	}
	// Nobody notified, nothing queued, nothing held.
	if n := countRows(t, st, `SELECT (SELECT count(*) FROM notifications) + (SELECT count(*) FROM river_job) + (SELECT count(*) FROM subscriptions)
		+ (SELECT count(*) FROM posts WHERE state <> 'visible')`); n != 0 {
		t.Errorf("%d notifications, jobs, follows or invisible posts", n)
	}

	// A second run imports nothing.
	again, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(archive), mbox.Options{}), Options{BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported != 0 || again.People != 0 || again.Duplicates != 11 || again.Reparented+again.Moved != 0 {
		t.Errorf("second run: %+v", again)
	}
	if got := forumTree(t, st); got != want {
		t.Errorf("threads after the second run:\n%s", got)
	}

	// A live reply to an archived message threads under it.
	confirmedPerson(t, st, "kim@example.org", "Kim")
	id := deliver(t, st, "kim@example.org", []string{"notifications@" + testDomain},
		"From: Kim <kim@example.org>\nTo: notifications@forum.test\nSubject: Re: Sleep tips\nMessage-ID: <live1@example.org>\nIn-Reply-To: <m2@example.net>\n\nm13 I read too.\n")
	state, reason, post := inboundState(t, st, id)
	if state != threads.StateProcessed || post == 0 {
		t.Fatalf("live reply: %s %q", state, reason)
	}
	if got := forumTree(t, st); !strings.Contains(got, "  a m2\n    c m3\n    c m11\n    c m13\n") {
		t.Errorf("live reply not under the archived answer:\n%s", got)
	}
	// The archive's authors never asked for mail: the live comment
	// notifies none of them (the answer's author, earlier commenters).
	if n := countRows(t, st, `SELECT count(*) FROM notifications`); n != 0 {
		t.Errorf("%d notifications to people imported from the archive", n)
	}
}

// TestImportCategoryAndLaterFile: --category puts questions in it, and a
// second archive file (the next month) threads into the first's threads,
// by references and by subject, and moves the first file's waiting
// questions under parents it brings.
func TestImportCategoryAndLaterFile(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	if _, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(""), mbox.Options{}), Options{Category: "nope"}); err == nil {
		t.Fatal("unknown category accepted")
	}
	if _, err := st.AddCategory(ctx, "archive", "Archive"); err != nil {
		t.Fatal(err)
	}
	feb := mboxMessage("From: Bob <bob@example.net>\nSubject: Re: Lamps\nMessage-ID: <f1@example.net>\nIn-Reply-To: <j1@example.org>\nDate: Thu, 1 Feb 2024 10:00:00 +0000", "f1 Use a warm lamp.\n") +
		mboxMessage("From: Carol <carol@example.com>\nSubject: Re: Lamps\nMessage-ID: <f2@example.com>\nDate: Fri, 2 Feb 2024 10:00:00 +0000", "f2 Or none.\n")
	jan := mboxMessage("From: Alice <alice@example.org>\nSubject: Lamps\nMessage-ID: <j1@example.org>\nDate: Mon, 1 Jan 2024 10:00:00 +0000", "j1 Which lamp?\n")
	// February is imported first: Bob's reply waits for Alice's question.
	for _, file := range []string{feb, jan} {
		if _, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(file), mbox.Options{}), Options{Category: "archive"}); err != nil {
			t.Fatal(err)
		}
	}
	want := "q j1 [Lamps]\n  a f1\n  a f2\n"
	if got := forumTree(t, st); got != want {
		t.Errorf("threads:\n%s\nwant:\n%s", got, want)
	}
	if n := countRows(t, st, `SELECT count(*) FROM posts p JOIN categories c ON c.id = p.category_id WHERE p.kind = 'question' AND c.slug = 'archive'`); n != 1 {
		t.Errorf("%d questions in the category", n)
	}
	if n := countRows(t, st, `SELECT count(*) FROM import_pending`); n != 0 {
		t.Errorf("%d references still waiting", n)
	}
	// Too large a message is skipped, and said so.
	big := mboxMessage("From: Dan <dan@example.org>\nSubject: Big\nMessage-ID: <big@example.org>", strings.Repeat("x", 300)+"\n")
	stats, err := Mbox(ctx, st, mbox.NewReader(strings.NewReader(big+jan), mbox.Options{MaxMessageBytes: 250}), Options{})
	if err != nil || stats.Read != 2 || stats.Skipped[skipOversize] != 1 || stats.Duplicates != 1 {
		t.Errorf("oversize: %+v %v", stats, err)
	}
}

// TestImportCorpus imports every message of the Discourse fixture corpus
// as one mailbox: nothing fails, every message is accounted for.
func TestImportCorpus(t *testing.T) {
	dir := corpus.Dir(t, "discourse-emails")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		corpus.Missing(t, "no .eml files in %s", dir)
	}
	slices.Sort(files)
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(raw), "\r\n", "\n")
		h, body, _ := strings.Cut(text, "\n\n")
		b.WriteString(mboxMessage(h, body))
	}
	st := newTestStore(t)
	stats, err := Mbox(context.Background(), st, mbox.NewReader(strings.NewReader(b.String()), mbox.Options{}), Options{BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Read != int64(len(files)) || stats.Imported+stats.Duplicates+stats.SkippedTotal() != stats.Read || stats.Imported < stats.Read/2 {
		t.Errorf("%d files: %+v", len(files), stats)
	}
	t.Logf("%d files: %+v", len(files), stats)
}

// BenchmarkPrepareImport measures the database-free part of importing one
// 3 KB list reply (parse, trim, redaction candidates, hashes): what the
// parallel workers do.
func BenchmarkPrepareImport(b *testing.B) {
	keys, err := threads.DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	p := newPreparer(threads.NewStore(nil, testConfig([]byte(strings.Repeat("k", 32))), keys, threads.Options{}))
	var quote strings.Builder
	for quote.Len() < 2500 {
		quote.WriteString("> the queue drains slowly when the workers wait for the database to answer\n")
	}
	raw := []byte("From: Person 0001 <person0001@members1.example>\nTo: list@lists.example\nSubject: Re: [list] Queue draining\n" +
		"Date: Tue, 01 Jan 2019 08:07:22 +0000\nMessage-ID: <a1.x@mail1.example>\nIn-Reply-To: <a0.x@mail0.example>\n" +
		"References: <a0.x@mail0.example>\nList-Id: <list.lists.example>\nContent-Type: text/plain; charset=utf-8\n\n" +
		"Try more workers, then measure again; it helped here.\n\nOn Mon, 31 Dec 2018 at 10:00, Person 0002 <person0002@members2.example> wrote:\n" +
		quote.String() + "\n-- \nlist mailing list\nlist@lists.example\n")
	msg := &mbox.Message{Raw: raw, Separator: "From x Mon Jan  1 00:00:00 2024"}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if it := p.prepare(job{msg: msg}); it.skip != "" || it.body == "" {
			b.Fatalf("skipped: %q", it.skip)
		}
	}
}

func BenchmarkBaseSubject(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if base, reply := BaseSubject("AW: Re: [sleepers] Re:  sleep   TIPS"); base != "sleep tips" || !reply {
			b.Fatal(base)
		}
	}
}
