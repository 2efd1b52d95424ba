package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/postern/postern/mailin/imap/imapurl"
)

// session is one connection to a mailbox, from dial to its end.
type session struct {
	r   *Receiver
	m   imapurl.Mailbox
	log *slog.Logger

	c           *imapclient.Client
	plain       bool // the connection is not encrypted
	uidValidity uint32
	newMail     chan struct{} // a new EXISTS arrived (unilateral)
	// step names where the session is, for its last log line: connect,
	// login, select, read, wait.
	step     string
	readOnce bool // a whole read pass succeeded: the mailbox works
	finished bool // finish ran once in this session
}

// run connects, logs in and selects the folder, then reads and waits
// in turn until ctx ends or the connection fails.
func (s *session) run(ctx context.Context) error {
	s.step = "connect"
	s.newMail = make(chan struct{}, 1)
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.c = c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer func() {
		stop()
		_ = c.Close()
	}()
	if err := s.login(); err != nil {
		return err
	}
	s.step = "select"
	sel, err := c.Select(s.m.Mailbox, nil).Wait()
	if err != nil {
		return err
	}
	s.uidValidity = sel.UIDValidity
	s.r.health.up(s.m, s.log)
	s.log.Info("mailbox open", "tls", !s.plain, "idle", s.canIdle(), "move", c.Caps().Has(imap.CapMove), "messages", sel.NumMessages)
	for {
		s.step = "read"
		if err := s.read(ctx); err != nil {
			return err
		}
		s.readOnce = true
		s.step = "wait"
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
}

// dial opens the connection the URL asks for: implicit TLS, STARTTLS,
// or (to a loopback address without ?starttls=required) STARTTLS when
// the server takes it and plain text when it refuses.
func (s *session) dial(ctx context.Context) (*imapclient.Client, error) {
	opts := &imapclient.Options{
		TLSConfig: s.tlsConfig(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case s.newMail <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	switch s.m.Security {
	case imapurl.TLS:
		conn, err := (&tls.Dialer{NetDialer: dialer, Config: opts.TLSConfig}).DialContext(ctx, "tcp", s.m.Addr())
		if err != nil {
			return nil, err
		}
		return imapclient.New(conn, opts), nil
	case imapurl.StartTLSRequired:
		return s.startTLS(ctx, opts)
	}
	c, err := s.startTLS(ctx, opts)
	var refusal *imap.Error
	if err == nil || !errors.As(err, &refusal) {
		return c, err
	}
	// The server has no STARTTLS: plain text (login checks the address).
	s.plain = true
	conn, err := dialer.DialContext(ctx, "tcp", s.m.Addr())
	if err != nil {
		return nil, err
	}
	return imapclient.New(conn, opts), nil
}

// dialer makes the TCP connections; ctx cancels a dial under way.
var dialer = &net.Dialer{Timeout: 30 * time.Second}

// startTLS connects and upgrades with STARTTLS; an *imap.Error when the
// server refuses it.
func (s *session) startTLS(ctx context.Context, opts *imapclient.Options) (*imapclient.Client, error) {
	conn, err := dialer.DialContext(ctx, "tcp", s.m.Addr())
	if err != nil {
		return nil, err
	}
	return imapclient.NewStartTLS(conn, opts)
}

// tlsConfig is the configured TLS settings, naming the URL's host.
func (s *session) tlsConfig() *tls.Config {
	tc := &tls.Config{}
	if s.r.cfg.TLSConfig != nil {
		tc = s.r.cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = s.m.Host
	}
	return tc
}

// login sends the user and password, refusing to over plain text to a
// host that is not loopback (imapurl already requires STARTTLS there:
// this is the second check).
func (s *session) login() error {
	s.step = "login"
	if err := s.c.WaitGreeting(); err != nil {
		return err
	}
	if s.plain && !s.m.Loopback() {
		return fmt.Errorf("%w: plain-text login to a host that is not loopback", errRefused)
	}
	pass, err := password(s.m)
	if err != nil {
		return err
	}
	if err := s.c.Login(s.m.User, pass).Wait(); err != nil {
		return fmt.Errorf("login refused: %w", err)
	}
	return nil
}

// password is m's password: the URL's, the first line of its
// password_file (read at each login, so that a changed file is used at
// the next) or its password_env variable.
func password(m imapurl.Mailbox) (string, error) {
	switch {
	case m.PasswordFile != "":
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read password_file: %w", err)
		}
		pass, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(pass, "\r"), nil
	case m.PasswordEnv != "":
		pass := os.Getenv(m.PasswordEnv)
		if pass == "" {
			return "", fmt.Errorf("password_env: %s is not set or empty", m.PasswordEnv)
		}
		return pass, nil
	}
	return m.Password, nil
}

// canIdle reports whether the server takes IDLE.
func (s *session) canIdle() bool {
	if s.r.cfg.NoIdle {
		return false
	}
	caps := s.c.Caps()
	return caps.Has(imap.CapIdle) || caps.Has(imap.CapIMAP4rev2)
}

// describe is err as a log line may show it: an IMAP server's reply by
// its status and code, and its text unless the reply is to LOGIN
// (where a server may echo the user).
func describe(err error) string {
	if err == nil {
		return ""
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		d := string(ie.Type)
		if ie.Code != "" {
			d += " [" + string(ie.Code) + "]"
		}
		if strings.HasPrefix(err.Error(), "login refused") {
			return "login refused: " + d
		}
		return d + " " + ie.Text
	}
	return err.Error()
}
