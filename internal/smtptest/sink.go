// Package smtptest gives tests a real SMTP peer on loopback: a Sink (a
// go-smtp server on 127.0.0.1:0 that records what it accepts and can be
// scripted to refuse), a sender (Send, Dial, Transact: go-smtp's client
// for SMTP and LMTP) and Raw, a byte-for-byte client for hostile input.
//
// Nothing here is a mock: every message crosses a TCP connection and the
// go-smtp state machine Postern itself uses. A Sink stops at t.Cleanup and
// waits for its sessions to end, so goleak finds no goroutine of it.
package smtptest

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// DefaultWait is how long Wait and WaitFor wait when given 0: long enough
// for a loaded machine under the race detector.
const DefaultWait = 20 * time.Second

// Message is one message a Sink accepted.
type Message struct {
	From string   // envelope sender (MAIL FROM)
	To   []string // envelope recipients accepted at RCPT, in order
	Data []byte   // the message as received (CRLF line ends)
	User string   // the AUTH user of the session, "" without AUTH
	TLS  bool     // whether the session ran over TLS
}

// RcptFunc scripts the reply to RCPT TO:<to>; n counts the RCPT commands
// naming to since the rule was set (from 1). It returns nil to accept.
type RcptFunc func(to string, n int) *smtp.SMTPError

// DataFunc scripts the reply after DATA for m, which the sink read whole;
// nil accepts (and records) it.
type DataFunc func(m Message) *smtp.SMTPError

// Options configure a Sink; the zero value is a plain server that accepts
// everything.
type Options struct {
	Domain          string        // greeting name; "relay.test" when empty
	MaxMessageBytes int64         // 10 MiB when 0
	MaxRecipients   int           // 0: no limit
	Timeout         time.Duration // read and write timeout; 10 s when 0

	// Cert, when set, is offered with STARTTLS, or (Implicit) is the
	// certificate of a TLS listener (smtps).
	Cert     *tls.Certificate
	Implicit bool

	// User and Password, when User is set, are the only credentials
	// AUTH PLAIN accepts; RequireAuth refuses MAIL before AUTH (502, smtp.ErrAuthRequired).
	User, Password string
	RequireAuth    bool

	Rcpt RcptFunc // initial RCPT rule (see SetRcpt)
	Data DataFunc // initial DATA rule (see SetData)

	// Hold, when set, makes every DATA wait, after reading the message,
	// until it is closed: a relay that stops answering.
	Hold <-chan struct{}

	// Discard keeps no accepted message (Messages stays empty), for long
	// runs whose Data rule counts what it needs.
	Discard bool
}

// Sink is a running SMTP server that records the messages it accepts.
// Its methods are safe for concurrent use.
type Sink struct {
	srv  *smtp.Server
	addr string
	opts Options

	mu       sync.Mutex
	msgs     []Message
	changed  chan struct{} // closed and replaced on every new message
	rcpt     RcptFunc
	data     DataFunc
	rcpts    map[string]int // RCPT commands per address since SetRcpt
	sessions int            // sessions opened
	live     int            // sessions not yet logged out
	idle     chan struct{}  // closed and replaced when live drops
}

// Start runs a Sink on 127.0.0.1:0 until t's cleanup, which closes it and
// waits (up to 5 s) for its sessions to end.
func Start(t testing.TB, opts Options) *Sink {
	t.Helper()
	s := &Sink{opts: opts, changed: make(chan struct{}), idle: make(chan struct{}),
		rcpt: opts.Rcpt, data: opts.Data, rcpts: map[string]int{}}
	srv := smtp.NewServer(s)
	srv.Domain = cmp(opts.Domain, "relay.test")
	srv.AllowInsecureAuth = true
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	srv.ReadTimeout, srv.WriteTimeout = timeout, timeout
	srv.MaxMessageBytes = opts.MaxMessageBytes
	if srv.MaxMessageBytes == 0 {
		srv.MaxMessageBytes = 10 << 20
	}
	srv.MaxRecipients = opts.MaxRecipients
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	if opts.Cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*opts.Cert}}
		if opts.Implicit {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	s.srv, s.addr = srv, ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
		if err := s.waitIdle(5 * time.Second); err != nil {
			t.Errorf("smtptest: %v", err)
		}
	})
	return s
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Addr is the sink's host:port.
func (s *Sink) Addr() string { return s.addr }

