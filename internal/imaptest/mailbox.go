package imaptest

import (
	"io"
	"log"
	"net"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Mailbox is go-imap's in-memory server on a loopback port, stopped when
// the test ends: a provider's mailbox of one user, with the folders INBOX
// and Done, offering MOVE and UIDPLUS.
type Mailbox struct {
	User *imapmemserver.User
	Addr string // host:port
	// URL is the mailbox as POSTERN_IMAP_URL (INBOX, done=Done).
	URL string
}

// Start serves a Mailbox for user with password pass.
func Start(t testing.TB, user, pass string) *Mailbox {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(user, pass)
	mem.AddUser(u)
	for _, f := range []string{"INBOX", "Done"} {
		if err := u.Create(f, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return Session(mem), nil, nil
		},
		Caps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapMove: {}, imap.CapUIDPlus: {}}, InsecureAuth: true,
		Logger: log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	addr := ln.Addr().String()
	return &Mailbox{User: u, Addr: addr, URL: "imap://" + user + ":" + pass + "@" + addr + "/INBOX?done=Done"}
}

// Count is the number of messages in folder.
func (m *Mailbox) Count(t testing.TB, folder string) int {
	t.Helper()
	st, err := m.User.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	return int(*st.NumMessages)
}
