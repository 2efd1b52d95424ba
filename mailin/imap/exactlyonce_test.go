package imap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/mailin/imap/imapurl"
	"github.com/postern/postern/threads"
)

// TestExactlyOnce, with a server offering IDLE and MOVE and one offering
// neither (polled; moved by COPY, STORE \Deleted and UID EXPUNGE):
// messages in the mailbox are stored and moved to the done folder; one
// arriving while the receiver waits is stored (within 2 s with IDLE); a
// restart stores nothing again; the folder recreated under a new
// UIDVALIDITY with the same messages re-appended stores only the new one.
func TestExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps imap.CapSet
		idle bool
		q    string
	}{{"idle", idleCaps, true, "?done=Done"}, {"poll", pollCaps, false, "?done=Done&poll=1s"}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.caps)
			st := storetest.New(t, nil)
			logs := &logBuf{}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("receiver's log:\n%s", logs.String())
				}
			})
			srv.appendMsg(t, "INBOX", question(1))
			srv.appendMsg(t, "INBOX", question(2))
			stop := startReceiver(t, st, srv.url(tc.q), logs, func(c *Config) { c.NoIdle = !tc.idle })
			waitUntil(t, "two stored and moved", func() bool {
				return slices.Equal(stored(t, st), ids(1, 2)) && srv.count(t, "INBOX") == 0 && srv.count(t, "Done") == 2
			})

			start := time.Now()
			srv.appendMsg(t, "INBOX", question(3))
			waitUntil(t, "the third stored", func() bool { return slices.Equal(stored(t, st), ids(1, 2, 3)) })
			took := time.Since(start)
			t.Logf("%s: a new message stored %v after its arrival", tc.name, took)
			if tc.idle && took > 2*time.Second {
				t.Errorf("with IDLE a new message took %v to be stored, want under 2s", took)
			}
			waitUntil(t, "the third moved", func() bool { return srv.count(t, "INBOX") == 0 && srv.count(t, "Done") == 3 })

			// Restart: only the new message is stored.
			stop()
			stop = startReceiver(t, st, srv.url(tc.q), logs, func(c *Config) { c.NoIdle = !tc.idle })
			srv.appendMsg(t, "INBOX", question(4))
			waitUntil(t, "the fourth stored and moved", func() bool {
				return slices.Equal(stored(t, st), ids(1, 2, 3, 4)) && srv.count(t, "Done") == 4
			})

			// The folder recreated: a new UIDVALIDITY, the same messages
			// and one more.
			stop()
			if err := srv.user.Delete("INBOX"); err != nil {
				t.Fatal(err)
			}
			if err := srv.user.Create("INBOX", nil); err != nil {
				t.Fatal(err)
			}
			for n := 1; n <= 5; n++ {
				srv.appendMsg(t, "INBOX", question(n))
			}
			startReceiver(t, st, srv.url(tc.q), logs, func(c *Config) { c.NoIdle = !tc.idle })
			waitUntil(t, "the fifth stored and all moved", func() bool {
				return slices.Equal(stored(t, st), ids(1, 2, 3, 4, 5)) && srv.count(t, "INBOX") == 0 && srv.count(t, "Done") == 9
			})
			out := logs.String()
			if !strings.Contains(out, "UIDVALIDITY changed") {
				t.Error("the UIDVALIDITY change was not logged")
			}
			if n := strings.Count(out, "duplicate=true"); n != 4 {
				t.Errorf("%d messages found stored after the UIDVALIDITY change, want 4", n)
			}
			if n := strings.Count(out, "message accepted"); n != 9 {
				t.Errorf("%d messages accepted, want 9 (5 new, 4 found stored)", n)
			}
			noSecrets(t, out)
		})
	}
}