// URL is the sink as a Postern relay URL: smtp://ADDR?starttls=no, or
// with STARTTLS allowed when the sink offers it.
func (s *Sink) URL() string {
	if s.opts.Cert != nil {
		return "smtp://" + s.addr
	}
	return "smtp://" + s.addr + "?starttls=no"
}

// Messages returns a copy of the messages accepted so far, in order.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Sessions is how many sessions (connections) the sink has opened.
func (s *Sink) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// RcptCount is how many RCPT commands named to since the last SetRcpt.
func (s *Sink) RcptCount(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts[to]
}

// SetRcpt replaces the RCPT rule (nil accepts all) and forgets the counts.
func (s *Sink) SetRcpt(f RcptFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcpt, s.rcpts = f, map[string]int{}
}

// SetData replaces the DATA rule (nil accepts all).
func (s *Sink) SetData(f DataFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = f
}

// Wait returns the first n messages once the sink has accepted at least n,
// failing t if that takes longer than timeout (DefaultWait when 0).
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	msgs, ok := s.await(timeout, func(msgs []Message) bool { return len(msgs) >= n })
	if !ok {
		t.Fatalf("smtptest: %d messages within %v, want %d", len(msgs), orDefault(timeout), n)
	}
	return msgs[:n]
}

// WaitFor returns the first accepted message (the oldest, not only new
// ones) for which match is true, failing t if none is there within timeout
// (DefaultWait when 0).
func (s *Sink) WaitFor(t testing.TB, timeout time.Duration, match func(Message) bool) Message {
	t.Helper()
	var found Message
	msgs, ok := s.await(timeout, func(msgs []Message) bool {
		for _, m := range msgs {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("smtptest: no matching message within %v (%d received)", orDefault(timeout), len(msgs))
	}
	return found
}

func orDefault(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultWait
	}
	return d
}

// await calls done with the messages on every change until it is true or
// timeout passes; it returns the last messages seen and whether done held.
func (s *Sink) await(timeout time.Duration, done func([]Message) bool) ([]Message, bool) {
	timer := time.NewTimer(orDefault(timeout))
	defer timer.Stop()
	for {
		s.mu.Lock()
		msgs, changed := slices.Clone(s.msgs), s.changed
		s.mu.Unlock()
		if done(msgs) {
			return msgs, true
		}
		select {
		case <-changed:
		case <-timer.C:
			return msgs, false
		}
	}
}

func (s *Sink) waitIdle(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		live, idle := s.live, s.idle
		s.mu.Unlock()
		if live == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-timer.C:
			return fmt.Errorf("%d sessions still open %v after Close", live, timeout)
		}
	}
}

func (s *Sink) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.Discard {
		s.msgs = append(s.msgs, m)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.live++
	s.mu.Unlock()
	return &session{s: s, conn: c}, nil
}

type session struct {
	s    *Sink
	conn *smtp.Conn
	user string
	cur  Message
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if ss.s.opts.User == "" || username != ss.s.opts.User || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.RequireAuth && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = Message{From: from, User: ss.user}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s := ss.s
	s.mu.Lock()
	s.rcpts[to]++
	n, rule := s.rcpts[to], s.rcpt
	s.mu.Unlock()
	if rule != nil {
		if err := rule(to, n); err != nil {
			return err
		}
	}
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.opts.Hold != nil {
		<-ss.s.opts.Hold
	}
	m := ss.cur
	m.Data = b
	_, m.TLS = ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	rule := ss.s.data
	ss.s.mu.Unlock()
	if rule != nil {
		if err := rule(m); err != nil {
			return err
		}
	}
	ss.s.record(m)
	return nil
}

func (ss *session) Reset() { ss.cur = Message{User: ss.user} }

func (ss *session) Logout() error {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live--
	close(s.idle)
	s.idle = make(chan struct{})
	return nil
}
