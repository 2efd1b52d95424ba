// Package imaptest helps tests run go-imap's in-memory IMAP server
// (imapserver/imapmemserver) as a provider's mailbox.
package imaptest

import (
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Session is a new session of mem whose IDLE sees every update (for
// imapserver.Options.NewSession).
func Session(mem *imapmemserver.Server) imapserver.Session {
	return idleSession{mem.NewSession().(imapserver.SessionIMAP4rev2)}
}

// idleSession is a memory server session whose IDLE sees every update.
// go-imap's SessionTracker.Idle (v2.0.0-beta.8) only wakes on updates
// queued after it started: one queued between the previous command's
// reply and the IDLE stays unsent until the next command, so a message
// appended in that instant would wait for the receiver's IdleRefresh
// (seen under load in make test). This IDLE ends the tracker's every
// 100ms and polls the queue (a real server, Dovecot, needs no such
// help: TestDovecot).
type idleSession struct {
	imapserver.SessionIMAP4rev2
}

func (s idleSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		inner := make(chan struct{})
		done := make(chan error, 1)
		go func() { done <- s.SessionIMAP4rev2.Idle(w, inner) }()
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-stop:
			t.Stop()
			close(inner)
			return <-done
		case <-t.C:
		}
		close(inner)
		if err := <-done; err != nil {
			return err
		}
		if err := s.Poll(w, true); err != nil {
			return err
		}
	}
}
