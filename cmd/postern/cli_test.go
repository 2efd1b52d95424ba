package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/threads"
)

// TestParseInterleaved: flags are taken before, between and after
// positional arguments; "--" ends the flags.
func TestParseInterleaved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		json    bool
		limit   int
		pos     []string
		wantErr bool
	}{
		{[]string{"1", "--json"}, true, 0, []string{"1"}, false},
		{[]string{"--json", "1"}, true, 0, []string{"1"}, false},
		{[]string{"a", "--limit", "5", "b", "--json"}, true, 5, []string{"a", "b"}, false},
		{[]string{"a", "--limit=5", "b"}, false, 5, []string{"a", "b"}, false},
		{[]string{"a", "--", "--json", "b"}, false, 0, []string{"a", "--json", "b"}, false},
		{[]string{"-", "--json"}, true, 0, []string{"-"}, false},
		{[]string{"a", "--nope"}, false, 0, nil, true},
		{nil, false, 0, []string{}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(&bytes.Buffer{})
		asJSON := fs.Bool("json", false, "")
		limit := fs.Int("limit", 0, "")
		err := parseInterleaved(fs, tc.args)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil || *asJSON != tc.json || *limit != tc.limit || !slices.Equal(fs.Args(), tc.pos) {
			t.Errorf("%q: err %v json %v limit %d args %q; want json %v limit %d args %q",
				tc.args, err, *asJSON, *limit, fs.Args(), tc.json, tc.limit, tc.pos)
		}
	}
}

