package mailout

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers one composed message to one recipient. Implementations:
// the SMTP relay client (Relay) and the Maildir writer (Maildir).
//
// Send must be safe for concurrent use. An error for which IsPermanent
// reports true means the message will never be accepted for this
// recipient and must not be retried; any other error is temporary. No
// error text contains an email address.
type Sender interface {
	Send(ctx context.Context, envelopeFrom, rcpt string, msg []byte) error
}

// PermanentError is a 5xx reply from the relay to the recipient (RCPT) or
// to the message (end of DATA): do not retry. Its Error text never contains
// the recipient's address or any other address: the server's text is
// redacted.
type PermanentError struct {
	// Code is the SMTP reply code, 500-599.
	Code int
	// Enhanced is the RFC 3463 enhanced status code, e.g. "5.1.1"; empty
	// when the server gave none.
	Enhanced string
	// Stage is the SMTP command that was refused: "RCPT" or "DATA".
	Stage string
	// Message is the server's reply text with addresses redacted.
	Message string

	cause error
}

// Error describes the rejection without any address.
func (e *PermanentError) Error() string {
	s := fmt.Sprintf("relay: %s rejected permanently: %d", e.Stage, e.Code)
	if e.Enhanced != "" {
		s += " " + e.Enhanced
	}
	if e.Message != "" {
		s += " " + e.Message
	}
	return s
}

// Unwrap returns the underlying *smtp.SMTPError.
func (e *PermanentError) Unwrap() error { return e.cause }

// IsPermanent reports whether err (or an error it wraps) is a
// *PermanentError: the relay refused the recipient or the message for good.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// tempError is a temporary failure: a 4xx reply, a network or TLS error, a
// 5xx before the recipient was named (relay configuration, not the
// recipient), or a cancelled context. Its text is redacted.
type tempError struct {
	msg   string
	cause error
	// message is set for a 4xx reply (but 421) to RCPT or to the data:
	// this recipient or message is refused for now, the relay may take
	// others.
	message bool
}

func (e *tempError) Error() string { return e.msg }
func (e *tempError) Unwrap() error { return e.cause }

// IsMessageTemporary reports whether err is a temporary refusal of one
// message or recipient (a 4xx reply, other than 421, to RCPT or to the
// message data), after which the relay may still accept other messages:
// a sender of a batch can go on with the next recipient. Network errors,
// timeouts, a cancelled context, 421 and refusals of the connection or of
// the envelope sender are not: the next message would fail the same way.
func IsMessageTemporary(err error) bool {
	var te *tempError
	return errors.As(err, &te) && te.message
}

// RelayOptions tunes a Relay.
type RelayOptions struct {
	// HeloName is the name given in EHLO; empty means the host name of this
	// machine, or "localhost" when it is unknown.
	HeloName string
	// Timeout bounds the connection set-up and each SMTP command,
	// including the wait for the reply after the message data; zero means
	// 30 seconds.
	Timeout time.Duration
	// TLSConfig is used for implicit TLS and STARTTLS; nil means the system
	// roots and the relay's host name. Tests pass a pool holding their own
	// certificate.
	TLSConfig *tls.Config
	// MaxConns caps the connections open to the relay at once; a Send
	// beyond it waits for one to be free (0: no cap). With more senders
	// than connections, one sender loads or marks its batch while another
	// uses the connection, and the relay sees no more connections than
	// MaxConns.
	MaxConns int
}

// tlsMode is how a Relay secures its connection.
type tlsMode int

const (
	tlsOpportunistic tlsMode = iota // STARTTLS when offered
	tlsRequired                     // STARTTLS, or fail
	tlsNone                         // never STARTTLS
	tlsImplicit                     // TLS from the first byte (smtps)
)

// Relay is the Sender that hands messages to an SMTP relay (smarthost).
// It opens one connection per Send; it is safe for concurrent use.
type Relay struct {
	addr     string // host:port
	host     string
	mode     tlsMode
	user     string
	pass     string
	hasAuth  bool
	helo     string
	timeout  time.Duration
	tlsConf  *tls.Config
	loopback bool

	// idle holds set-up connections for reuse: a fan-out of thousands of
	// notifications costs a handful of connections, not thousands.
	idle chan *pooledConn
	// slots holds a token per open connection (RelayOptions.MaxConns);
	// nil: no cap.
	slots chan struct{}
}

