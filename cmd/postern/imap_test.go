package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/threads"
)

// TestIMAPCheck: `postern imap check` reports a mailbox of go-imap's
// memory server given as an argument or by POSTERN_IMAP_URL, without the
// user or password.
func TestIMAPCheck(t *testing.T) {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("forum@provider.example", "pw-imap-check")
	mem.AddUser(u)
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nx\r\n"), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}}, InsecureAuth: true, Logger: log.New(io.Discard, "", 0),
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	url := "imap://forum%40provider.example:pw-imap-check@" + ln.Addr().String() + "/INBOX?done=Done"
	want := []string{"mailbox: " + ln.Addr().String() + "/INBOX", "capabilities: IDLE yes, MOVE yes, UIDPLUS no",
		"messages: 1 (0 flagged $PosternFailed)", `after storing: move to "Done" with MOVE`, `done folder: "Done" missing`}
	t.Setenv("POSTERN_IMAP_URL", "")
	for name, args := range map[string][]string{"argument": {"imap", "check", url}, "environment": {"imap", "check"}} {
		if name == "environment" {
			t.Setenv("POSTERN_IMAP_URL", url)
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, errb.String())
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out.String())
			}
		}
		for _, secret := range []string{"pw-imap-check", "forum"} {
			if strings.Contains(out.String()+errb.String(), secret) {
				t.Errorf("%s: output holds %q", name, secret)
			}
		}
	}
}

// TestInboundListFailedIMAP: `postern inbound list --failed` lists an
// IMAP message that was refused, with its mailbox, UID and reason, in
// text and JSON, and no address.
func TestInboundListFailedIMAP(t *testing.T) {
	t.Parallel()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	ctx := context.Background()
	_, err := a.Store().TakeIMAP(ctx, "k1", 7, []threads.IMAPMessage{{UID: 4, Env: threads.Envelope{Source: threads.SourceIMAP},
		Refused: &threads.IMAPRefusal{Mailbox: "imap.example.net:993/INBOX", MessageID: "m1@mail.example.org", Size: 321, Reason: "no recipient of the forum's domain"}}})
	if err != nil {
		t.Fatal(err)
	}
	db := []string{"--database-url", a.Config().Store.DatabaseURL}
	for _, format := range [][]string{nil, {"--json"}} {
		var out, errb bytes.Buffer
		if err := run(ctx, append(append([]string{"inbound", "list", "--failed"}, db...), format...), &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", format, err, errb.String())
		}
		for _, w := range []string{"refused", "imap.example.net:993/INBOX UID 4: no recipient of the forum's domain (kept in the mailbox with $PosternFailed)"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", format, w, out.String())
			}
		}
		if strings.Contains(out.String(), "m1@mail.example.org") {
			t.Errorf("%v: output holds the Message-ID's address:\n%s", format, out.String())
		}
	}
}