// TestEveryCommandFlagsAnywhere runs every command of README's command
// table with its flags after its positional arguments (as README writes
// `postern thread 1 --json`), and checks that each command's --help lists
// its own flags and no setting it does not read.
func TestEveryCommandFlagsAnywhere(t *testing.T) {
	t.Parallel()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	ctx := context.Background()
	systemtest.Member(t, a, relay, "alice@example.org", "Alice", "Cannot sleep")
	// An automatic reply: stored, then ignored (something to retry).
	systemtest.SendMail(t, a, "bob@example.org", []string{"ask@forum.test"}, "From: Bob <bob@example.org>\nTo: ask@forum.test\nSubject: Out of office\nAuto-Submitted: auto-replied\nMessage-ID: <ooo@b.example>\n\nI am away.\n")
	systemtest.WaitProcessed(t, a)
	var ignored string
	if err := a.Pool().QueryRow(ctx, `SELECT id::text FROM inbound WHERE state = 'ignored' LIMIT 1`).Scan(&ignored); err != nil {
		t.Fatalf("no ignored inbound message: %v", err)
	}
	dir := t.TempDir()
	mbox := filepath.Join(dir, "list.mbox")
	if err := os.WriteFile(mbox, []byte("From carol@example.org Mon Jan  1 00:00:00 2024\nFrom: Carol <carol@example.org>\nSubject: Imported question\nMessage-ID: <imp1@c.example>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nAn old question.\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	maildir := filepath.Join(dir, "Maildir")
	if err := os.MkdirAll(filepath.Join(maildir, "new"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(maildir, "new", "1704067200.M1P1.host"), []byte("From: Dan <dan@example.org>\nSubject: Imported from a Maildir\nMessage-ID: <imp2@d.example>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nAnother old question.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := []string{"--database-url", a.Config().Store.DatabaseURL}
	sec := []string{"--database-url", a.Config().Store.DatabaseURL, "--domain", "forum.test", "--secret-file", a.Config().Store.SecretFile}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name    string   // the command words, for --help
		args    []string // a run with the flags after the positionals; nil: help only
		want    string   // in stdout (or, with wantErr, in the error)
		wantErr bool
		flags   []string // the command's own flags, listed by --help
	}{
		{"serve", nil, "", false, []string{"database-url", "smtp-addr", "http-addr", "base-url", "relay-url"}},
		{"dev", nil, "", false, []string{"data-dir", "smtp-addr", "http-addr", "base-url"}},
		{"migrate", cat([]string{"migrate"}, db), "", false, []string{"database-url"}},
		{"threads", cat([]string{"threads"}, db, []string{"--json", "--limit", "5"}), `"title": "Cannot sleep"`, false, []string{"json", "limit", "database-url"}},
		{"thread", cat([]string{"thread", "1", "--json"}, db), `"author": "Alice"`, false, []string{"json", "database-url"}},
		{"inbound list", cat([]string{"inbound", "list", "--json"}, db, []string{"--failed"}), "[]", false, []string{"json", "failed", "held", "limit", "database-url"}},
		{"inbound show", cat([]string{"inbound", "show", ignored, "--json"}, db), `"state": "ignored"`, false, []string{"json", "database-url"}},
		{"inbound retry", cat([]string{"inbound", "retry", ignored}, db), "inbound " + ignored + " queued", false, []string{"database-url"}},
		{"outbox list", cat([]string{"outbox", "list", "--json"}, db, []string{"--failed"}), "[]", false, []string{"json", "pending", "failed", "limit", "database-url"}},
		{"outbox retry", cat([]string{"outbox", "retry", "999"}, db), "notification 999", true, []string{"database-url"}},
		{"outbox cancel", cat([]string{"outbox", "cancel", "999"}, db), "notification 999", true, []string{"database-url"}},
		{"stats", cat([]string{"stats"}, db, []string{"--json"}), `"question": {`, false, []string{"json", "database-url"}},
		{"export", cat([]string{"export"}, db, []string{"--format", "json"}), `"title": "Cannot sleep"`, false, []string{"format", "out", "database-url"}},
		{"category add", cat([]string{"category", "add", "sleep", "Sleep", "--domain", "forum.test"}, db), "ask+sleep@forum.test", false, []string{"database-url", "domain"}},
		{"category list", cat([]string{"category", "list"}, db, []string{"--json"}), `"slug": "sleep"`, false, []string{"json", "database-url"}},
		{"question close", cat([]string{"question", "close", "1"}, db), "question 1 closed", false, []string{"duplicate-of", "database-url"}},
		{"question reopen", cat([]string{"question", "reopen", "1"}, db), "question 1 reopened", false, []string{"database-url"}},
		{"moderate list", cat([]string{"moderate", "list"}, db, []string{"--json"}), "[]", false, []string{"json", "database-url"}},
		{"moderate approve", cat([]string{"moderate", "approve", "1"}, db), "not waiting for moderation", true, []string{"database-url"}},
		{"moderate reject", cat([]string{"moderate", "reject", "999", "off", "topic"}, db), "no longer exists", true, []string{"database-url"}},
		{"import mbox", cat([]string{"import", "mbox", mbox, "--json"}, sec), `"imported": 1`, false, []string{"category", "json", "batch", "secret-file", "max-attachment-bytes"}},
		{"import maildir", cat([]string{"import", "maildir", maildir, "--json"}, sec), `"imported": 1`, false, []string{"category", "json", "batch", "secret-file", "max-attachment-bytes"}},
		{"user export", cat([]string{"user", "export", "alice@example.org"}, sec), `"display_name"`, false, []string{"database-url", "domain", "secret-file", "sealing-keys-file"}},
		{"user moderator", cat([]string{"user", "moderator", "alice@example.org", "--off"}, sec), "done", false, []string{"off", "secret-file"}},
		{"user forget", cat([]string{"user", "forget", "carol@example.org", "--anonymous"}, sec), "forgotten: person", false, []string{"anonymous", "secret-file"}},
		{"dkim keygen", []string{"dkim", "keygen", "--type", "ed25519", "--out", filepath.Join(dir, "dkim.pem"), "--domain", "forum.test"}, "postern._domainkey.forum.test", false, []string{"type", "out", "domain", "dkim-selector"}},
		{"keys reseal", cat([]string{"keys", "reseal"}, sec), "resealed", false, []string{"secret-file", "sealing-keys-file"}},
		{"imap check", []string{"imap", "check", "imap://u:hunter2@127.0.0.1:1/INBOX"}, "1 of 1 mailboxes failed", true, []string{"imap"}},
		{"doctor", cat([]string{"doctor", "--json"}, sec), "problem(s) to fix", true, []string{"json", "outgoing-ip", "database-url", "domain", "base-url", "secret-file", "relay-url", "dkim-key-file", "dkim-selector"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(ctx, append(strings.Fields(tc.name), "--help"), &out, &errb)
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("--help: %v", err)
			}
			for _, f := range tc.flags {
				if !strings.Contains(errb.String(), "  -"+f+" ") && !strings.Contains(errb.String(), "  -"+f+"\n") {
					t.Errorf("--help lacks -%s:\n%s", f, errb.String())
				}
			}
			if tc.name != "serve" && tc.name != "dev" && tc.name != "doctor" { // doctor checks the relay
				for _, foreign := range []string{"-smtp-addr", "-workers", "-relay-url", "-memory-budget"} {
					if strings.Contains(errb.String(), foreign) {
						t.Errorf("--help lists %s, a setting it does not read", foreign)
					}
				}
			}
			if tc.args == nil {
				return
			}
			out.Reset()
			errb.Reset()
			err = run(ctx, tc.args, &out, &errb)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v\n%s", tc.args, err, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, tc.want, out.String())
			}
			if !strings.HasPrefix(tc.name, "user") && strings.Contains(out.String(), "@example.org") {
				t.Errorf("%q printed an address", tc.args)
			}
		})
	}
}

// TestCommandsRefuseStrayArguments: a command that takes no positional
// argument says so instead of ignoring it.
func TestCommandsRefuseStrayArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve", "now"}, {"migrate", "up"}, {"dev", "please"},
		{"threads", "--database-url", "postgres://127.0.0.1:1/x", "all"}} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "takes no arguments") {
			t.Errorf("%q: %v", args, err)
		}
	}
}