// TestSeenOnlyAndRefused: with ?done= empty a stored message stays,
// flagged \Seen; one with no forum recipient and one over the size limit
// stay unseen with $PosternFailed; a restart stores none again.
func TestSeenOnlyAndRefused(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	srv.appendMsg(t, "INBOX", question(1))
	srv.appendMsg(t, "INBOX", "From: a@example.org\r\nTo: someone@example.org\r\nMessage-ID: <x@example.org>\r\nSubject: x\r\n\r\nx\r\n")
	srv.appendMsg(t, "INBOX", question(9)+strings.Repeat("z", 2048)+"\r\n")
	small := func(c *Config) { c.MaxMessage = 1024 }
	stop := startReceiver(t, st, srv.url("?done="), logs, small)
	defer func() {
		if t.Failed() {
			t.Logf("flags %v\n%s", srv.flags(t, "INBOX"), logs.String())
		}
	}()
	waitUntil(t, "one stored, one refused", func() bool {
		f := srv.flags(t, "INBOX")
		return slices.Equal(stored(t, st), ids(1)) && len(f) == 3 && hasFlag(f[0], imap.FlagSeen) &&
			hasFlag(f[1], failedKeyword) && !hasFlag(f[1], imap.FlagSeen) && hasFlag(f[2], failedKeyword) && !hasFlag(f[2], imap.FlagSeen)
	})
	stop()
	startReceiver(t, st, srv.url("?done="), logs, small)
	srv.appendMsg(t, "INBOX", question(2))
	waitUntil(t, "the second stored", func() bool { return slices.Equal(stored(t, st), ids(1, 2)) })
	waitUntil(t, "the second seen", func() bool {
		f := srv.flags(t, "INBOX")
		return len(f) == 4 && hasFlag(f[3], imap.FlagSeen)
	})
	out := logs.String()
	if n := strings.Count(out, "message accepted"); n != 2 {
		t.Errorf("%d messages accepted, want 2", n)
	}
	if n := strings.Count(out, "message refused: no recipient"); n != 1 {
		t.Errorf("%d messages refused for want of a recipient, want 1", n)
	}
	if n := strings.Count(out, "message refused: over the size limit"); n != 1 {
		t.Errorf("%d messages refused for their size, want 1", n)
	}
	noSecrets(t, out)
	// What `postern inbound list --failed` shows of them: once each,
	// restart or not, newest first.
	refused, err := st.ListIMAPRefused(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"3 over the size limit", "2 no recipient of the forum's domain in Delivered-To, X-Original-To, To or Cc"}
	var got []string
	for _, r := range refused {
		got = append(got, fmt.Sprintf("%d %s", r.UID, r.Reason))
		if r.Mailbox != srv.addr+"/INBOX" {
			t.Errorf("refused row of mailbox %q", r.Mailbox)
		}
		noSecrets(t, r.MessageID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("refused messages listed:\n%q\nwant\n%q", got, want)
	}
	if refused[0].MessageID != "" || refused[1].MessageID == "" || refused[1].Size == 0 {
		t.Errorf("Message-IDs and sizes: %+v", refused)
	}
}

// TestLoginRefusedLogged: a wrong password is logged as a refused login
// and retried, with neither password nor user in the log.
func TestLoginRefusedLogged(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	startReceiver(t, st, strings.Replace(srv.url(""), testPass, "wrong-pass", 1), logs)
	waitUntil(t, "two failed logins", func() bool { return strings.Count(logs.String(), "step=login") >= 2 })
	out := logs.String()
	if !strings.Contains(out, "login refused") || strings.Contains(out, "wrong-pass") {
		t.Errorf("log of a refused login:\n%s", out)
	}
	noSecrets(t, out)
}

// noSecrets fails the test when the log holds the password, the user or
// an address of the messages.
func noSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{testPass, testUser, "provider.example", "reader@", "ask@", "@example.org"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
}

// hasFlag reports whether flags holds f (keywords are case-insensitive).
func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(flags, func(g imap.Flag) bool { return strings.EqualFold(string(g), string(f)) })
}

// lostAfterCommit is a store whose first TakeIMAP commits and then fails,
// as when the connection to the database, or the process, dies after the
// commit and before the receiver hears of it.
type lostAfterCommit struct {
	*threads.Store
	failed atomic.Bool
}

func (s *lostAfterCommit) TakeIMAP(ctx context.Context, key string, uv uint32, msgs []threads.IMAPMessage) ([]threads.IMAPTaken, error) {
	res, err := s.Store.TakeIMAP(ctx, key, uv, msgs)
	if err == nil && len(msgs) > 0 && !s.failed.Swap(true) {
		return nil, errors.New("connection lost after the commit")
	}
	return res, err
}

// TestLostAfterCommit: a batch committed but not reported is neither
// stored again nor left behind: the next session finds the cursor past
// it and moves it.
func TestLostAfterCommit(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := &lostAfterCommit{Store: storetest.New(t, nil)}
	logs := &logBuf{}
	srv.appendMsg(t, "INBOX", question(1))
	srv.appendMsg(t, "INBOX", question(2))
	ms, err := imapurl.ParseList(srv.url("?done=Done"))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{Domain: storetest.Domain, BackoffMin: 50 * time.Millisecond}, ms, st,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.Start()
	defer r.Close()
	waitUntil(t, "both moved", func() bool { return srv.count(t, "INBOX") == 0 && srv.count(t, "Done") == 2 })
	if got := stored(t, st.Store); !slices.Equal(got, ids(1, 2)) {
		t.Errorf("stored %v", got)
	}
	if out := logs.String(); !strings.Contains(out, "connection lost after the commit") || strings.Contains(out, "message accepted") {
		t.Errorf("log:\n%s", out)
	}
}

// TestDoneFolderCreated: a done folder the server lacks is created, and
// without MOVE the messages are deleted only once copied.
func TestDoneFolderCreated(t *testing.T) {
	for name, caps := range map[string]imap.CapSet{"move": idleCaps, "copy": pollCaps} {
		t.Run(name, func(t *testing.T) {
			srv := startServer(t, caps)
			st := storetest.New(t, nil)
			logs := &logBuf{}
			srv.appendMsg(t, "INBOX", question(1))
			startReceiver(t, st, srv.url("?done=Forum/Stored"), logs)
			waitUntil(t, "the message moved", func() bool {
				if _, err := srv.user.Status("Forum/Stored", &imap.StatusOptions{}); err != nil {
					return false
				}
				return srv.count(t, "INBOX") == 0 && srv.count(t, "Forum/Stored") == 1
			})
			if out := logs.String(); !strings.Contains(out, "done folder created") || strings.Contains(out, "connection ended") {
				t.Errorf("log:\n%s", out)
			}
		})
	}
}

// TestMemoryBudget: batches are cut to a quarter of the memory budget,
// charged while fetched and stored, and given back.
func TestMemoryBudget(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	for n := 1; n <= 5; n++ {
		srv.appendMsg(t, "INBOX", question(n))
	}
	const budget = 1024 // a batch of 256 bytes: one message each
	mem := semaphore.NewWeighted(budget)
	startReceiver(t, st, srv.url("?done=Done"), logs, func(c *Config) { c.Memory, c.MemoryBudget = mem, budget })
	waitUntil(t, "all stored and moved", func() bool {
		return slices.Equal(stored(t, st), ids(1, 2, 3, 4, 5)) && srv.count(t, "Done") == 5
	})
	if !mem.TryAcquire(budget) {
		t.Error("the memory budget was not given back")
	}
	if n := strings.Count(logs.String(), "message accepted"); n != 5 {
		t.Errorf("%d accepted, want 5", n)
	}
}
