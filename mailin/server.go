package mailin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/threads"
)

// Intake is where accepted messages go: threads.Store implements it.
type Intake interface {
	// NewBuffer returns an empty buffer that DATA reads the message of
	// envelope sender mailFrom into.
	NewBuffer(mailFrom string) *threads.InboundBuffer
	// AcceptBuffer must return nil only once the message in buf is
	// durably committed; it takes buf (see threads.Store.AcceptBuffer).
	AcceptBuffer(ctx context.Context, env threads.Envelope, buf *threads.InboundBuffer) (threads.Accepted, error)
	// AcceptStream is AcceptBuffer for a message of threads.StreamFrom
	// bytes or more, whose first bytes are in buf and the rest in rest:
	// it stores the message as it reads it (see
	// threads.Store.AcceptStream), each wait for the database bounded by
	// wait; a failure of rest comes back as a *threads.ReadError.
	AcceptStream(ctx context.Context, env threads.Envelope, buf *threads.InboundBuffer, rest io.Reader, wait time.Duration) (threads.Accepted, error)
	// TokenEpoch reports a person's current token epoch.
	TokenEpoch(ctx context.Context, personID int64) (int64, bool, error)
	// RateLimited reports whether the sender or client IP is over its
	// hourly limit for recipients of kind.
	RateLimited(ctx context.Context, mailFrom, remoteIP string, kind threads.RecipientKind) (bool, error)
}

// Server is Postern's SMTP and LMTP receiver. Create it with New, then call
// ServeSMTP and/or ServeLMTP (each blocks) and Shutdown to stop.
type Server struct {
	cfg    Config
	intake Intake
	addrs  *threads.Addresses
	log    *slog.Logger
	nextID atomic.Uint64

	smtpSrv, lmtpSrv *smtp.Server        // made by New, so Shutdown always reaches both
	smtpsSrv         *smtp.Server        // implicit TLS (ServeSMTPS); made by New too
	mem              *semaphore.Weighted // MemoryBudget: bytes of messages in flight
}

// New returns a Server accepting mail for addrs' domain into intake.
func New(cfg Config, intake Intake, addrs *threads.Addresses, log *slog.Logger) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = addrs.Domain()
	}
	if log == nil {
		log = slog.Default()
	}
	mem := cfg.Memory
	if mem == nil {
		mem = semaphore.NewWeighted(cfg.MemoryBudget)
	}
	s := &Server{cfg: cfg, intake: intake, addrs: addrs, log: log, mem: mem}
	s.smtpSrv, s.lmtpSrv, s.smtpsSrv = s.newSMTPServer(false), s.newSMTPServer(true), s.newSMTPServer(false)
	if cfg.Certs != nil {
		// STARTTLS on SMTP; the implicit-TLS server's connections are TLS
		// already, so go-smtp offers it no STARTTLS.
		s.smtpSrv.TLSConfig = cfg.Certs.config(cfg.TLSMinVersion)
	}
	return s
}

func (s *Server) newSMTPServer(lmtp bool) *smtp.Server {
	srv := smtp.NewServer(s)
	srv.LMTP = lmtp
	srv.Domain = s.cfg.Hostname
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.MaxLineLength = s.cfg.MaxLineLength
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	srv.ErrorLog = slogErrorLog{s.log}
	if s.cfg.Transcript {
		srv.Debug = transcriptWriter{s.log}
	}
	return srv
}

// ServeSMTP serves SMTP on l until Shutdown; it returns smtp.ErrServerClosed
// after a Shutdown. A client address holding MaxConnectionsPerIP sessions
// gets 421 4.7.0 for any more.
func (s *Server) ServeSMTP(l net.Listener) error {
	return s.smtpSrv.Serve(newGuardListener(netutil.LimitListener(l, s.cfg.MaxConnections), &s.cfg, s.cfg.MaxConnectionsPerIP, s.log))
}

// ServeSMTPS serves SMTP over TLS from the first byte (port 465 style) on
// l, with the limits of ServeSMTP. It needs Config.Certs.
func (s *Server) ServeSMTPS(l net.Listener) error {
	if s.cfg.Certs == nil {
		return fmt.Errorf("smtps: no TLS certificate configured")
	}
	guard := newGuardListener(netutil.LimitListener(l, s.cfg.MaxConnections), &s.cfg, s.cfg.MaxConnectionsPerIP, s.log)
	return s.smtpsSrv.Serve(tls.NewListener(guard, s.cfg.Certs.config(s.cfg.TLSMinVersion)))
}