// TestCommandGroupHelp: `postern GROUP --help` (or -h) of a command with
// subcommands lists each subcommand with its flags and succeeds, as README
// says `postern COMMAND --help` does, instead of failing on an unknown
// subcommand "--help".
func TestCommandGroupHelp(t *testing.T) {
	t.Parallel()
	for group, want := range map[string][]string{
		"inbound":  {"postern inbound list ", "-failed", "-held", "postern inbound show ID", "postern inbound retry ID", "-database-url"},
		"outbox":   {"postern outbox list ", "-pending", "-failed", "postern outbox retry ID", "postern outbox cancel ID"},
		"category": {`postern category add SLUG "Name"`, "postern category list", "-domain"},
		"question": {"postern question close ID", "-duplicate-of", "postern question reopen ID"},
		"moderate": {"postern moderate list", "-json", "postern moderate approve ID", "postern moderate reject ID [REASON]"},
		"user":     {"postern user export ADDRESS", "postern user forget ADDRESS", "-anonymous", "postern user moderator ADDRESS", "-off", "-secret-file"},
		"dkim":     {"postern dkim keygen", "-type", "-out", "-dkim-selector"},
		"keys":     {"postern keys reseal", "-sealing-keys-file"},
		"import":   {"postern import mbox FILE", "postern import maildir DIR", "-category", "-batch", "-max-attachment-bytes"},
		"imap":     {"postern imap check [URL...]", "-imap"},
	} {
		for _, h := range []string{"--help", "-h"} {
			var out, errb bytes.Buffer
			err := run(context.Background(), []string{group, h}, &out, &errb)
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%s %s: %v", group, h, err)
			}
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("%s %s: stdout lacks %q:\n%s", group, h, w, out.String())
				}
			}
		}
	}
}

// TestThreadShowsEdited: `postern thread` marks each post its author
// edited with "edited" and the time, as README promises, and no other.
func TestThreadShowsEdited(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	ed := threads.PostMeta{EditedAt: &at}
	th := &threads.Thread{ID: 1, Title: "Cannot sleep", Author: "Alice", Body: "Help.", CreatedAt: at,
		Comments: []threads.Comment{{ID: 2, Author: "Bob", Body: "When?", PostMeta: ed}},
		Answers: []threads.Answer{
			{ID: 3, Author: "Carol", Body: "A dark room.", PostMeta: ed, Comments: []threads.Comment{{ID: 4, Author: "Dave", Body: "Yes."}}},
			{ID: 5, Author: "Erin", Body: "Tea."},
		}}
	var out bytes.Buffer
	printThread(&out, th)
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"comment #2 by Bob, edited 2026-03-04 05:06 UTC:", "--- answer #3 by Carol, 0 votes, edited 2026-03-04 05:06 UTC"} {
		if !slices.Contains(lines, "  "+want) && !slices.Contains(lines, want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "edited"); n != 2 {
		t.Errorf("%d posts marked edited, want 2:\n%s", n, out.String())
	}
}