// pooledConn is a connection ready for another transaction.
type pooledConn struct {
	c        *smtp.Client
	conn     net.Conn
	lastUsed time.Time
	sent     int
}

// Connection reuse limits: relays drop idle clients after a minute or
// more, and many cap messages per connection.
const (
	poolSize       = 16
	poolIdleMax    = 20 * time.Second
	poolMaxPerConn = 100
)

// NewRelay parses the relay URL and returns a Relay; nothing is dialled
// yet. Accepted forms:
//
//	smtp://[user:pass@]host[:port][?starttls=no|required]   (port 25)
//	smtps://[user:pass@]host[:port]                        (port 465)
//
// smtp:// upgrades with STARTTLS when the server offers it, unless
// starttls=no; starttls=required refuses to send without it. With a user,
// Send authenticates with AUTH PLAIN, and only over TLS or to a loopback
// address, so that the password never crosses a network in clear text.
func NewRelay(rawURL string, opts RelayOptions) (*Relay, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("relay: cannot parse the relay URL")
	}
	r := &Relay{timeout: opts.Timeout, helo: opts.HeloName, idle: make(chan *pooledConn, poolSize)}
	if opts.MaxConns > 0 {
		r.slots = make(chan struct{}, opts.MaxConns)
	}
	var port string
	switch u.Scheme {
	case "smtp":
		port = "25"
	case "smtps":
		port = "465"
		r.mode = tlsImplicit
	default:
		return nil, fmt.Errorf("relay: unsupported URL scheme %q (want smtp or smtps)", u.Scheme)
	}
	r.host = u.Hostname()
	if r.host == "" {
		return nil, errors.New("relay: the relay URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, errors.New("relay: the relay URL has an invalid port")
		}
		port = p
	}
	r.addr = net.JoinHostPort(r.host, port)
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("relay: the relay URL must not have a path")
	}
	if err := r.setStartTLS(u.Query()); err != nil {
		return nil, err
	}
	if u.User != nil {
		r.user = u.User.Username()
		r.pass, _ = u.User.Password()
		r.hasAuth = true
	}
	if r.timeout <= 0 {
		r.timeout = 30 * time.Second
	}
	if r.helo == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			r.helo = h
		} else {
			r.helo = "localhost"
		}
	}
	if opts.TLSConfig != nil {
		r.tlsConf = opts.TLSConfig.Clone()
	} else {
		r.tlsConf = &tls.Config{}
	}
	if r.tlsConf.ServerName == "" {
		r.tlsConf.ServerName = r.host
	}
	if r.tlsConf.MinVersion == 0 {
		r.tlsConf.MinVersion = tls.VersionTLS12
	}
	if ip := net.ParseIP(r.host); (ip != nil && ip.IsLoopback()) || r.host == "localhost" {
		r.loopback = true
	}
	return r, nil
}

// setStartTLS applies the relay URL's query to r's TLS mode: only the
// starttls parameter is allowed, and not for smtps.
func (r *Relay) setStartTLS(q url.Values) error {
	for k := range q {
		if k != "starttls" {
			return fmt.Errorf("relay: unknown relay URL parameter %q", k)
		}
	}
	if v := q.Get("starttls"); q.Has("starttls") {
		if r.mode == tlsImplicit {
			return errors.New("relay: starttls does not apply to smtps")
		}
		switch v {
		case "no":
			r.mode = tlsNone
		case "required":
			r.mode = tlsRequired
		case "", "yes", "opportunistic":
			r.mode = tlsOpportunistic
		default:
			return fmt.Errorf("relay: starttls must be no or required, not %q", v)
		}
	}
	return nil
}

