package mailout

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// RelayProbe is what Probe learnt of the relay. It holds no address: the
// relay's replies are redacted and the URL's user is never kept.
type RelayProbe struct {
	// Addr is the host:port dialled; Host the relay's host name.
	Addr, Host string
	// Loopback: the relay is on this machine (no TLS needed for AUTH).
	Loopback bool
	// Implicit: smtps://, TLS from the first byte.
	Implicit bool
	// StartTLSMode is the starttls of the URL: "opportunistic",
	// "required" or "no" (empty for smtps).
	StartTLSMode string
	// Greeted: the relay answered the greeting and EHLO.
	Greeted bool
	// TLS: the connection was encrypted (implicit TLS, or STARTTLS
	// offered and the handshake done), the certificate verified.
	TLS bool
	// AuthOffered: the EHLO reply (after TLS, if any) lists AUTH, with
	// the mechanisms AuthMechanisms.
	AuthOffered    bool
	AuthMechanisms []string
	// Credentials: the URL holds a user name; Authenticated: AUTH PLAIN
	// with it was accepted.
	Credentials, Authenticated bool
	// Stage names what failed: "connect", "TLS", "EHLO", "AUTH"; empty
	// when every step went well. Err says why, without addresses.
	Stage string
	Err   error
}

// Probe connects to the relay as Send would (the same TLS mode,
// certificate checks and EHLO name), authenticates when the URL has a
// user, and quits without sending mail. It never takes longer than the
// relay's timeout (RelayOptions.Timeout) or ctx.
func (r *Relay) Probe(ctx context.Context) RelayProbe {
	p := RelayProbe{Addr: r.addr, Host: r.host, Loopback: r.loopback, Implicit: r.mode == tlsImplicit,
		StartTLSMode: [...]string{"opportunistic", "required", "no", ""}[r.mode], Credentials: r.hasAuth}
	fail := func(stage string, err error) RelayProbe {
		p.Stage, p.Err = stage, errors.New(redact(err.Error()))
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return fail("connect", err)
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	conn, secure, err := r.secure(ctx, raw)
	if err != nil {
		if strings.HasPrefix(err.Error(), "greeting") || strings.HasPrefix(err.Error(), "EHLO") {
			return fail("EHLO", err)
		}
		return fail("TLS", err)
	}
	p.TLS = secure
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = r.timeout, r.timeout
	defer c.Close()
	if err := c.Hello(r.helo); err != nil {
		return fail("EHLO", err)
	}
	p.Greeted = true
	var mechs string
	p.AuthOffered, mechs = c.Extension("AUTH")
	p.AuthMechanisms = strings.Fields(mechs)
	if r.hasAuth {
		switch {
		case !secure && !r.loopback:
			return fail("AUTH", errors.New("Postern sends the relay password only over TLS, and the connection is not encrypted"))
		case !p.AuthOffered:
			return fail("AUTH", errors.New("the relay does not offer AUTH"))
		}
		if err := c.Auth(sasl.NewPlainClient("", r.user, r.pass)); err != nil {
			return fail("AUTH", err)
		}
		p.Authenticated = true
	}
	_ = c.Quit()
	return p
}