// ServeLMTP serves LMTP (RFC 2033, per-recipient status) on l. There is no
// per-address cap: every connection comes from the front MTA.
func (s *Server) ServeLMTP(l net.Listener) error {
	return s.lmtpSrv.Serve(newGuardListener(netutil.LimitListener(l, s.cfg.MaxConnections), &s.cfg, 0, s.log))
}

// Shutdown stops accepting and waits for open sessions to end (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range []*smtp.Server{s.smtpSrv, s.lmtpSrv, s.smtpsSrv} {
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	src := threads.SourceSMTP
	if c.Server().LMTP {
		src = threads.SourceLMTP
	}
	id := s.nextID.Add(1)
	s.cfg.Metrics.Session(string(src))
	conn := c.Conn()
	if tc, ok := conn.(*tls.Conn); ok { // implicit TLS: the guard is inside
		conn = tc.NetConn()
	}
	g, _ := conn.(*guardConn) // nil when served without a guardListener
	return &session{srv: s, conn: c, guard: g, source: src, log: s.log.With("conn", id, "proto", string(src))}, nil
}

// Reply errors. go-smtp turns a plain error into 554, so every rejection is
// an *smtp.SMTPError with a deliberate code. Texts never contain addresses.
var (
	errRelayDenied    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay denied: this server only accepts mail for its forum"}
	errNoSuchUser     = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such forum address"}
	errTooManyGuesses = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many invalid reply addresses from your network; try again later"}
	errBadToken       = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "This reply address is invalid or has been revoked; reply to a newer notification or write to the ask address"}
	errTempFail       = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure storing the message, please try again later"}
	errNoRcpt         = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	errTooBig         = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	errHeaderBig      = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message header too big"}
	errBusy           = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Too much mail in progress; please try again later"}
	errRateLimited    = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many messages from you this hour; please try again later"}
	errLoop           = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many Received headers: mail loop suspected"}
	errBareNewline    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message contains a bare CR or LF: every line must end with CRLF (RFC 5321 section 2.3.8)"}
	errOneAction      = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "This address needs its own transaction: send to it separately"}
	// A line over MaxLineLength: the same message always fails, so the
	// refusal is permanent; 554 is a reply RFC 5321 4.3.2 allows after
	// DATA (its "500 Line too long" example is for command lines), and
	// 5.6.0 is a content error, as for a bare CR or LF. go-smtp then
	// closes the connection (its POSTERN.md).
	errLineTooLong = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message has a line too long (RFC 5321 section 4.5.3.1.6); closing connection"}
	// A read that timed out or failed mid-message: temporary, and the
	// connection is closed (guardConn), so SMTP says 421.
	errDataTimeoutSMTP = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout reading the message; closing connection, please try again later"}
	errDataTimeoutLMTP = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout reading the message; please try again later"}
	errDataLostSMTP    = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 0}, Message: "Error reading the message; closing connection, please try again later"}
	errDataLostLMTP    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 0}, Message: "Error reading the message; please try again later"}
)

type session struct {
	srv    *Server
	conn   *smtp.Conn
	guard  *guardConn
	source threads.Source
	log    *slog.Logger

	from    string
	hasFrom bool
	rcpts   []string
	action  txAction // what the accepted recipients ask for
}

// clientAddr is the sending client's address for per-IP limits. Over LMTP
// the peer is the front MTA (Postfix), not the sender, so there is none:
// per-IP limits would otherwise throttle the whole forum at once.
func (s *session) clientAddr() string {
	if s.source == threads.SourceLMTP {
		return ""
	}
	if a := s.conn.Conn().RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// guessKey is the client network the bad-token limit counts ("" over
// LMTP, whose peer is the front MTA).
func (s *session) guessKey() string {
	if s.source == threads.SourceLMTP {
		return ""
	}
	return clientKey(s.conn.Conn().RemoteAddr())
}

// peerAddr is the TCP peer when clientAddr is not it (over LMTP: the
// front MTA), so that an operator can trust its network explicitly.
func (s *session) peerAddr() string {
	if a := s.conn.Conn().RemoteAddr(); a != nil && s.source == threads.SourceLMTP {
		return a.String()
	}
	return ""
}

func (s *session) Reset() {
	s.from, s.hasFrom, s.rcpts, s.action = "", false, nil, txAction{}
	s.guard.setPhase(phaseCommand)
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.Reset()
	s.from, s.hasFrom = from, true
	s.guard.setPhase(phaseMail)
	return nil
}

var _ smtp.SizeRefusedSession = (*session)(nil)

// SizeRefused implements smtp.SizeRefusedSession: MAIL FROM declared a
// SIZE over the limit, and the server answers 552 5.3.4.
func (s *session) SizeRefused(declared, limit int64) {
	s.log.Info("mail refused", "reason", "declared size over the limit", "declared", declared, "limit", limit)
	s.srv.cfg.Metrics.Refused(string(s.source), enhanced(errTooBig))
}

// Rcpt implements smtp.Session (rcpt), counting the refusals.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	err := s.rcpt(to, opts)
	if err != nil {
		s.srv.cfg.Metrics.RcptRefused(string(s.source), code(err))
	}
	return err
}