// Send delivers msg to rcpt through the relay with envelopeFrom as the
// return path. See Sender for the error contract: a 5xx reply to RCPT or
// to the message is a *PermanentError; everything else (4xx, network,
// TLS, timeouts, a cancelled ctx, 5xx to EHLO/AUTH/MAIL which are relay
// configuration problems) is temporary. With RelayOptions.MaxConns, Send
// first waits for a connection to be free.
func (r *Relay) Send(ctx context.Context, envelopeFrom, rcpt string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return &tempError{msg: "relay: " + err.Error(), cause: err}
	}
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		case <-ctx.Done():
			return &tempError{msg: "relay: waiting for a connection: " + ctx.Err().Error(), cause: ctx.Err()}
		}
	}
	for {
		p, reused := r.get(), true
		if p == nil {
			c, conn, stage, err := r.dial(ctx)
			if err != nil {
				return r.classify(ctx, stage, err)
			}
			p, reused = &pooledConn{c: c, conn: conn}, false
		}
		stop := context.AfterFunc(ctx, func() { _ = p.conn.Close() })
		stage, err := transact(p.c, envelopeFrom, rcpt, msg)
		stopped := stop()
		if err == nil && stopped {
			p.sent++
			r.put(p)
			return nil
		}
		_ = p.c.Close()
		if err == nil {
			// Accepted, but ctx ended meanwhile and closed the connection.
			return nil
		}
		var se *smtp.SMTPError
		if reused && stage == "MAIL" && !errors.As(err, &se) && ctx.Err() == nil {
			// The relay closed the idle connection: try a fresh one.
			continue
		}
		return r.classify(ctx, stage, err)
	}
}

// get returns an idle connection young enough to reuse, or nil.
func (r *Relay) get() *pooledConn {
	for {
		select {
		case p := <-r.idle:
			if time.Since(p.lastUsed) < poolIdleMax {
				return p
			}
			_ = p.c.Close()
		default:
			return nil
		}
	}
}

// put keeps p for reuse, or ends it politely when the pool is full or p
// has carried enough messages.
func (r *Relay) put(p *pooledConn) {
	if p.sent < poolMaxPerConn {
		p.lastUsed = time.Now()
		select {
		case r.idle <- p:
			return
		default:
		}
	}
	_ = p.c.Quit()
}

// Close ends the idle connections. Sends may still run; they dial anew.
func (r *Relay) Close() error {
	for {
		select {
		case p := <-r.idle:
			_ = p.c.Quit()
		default:
			return nil
		}
	}
}

// dial connects, secures and authenticates a connection, returning a
// client ready for transactions (and the raw connection, to abort it), or
// the stage that failed ("connect", "EHLO", "AUTH") and why.
// A future pool keeps such clients and runs transact on them repeatedly.
func (r *Relay) dial(ctx context.Context) (*smtp.Client, net.Conn, string, error) {
	dctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(dctx, "tcp", r.addr)
	if err != nil {
		return nil, nil, "connect", err
	}
	// A cancelled ctx aborts the whole set-up, including EHLO and AUTH.
	stopAbort := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stopAbort()
	// Bound the set-up exchange; go-smtp sets its own per-command
	// deadlines afterwards.
	deadline := time.Now().Add(r.timeout)
	if dl, ok := dctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = raw.SetDeadline(time.Now()) })

	conn, secure, err := r.secure(dctx, raw)
	stop()
	if err != nil {
		_ = raw.Close()
		return nil, nil, "connect", err
	}
	_ = conn.SetDeadline(time.Time{})

	c := smtp.NewClient(conn)
	c.CommandTimeout = r.timeout
	c.SubmissionTimeout = r.timeout
	if err := c.Hello(r.helo); err != nil {
		_ = c.Close()
		return nil, nil, "EHLO", err
	}
	if r.hasAuth {
		if !secure && !r.loopback {
			_ = c.Close()
			return nil, nil, "AUTH", errors.New("refusing to send the relay password without TLS")
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			_ = c.Close()
			return nil, nil, "AUTH", errors.New("the relay does not offer AUTH")
		}
		if err := c.Auth(sasl.NewPlainClient("", r.user, r.pass)); err != nil {
			_ = c.Close()
			return nil, nil, "AUTH", err
		}
	}
	return c, conn, "", nil
}

