package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/emersion/go-imap/v2"

	"github.com/postern/postern/mailin/imap/imapurl"
)

// Report is what Check found of one mailbox: the server's capabilities,
// the folder's state and what the receiver would do with it.
type Report struct {
	Label      string // host:port/folder (imapurl.Mailbox.Label)
	Connection string // "TLS", "STARTTLS" or "plain text (loopback)"
	Idle       bool   // the server offers IDLE
	Move       bool   // the server offers MOVE
	UIDPlus    bool   // the server offers UIDPLUS
	// UIDValidity and Messages are the folder's, as EXAMINE reports them;
	// Failed counts its messages with the keyword $PosternFailed.
	UIDValidity uint32
	Messages    uint32
	Failed      int
	// Waiting is how the receiver waits for new mail, Finish what it does
	// with a stored message; Done is the done folder ("": none) and
	// DoneExists whether the server lists it.
	Waiting    string
	Finish     string
	Done       string
	DoneExists bool
}

// Check logs in to mailbox m as the receiver would (same TLS rules, same
// password sources) and examines its folder, changing nothing: EXAMINE
// (read-only, so no flag changes), LIST of the done folder, a SEARCH for
// $PosternFailed, LOGOUT. Its error names the step that failed and, like
// the receiver's log lines, never holds the user or the password.
func Check(ctx context.Context, cfg Config, m imapurl.Mailbox) (Report, error) {
	r := New(cfg, nil, nil, nil)
	s := &session{r: r, m: m, log: slog.New(slog.DiscardHandler), newMail: make(chan struct{}, 1), step: "connect"}
	rep, err := s.check(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("%s %s: %s", m.Label(), s.step, describe(err))
	}
	return rep, nil
}

// check is Check's work on session s.
func (s *session) check(ctx context.Context) (Report, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return Report{}, err
	}
	s.c = c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer func() {
		stop()
		_ = c.Close()
	}()
	if err := s.login(); err != nil {
		return Report{}, err
	}
	caps := c.Caps()
	rep := Report{Label: s.m.Label(), Connection: s.connection(), Done: s.m.Done,
		Idle:    caps.Has(imap.CapIdle) || caps.Has(imap.CapIMAP4rev2),
		Move:    caps.Has(imap.CapMove) || caps.Has(imap.CapIMAP4rev2),
		UIDPlus: caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2)}
	s.step = "examine"
	sel, err := c.Select(s.m.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return Report{}, err
	}
	rep.UIDValidity, rep.Messages = sel.UIDValidity, sel.NumMessages
	s.step = "search"
	if sel.NumMessages > 0 {
		data, err := c.UIDSearch(&imap.SearchCriteria{Flag: []imap.Flag{failedKeyword}}, nil).Wait()
		if err != nil {
			return Report{}, err
		}
		rep.Failed = len(data.AllUIDs())
	}
	s.step = "list"
	if s.m.Done != "" {
		list, err := c.List("", s.m.Done, nil).Collect()
		if err != nil {
			return Report{}, err
		}
		rep.DoneExists = len(list) > 0
	}
	rep.Waiting, rep.Finish = s.plan(rep)
	s.step = "logout"
	if err := c.Logout().Wait(); err != nil && !errors.Is(err, io.EOF) {
		return Report{}, err
	}
	return rep, nil
}

// connection names how the session's connection is encrypted.
func (s *session) connection() string {
	switch {
	case s.plain:
		return "plain text (loopback)"
	case s.m.Security == imapurl.TLS:
		return "TLS"
	}
	return "STARTTLS"
}

// plan words what the receiver would do with the mailbox of rep.
func (s *session) plan(rep Report) (waiting, finish string) {
	if rep.Idle && !s.r.cfg.NoIdle {
		waiting = fmt.Sprintf("IDLE, renewed every %v", s.r.cfg.IdleRefresh)
	} else {
		waiting = fmt.Sprintf("poll every %v (the server offers no IDLE)", s.m.Poll)
	}
	switch {
	case s.m.Done == "":
		finish = `flag \Seen (no done folder)`
	case rep.Move:
		finish = fmt.Sprintf("move to %q with MOVE", s.m.Done)
	case rep.UIDPlus:
		finish = fmt.Sprintf(`move to %q with COPY, STORE \Deleted, UID EXPUNGE`, s.m.Done)
	default:
		finish = fmt.Sprintf(`move to %q with COPY, STORE \Deleted, EXPUNGE (no UIDPLUS: other messages marked \Deleted are expunged too)`, s.m.Done)
	}
	return waiting, finish
}

// Write prints the report to w, one "name: value" line each.
func (rep Report) Write(w io.Writer) error {
	yes := map[bool]string{true: "yes", false: "no"}
	done := "none"
	switch {
	case rep.Done != "" && rep.DoneExists:
		done = fmt.Sprintf("%q exists", rep.Done)
	case rep.Done != "":
		done = fmt.Sprintf("%q missing: created at the first move", rep.Done)
	}
	_, err := fmt.Fprintf(w, "mailbox: %s\nconnection: %s\nlogin: ok\ncapabilities: IDLE %s, MOVE %s, UIDPLUS %s\n"+
		"uidvalidity: %d\nmessages: %d (%d flagged %s)\nwaiting: %s\nafter storing: %s\ndone folder: %s\n",
		rep.Label, rep.Connection, yes[rep.Idle], yes[rep.Move], yes[rep.UIDPlus],
		rep.UIDValidity, rep.Messages, rep.Failed, failedKeyword, rep.Waiting, rep.Finish, done)
	return err
}