func (s *session) rcpt(to string, _ *smtp.RcptOptions) error {
	guesser := s.guessKey()
	if s.srv.cfg.Guesses.Blocked(guesser) {
		s.log.Info("rcpt deferred", "reason", "too many bad tokens from this network")
		s.srv.cfg.Metrics.RateLimited("bad_token")
		return errTooManyGuesses
	}
	r, err := s.srv.addrs.Parse(to)
	switch {
	case errors.Is(err, threads.ErrForeignDomain):
		s.log.Info("rcpt refused", "reason", "relay denied")
		return errRelayDenied
	case errors.Is(err, threads.ErrBadToken):
		s.log.Info("rcpt refused", "reason", "bad token")
		s.srv.cfg.Guesses.Fail(guesser)
		return errBadToken
	case err != nil:
		s.log.Info("rcpt refused", "reason", "no such address")
		return errNoSuchUser
	}
	if !s.action.fits(r) {
		// The message is stored once and processed as one action: a
		// recipient asking for another gets it in its own transaction
		// (RFC 5321 section 3.3 lets the client send it later).
		s.log.Info("rcpt deferred", "reason", "another action in this transaction", "kind", r.Kind.String())
		return errOneAction
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.CommitTimeout)
	defer cancel()
	if r.Kind == threads.RcptAsk || r.Kind == threads.RcptReply || r.Kind == threads.RcptNotify {
		limited, err := s.srv.intake.RateLimited(ctx, s.from, s.clientAddr(), r.Kind)
		if err != nil {
			s.log.Warn("rcpt: database unavailable", "err", err)
			return errTempFail
		}
		if limited {
			s.log.Info("rcpt deferred", "reason", "rate limit", "kind", r.Kind.String())
			s.srv.cfg.Metrics.RateLimited("smtp_" + r.Kind.String())
			return errRateLimited
		}
	}
	if r.Kind == threads.RcptReply {
		epoch, ok, err := s.srv.intake.TokenEpoch(ctx, r.Token.Person)
		if err != nil {
			s.log.Warn("rcpt: database unavailable", "err", err)
			return errTempFail
		}
		if !ok || epoch != r.Token.Epoch {
			s.log.Info("rcpt refused", "reason", "revoked token", "person", r.Token.Person)
			s.srv.cfg.Guesses.Fail(guesser)
			return errBadToken
		}
	}
	s.rcpts = append(s.rcpts, to)
	s.action.add(r)
	return nil
}

// txAction is what the recipients of one transaction ask Postern to do
// with its one stored message; processing performs one action per
// message. ask@, notifications@, moderate@ and a reply token make one
// post together (the reply token, else the thread headers, else ask@
// place it), as long as there is at most one reply token and one ask@
// category; any other recipient (subscribe, unsubscribe, confirm, help,
// bounce, postmaster) must be alone or with the very same address.
type txAction struct {
	key    string // "" before the first recipient; "post" or kind+detail
	reply  string // a post's reply token, if any
	ask    string // a post's ask@ category ("" for plain ask@)
	hasAsk bool
}

func actionOf(r threads.Recipient) string {
	switch r.Kind {
	case threads.RcptAsk, threads.RcptReply, threads.RcptNotify, threads.RcptModerate:
		return "post"
	}
	return r.Kind.String() + "+" + r.Detail
}

// fits reports whether r can join the transaction's action.
func (a *txAction) fits(r threads.Recipient) bool {
	switch {
	case a.key == "":
		return true
	case actionOf(r) != a.key:
		return false
	case r.Kind == threads.RcptReply:
		return a.reply == "" || a.reply == r.Detail
	case r.Kind == threads.RcptAsk:
		return !a.hasAsk || a.ask == r.Detail
	}
	return true
}