// secure brings conn to the state go-smtp's client expects: for implicit
// TLS, a TLS connection about to send its greeting; for smtp://, the
// greeting and EHLO are read here first so that STARTTLS can be used only
// when offered, and the connection handed on replays a greeting line (the
// client then says EHLO again, as required after STARTTLS and harmless
// without it). secure reports whether the connection is encrypted.
func (r *Relay) secure(ctx context.Context, conn net.Conn) (net.Conn, bool, error) {
	if r.mode == tlsImplicit {
		tc := tls.Client(conn, r.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return conn, false, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, true, nil
	}

	br := bufio.NewReader(conn)
	tp := textproto.NewConn(struct {
		io.Reader
		io.WriteCloser
	}{br, conn})
	if _, _, err := tp.ReadResponse(220); err != nil {
		return conn, false, fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", r.helo); err != nil {
		return conn, false, fmt.Errorf("EHLO: %w", err)
	}
	_, ehlo, err := tp.ReadResponse(250)
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 500 || te.Code == 502) {
		// An old server without EHLO: no extensions, so no STARTTLS; the
		// client falls back to HELO after the replayed greeting.
		ehlo, err = "", nil
	}
	if err != nil {
		return conn, false, fmt.Errorf("EHLO: %w", err)
	}
	offered := false
	for _, line := range strings.Split(ehlo, "\n")[1:] {
		if strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			offered = true
		}
	}
	if r.mode == tlsNone || !offered {
		if r.mode == tlsRequired {
			return conn, false, errors.New("the relay does not offer STARTTLS and starttls=required")
		}
		return &replayConn{Conn: conn, r: io.MultiReader(strings.NewReader("220 "+r.host+" (replayed greeting)\r\n"), br)}, false, nil
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return conn, false, fmt.Errorf("STARTTLS: %w", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return conn, false, fmt.Errorf("STARTTLS: %w", err)
	}
	if br.Buffered() > 0 {
		// Bytes sent before the handshake would be trusted as if they came
		// over TLS (a command injection attack): refuse.
		return conn, false, errors.New("STARTTLS: the relay sent data before the TLS handshake")
	}
	tc := tls.Client(conn, r.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return conn, false, fmt.Errorf("TLS handshake: %w", err)
	}
	return &replayConn{Conn: tc, r: io.MultiReader(strings.NewReader("220 "+r.host+" (replayed greeting)\r\n"), tc)}, true, nil
}

// replayConn is a connection whose reads start with bytes already
// consumed from it (or a stand-in greeting).
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// transact runs one mail transaction on a ready client, with MAIL, RCPT
// and DATA pipelined when the relay offers PIPELINING (go-smtp's
// SendPipelined, a Postern patch): two round trips per message instead of
// four, and the message is written only after the relay's 354. On an SMTP
// reply error it resets the transaction so that the connection stays
// usable. It returns the stage that failed.
func transact(c *smtp.Client, from, rcpt string, msg []byte) (string, error) {
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if !isASCII(from) || !isASCII(rcpt) {
		opts.UTF8 = true
	}
	err := c.SendPipelined(from, opts, rcpt, nil, msg)
	if err == nil {
		return "", nil
	}
	stage := "MAIL"
	var ce *smtp.CommandError
	if errors.As(err, &ce) {
		stage, err = ce.Command, ce.Err
	}
	return stage, resetAfter(c, err)
}

// resetAfter sends RSET after a refused command, leaving the connection
// ready for another transaction; it returns err unchanged.
func resetAfter(c *smtp.Client, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		_ = c.Reset()
	}
	return err
}

// classify turns an error from stage into a *PermanentError or a
// temporary error, with every address removed from its text.
func (r *Relay) classify(ctx context.Context, stage string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &tempError{msg: fmt.Sprintf("relay: %s: %v", stage, ctxErr), cause: err}
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		text := redact(se.Message)
		enh := ""
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet {
			enh = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		if se.Code >= 500 && se.Code < 600 && (stage == "RCPT" || stage == "DATA") {
			return &PermanentError{Code: se.Code, Enhanced: enh, Stage: stage, Message: text, cause: err}
		}
		msg := fmt.Sprintf("relay: %s refused: %d", stage, se.Code)
		if enh != "" {
			msg += " " + enh
		}
		if text != "" {
			msg += " " + text
		}
		one := se.Code >= 400 && se.Code < 500 && se.Code != 421 && (stage == "RCPT" || stage == "DATA")
		return &tempError{msg: msg, cause: err, message: one}
	}
	return &tempError{msg: fmt.Sprintf("relay: %s: %s", stage, redact(err.Error())), cause: err}
}

// addrLike matches anything that looks like an email address, with or
// without angle brackets.
var addrLike = regexp.MustCompile(`<?[^\s<>@]*@[^\s<>@]*>?`)

// redact replaces every address-like token in s with "<address>".
func redact(s string) string {
	return addrLike.ReplaceAllString(s, "<address>")
}
