package imap

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/storetest"
)

// TestReadyNamesMailboxDown: a mailbox whose login fails makes Ready
// fail after NotReadyAfter, naming host:port/folder and the step, never
// the user or password, and logs it once; once the login works Ready
// passes again, logged too. A connected mailbox stays ready past
// NotReadyAfter.
func TestReadyNamesMailboxDown(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("wrong-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(srv.url("?password_file="+pwFile), ":"+testPass+"@", "@", 1)
	logs := &logBuf{}
	short := func(c *Config) { c.NotReadyAfter, c.IdleRefresh = 150*time.Millisecond, 100*time.Millisecond }
	r := startReceiverR(t, st, url, logs, short)
	var err error
	waitUntil(t, "Ready failing", func() bool { err = r.Ready(); return err != nil })
	if got := r.Connected(); len(got) != 1 || got[srv.addr+"/INBOX"] {
		t.Errorf("Connected while the login fails = %v", got)
	}
	if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), srv.addr+"/INBOX for ") || !strings.Contains(err.Error(), "failing at login") {
		t.Errorf("Ready = %v, want ErrNotConnected naming %s/INBOX and login", err, srv.addr)
	}
	waitUntil(t, "the outage logged", func() bool { return strings.Contains(logs.String(), "mailbox not connected") })
	if err := os.WriteFile(pwFile, []byte(testPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Ready passing", func() bool { return r.Ready() == nil })
	waitUntil(t, "Connected", func() bool { return r.Connected()[srv.addr+"/INBOX"] })
	waitUntil(t, "three IDLEs refreshed, past NotReadyAfter", func() bool { return strings.Count(logs.String(), "idle refreshed") >= 3 })
	if err := r.Ready(); err != nil {
		t.Errorf("connected for longer than NotReadyAfter: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, "mailbox not connected"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "mailbox connected again") {
		t.Errorf("no reconnection logged:\n%s", out)
	}
	noSecrets(t, out+err.Error())
	for _, s := range []string{"wrong-pass", testPass} {
		if strings.Contains(out+err.Error(), s) {
			t.Errorf("a password in the logs or Ready's error")
		}
	}
	srv.appendMsg(t, "INBOX", question(1))
	waitUntil(t, "the message stored", func() bool { return slices.Equal(stored(t, st), ids(1)) })
}