// add records r, which fits, as accepted.
func (a *txAction) add(r threads.Recipient) {
	a.key = actionOf(r)
	switch r.Kind {
	case threads.RcptReply:
		a.reply = r.Detail
	case threads.RcptAsk:
		a.ask, a.hasAsk = r.Detail, true
	}
}

// bigMessage is the size from which a message's garbage is collected at
// once after it is stored.
const bigMessage = 4 << 20

// gcRunning is set while a collection started by collectSoon runs.
var gcRunning atomic.Bool

// collectSoon starts a garbage collection in the background unless one it
// started is still running: the SMTP reply does not wait for it, and a
// burst of large messages does not queue one collection each.
func collectSoon() {
	if gcRunning.CompareAndSwap(false, true) {
		go func() {
			defer gcRunning.Store(false)
			runtime.GC()
		}()
	}
}

func (s *session) store(r io.Reader) error {
	if len(s.rcpts) == 0 {
		return errNoRcpt
	}
	buf, rest, release, err := s.readMessage(r)
	if err != nil {
		return s.refused(err)
	}
	start := time.Now()
	timeout := s.srv.cfg.CommitTimeout
	if rest != nil {
		// The rest of the message is read while it is stored; each wait
		// for the database is still bounded by CommitTimeout.
		timeout += s.srv.cfg.MaxSessionTime
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	env := threads.Envelope{MailFrom: s.from, Rcpt: s.rcpts, Source: s.source, RemoteAddr: s.clientAddr(), PeerAddr: s.peerAddr()}
	defer release()
	size := buf.Len()
	var res threads.Accepted
	if rest == nil {
		res, err = s.srv.intake.AcceptBuffer(ctx, env, buf)
	} else {
		res, err = s.srv.intake.AcceptStream(ctx, env, buf, rest, s.srv.cfg.CommitTimeout)
		size += int(rest.n)
	}
	if size >= bigMessage {
		// A large message leaves several copies of itself as garbage
		// (the buffer, the driver's encoding): collect them soon, before
		// its processing loads it again, so that peaks do not add up.
		collectSoon()
	}
	var re *threads.ReadError
	if errors.As(err, &re) {
		return s.refused(s.fillFailed(re.Err, size))
	}
	if err != nil {
		s.log.Error("message not stored, answered 451", "err", err, "bytes", size)
		s.srv.cfg.Metrics.Message(string(s.source), "deferred", time.Since(start))
		s.srv.cfg.Metrics.Refused(string(s.source), enhanced(errTempFail))
		return errTempFail
	}
	s.log.Info("message accepted", "inbound_id", res.InboundID, "duplicate", res.Duplicate, "bytes", size, "rcpts", len(s.rcpts))
	outcome := "accepted"
	if res.Duplicate {
		outcome = "duplicate"
	}
	s.srv.cfg.Metrics.Message(string(s.source), outcome, time.Since(start))
	return nil
}

// refused logs and counts the refusal of a message with reply err (an
// *smtp.SMTPError) and returns it. A message whose connection was lost
// or reset is counted only: fillFailed logged why, and no reply reaches
// the client.
func (s *session) refused(err error) error {
	if err != errDataLostSMTP && err != errDataLostLMTP {
		s.log.Info("message refused", "code", code(err), "reason", err.Error())
	}
	s.srv.cfg.Metrics.Message(string(s.source), replyOutcome(err), 0)
	s.srv.cfg.Metrics.Refused(string(s.source), enhanced(err))
	return err
}

// Data implements smtp.Session: it returns nil (250) only after commit.
func (s *session) Data(r io.Reader) error {
	s.guard.setPhase(phaseData)
	return s.store(r)
}

// LMTPData implements smtp.LMTPSession. The message is stored once for all
// recipients, so each recipient gets the same status.
func (s *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	s.guard.setPhase(phaseData)
	err := s.store(r)
	for _, rc := range s.rcpts {
		status.SetStatus(rc, err)
	}
	return nil
}

type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Printf(format string, v ...any) {
	l.log.Warn("smtp server", "msg", fmt.Sprintf(format, v...))
}

func (l slogErrorLog) Println(v ...any) {
	l.log.Warn("smtp server", "msg", fmt.Sprintln(v...))
}

type transcriptWriter struct{ log *slog.Logger }

func (w transcriptWriter) Write(p []byte) (int, error) {
	w.log.Debug("smtp transcript", "line", strings.TrimRight(string(p), "\r\n"))
	return len(p), nil
}
