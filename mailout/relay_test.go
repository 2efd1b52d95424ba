package mailout

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtptest"
)

var (
	_ Sender = (*Relay)(nil)
	_ Sender = (*Maildir)(nil)
)

// startServer runs a relay (smtptest.Sink) that offers AUTH PLAIN for
// relayuser:s3cret, in mode, and returns it.
func startServer(t *testing.T, opts smtptest.Options, mode serverMode, cert *tls.Certificate) *smtptest.Sink {
	t.Helper()
	opts.User, opts.Password = "relayuser", "s3cret"
	switch mode {
	case startTLSServer:
		opts.Cert = cert
	case implicitServer:
		opts.Cert, opts.Implicit = cert, true
	}
	return smtptest.Start(t, opts)
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS offered
	startTLSServer                   // offers STARTTLS
	implicitServer                   // TLS listener (smtps)
)

// rcptCode refuses RCPT for every address with code, echoing the address
// as real servers do: the client must redact it.
func rcptCode(code int) smtptest.RcptFunc {
	return func(to string, _ int) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox <" + to + "> unavailable"}
	}
}

// dataCode refuses every message after DATA with code, naming its
// recipient.
func dataCode(code int) smtptest.DataFunc {
	return func(m smtptest.Message) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 6, 0}, Message: "message for " + m.To[0] + " refused"}
	}
}

const (
	testFrom = "bounce+n1@forum.example.org"
	testRcpt = "alice@recipient.example"
)

func testMessage(t *testing.T) []byte {
	t.Helper()
	msg, err := Compose(testOutgoing(t))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func newRelay(t *testing.T, url string, pool *x509.CertPool) *Relay {
	t.Helper()
	r, err := NewRelay(url, RelayOptions{HeloName: "postern.test", Timeout: 5 * time.Second, TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("NewRelay: %v", err)
	}
	return r
}

func checkDelivered(t *testing.T, be *smtptest.Sink, msg []byte, wantTLS bool, wantUser string) {
	t.Helper()
	got := be.Messages()
	if len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.From != testFrom || len(m.To) != 1 || m.To[0] != testRcpt {
		t.Errorf("envelope differs from the one given")
	}
	if string(m.Data) != string(msg) {
		t.Errorf("data differs: got %d bytes, want %d", len(m.Data), len(msg))
	}
	if m.TLS != wantTLS {
		t.Errorf("tls = %v, want %v", m.TLS, wantTLS)
	}
	if m.User != wantUser {
		t.Errorf("auth user = %q, want %q", m.User, wantUser)
	}
}

func TestRelayPlain(t *testing.T) {
	for _, url := range []string{"smtp://%s?starttls=no", "smtp://%s"} {
		be := startServer(t, smtptest.Options{}, plainServer, nil)
		addr := be.Addr()
		r := newRelay(t, strings.Replace(url, "%s", addr, 1), nil)
		msg := testMessage(t)
		if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("%s: Send: %v", url, err)
		}
		checkDelivered(t, be, msg, false, "")
	}
}

func TestRelayAuthPlain(t *testing.T) {
	be := startServer(t, smtptest.Options{RequireAuth: true}, plainServer, nil)
	addr := be.Addr()
	msg := testMessage(t)
	if err := newRelay(t, "smtp://relayuser:s3cret@"+addr, nil).Send(context.Background(), testFrom, testRcpt, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, be, msg, false, "relayuser")

	err := newRelay(t, "smtp://relayuser:wrong@"+addr, nil).Send(context.Background(), testFrom, testRcpt, msg)
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	if IsPermanent(err) {
		t.Errorf("an AUTH failure is blamed on the recipient: %v", err)
	}
	if !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("error does not name the AUTH stage: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error reveals the password: %v", err)
	}
	// Without credentials the relay refuses MAIL: a configuration problem,
	// not the recipient's.
	err = newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, msg)
	if err == nil || IsPermanent(err) {
		t.Errorf("unauthenticated Send: %v", err)
	}
}

func TestRelayTemporary(t *testing.T) {
	be := startServer(t, smtptest.Options{Rcpt: rcptCode(450)}, plainServer, nil)
	addr := be.Addr()
	err := newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, testMessage(t))
	if err == nil {
		t.Fatal("Send succeeded")
	}
	if IsPermanent(err) {
		t.Errorf("450 is permanent: %v", err)
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 450 {
		t.Errorf("error does not wrap the 450: %v", err)
	}
	checkNoAddress(t, err)

	be.SetData(dataCode(451))
	be.SetRcpt(nil)
	err = newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, testMessage(t))
	if err == nil || IsPermanent(err) {
		t.Errorf("451 after DATA: %v", err)
	}
	checkNoAddress(t, err)
}

func TestRelayPermanent(t *testing.T) {
	be := startServer(t, smtptest.Options{Rcpt: rcptCode(550)}, plainServer, nil)
	addr := be.Addr()
	err := newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, testMessage(t))
	if !IsPermanent(err) {
		t.Fatalf("550 is not permanent: %v", err)
	}
	var pe *PermanentError
	if !errors.As(err, &pe) || pe.Code != 550 || pe.Stage != "RCPT" || pe.Enhanced != "5.1.1" {
		t.Errorf("PermanentError = %+v", pe)
	}
	checkNoAddress(t, err)
	if !strings.Contains(err.Error(), "<address>") {
		t.Errorf("server text not kept (redacted): %v", err)
	}

	be.SetRcpt(nil)
	be.SetData(dataCode(554))
	err = newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, testMessage(t))
	if !errors.As(err, &pe) || pe.Code != 554 || pe.Stage != "DATA" {
		t.Errorf("554 after DATA: %v", err)
	}
	checkNoAddress(t, err)
	if wrapped := errors.Join(errors.New("send"), err); !IsPermanent(wrapped) {
		t.Errorf("IsPermanent does not see through wrapping")
	}
}

func checkNoAddress(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "@") {
		t.Errorf("error text contains an address: %q", err.Error())
	}
}

func TestRelaySTARTTLS(t *testing.T) {
	cert, pool := smtptest.Cert(t)
	for _, q := range []string{"", "?starttls=required"} {
		be := startServer(t, smtptest.Options{RequireAuth: true}, startTLSServer, cert)
		addr := be.Addr()
		msg := testMessage(t)
		if err := newRelay(t, "smtp://relayuser:s3cret@"+addr+q, pool).Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("%q: Send: %v", q, err)
		}
		checkDelivered(t, be, msg, true, "relayuser")
	}

	// starttls=no stays in clear text even when offered.
	be := startServer(t, smtptest.Options{}, startTLSServer, cert)
	addr := be.Addr()
	msg := testMessage(t)
	if err := newRelay(t, "smtp://"+addr+"?starttls=no", pool).Send(context.Background(), testFrom, testRcpt, msg); err != nil {
		t.Fatalf("starttls=no: %v", err)
	}
	checkDelivered(t, be, msg, false, "")

	// An untrusted certificate fails, temporarily.
	err := newRelay(t, "smtp://"+addr, x509.NewCertPool()).Send(context.Background(), testFrom, testRcpt, msg)
	if err == nil || IsPermanent(err) {
		t.Errorf("untrusted certificate: %v", err)
	}

	// starttls=required against a server without it fails.
	plainAddr := startServer(t, smtptest.Options{}, plainServer, nil).Addr()
	err = newRelay(t, "smtp://"+plainAddr+"?starttls=required", pool).Send(context.Background(), testFrom, testRcpt, msg)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("required STARTTLS missing: %v", err)
	}
}

func TestRelaySMTPS(t *testing.T) {
	cert, pool := smtptest.Cert(t)
	be := startServer(t, smtptest.Options{RequireAuth: true}, implicitServer, cert)
	addr := be.Addr()
	msg := testMessage(t)
	if err := newRelay(t, "smtps://relayuser:s3cret@"+addr, pool).Send(context.Background(), testFrom, testRcpt, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, be, msg, true, "relayuser")
}

func TestRelayNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	err = newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, []byte("x\r\n"))
	if err == nil || IsPermanent(err) {
		t.Errorf("closed port: %v", err)
	}

	// A relay that stops answering: the context ends the Send.
	hold := make(chan struct{})
	defer close(hold)
	addr = startServer(t, smtptest.Options{Hold: hold}, plainServer, nil).Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = newRelay(t, "smtp://"+addr, nil).Send(ctx, testFrom, testRcpt, testMessage(t))
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("hung relay: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v after the context ended", d)
	}
}

func TestNewRelayErrors(t *testing.T) {
	for _, u := range []string{
		"http://relay.example",
		"smtp://",
		"smtp://relay.example:0",
		"smtp://relay.example:99999",
		"smtp://relay.example/path",
		"smtp://relay.example?starttls=maybe",
		"smtp://relay.example?foo=1",
		"smtps://relay.example?starttls=required",
		"::",
	} {
		if _, err := NewRelay(u, RelayOptions{}); err == nil {
			t.Errorf("NewRelay(%q) accepted", u)
		}
	}
	r, err := NewRelay("smtp://u:p@relay.example", RelayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.addr != "relay.example:25" || r.timeout != 30*time.Second || r.helo == "" || r.tlsConf.ServerName != "relay.example" || r.mode != tlsOpportunistic {
		t.Errorf("defaults: %+v", r)
	}
	r, err = NewRelay("smtps://relay.example", RelayOptions{})
	if err != nil || r.addr != "relay.example:465" || r.mode != tlsImplicit {
		t.Errorf("smtps defaults: %+v, %v", r, err)
	}
}

// TestRelayReusesConnections: consecutive sends share a connection; a
// connection the relay closed while idle is replaced transparently.
func TestRelayReusesConnections(t *testing.T) {
	be := startServer(t, smtptest.Options{}, plainServer, nil)
	r := newRelay(t, be.URL(), nil)
	defer r.Close()
	msg := testMessage(t)
	for i := 0; i < 5; i++ {
		if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if sessions := be.Sessions(); sessions != 1 || len(be.Messages()) != 5 {
		t.Fatalf("%d connections for %d messages, want 1 for 5", sessions, len(be.Messages()))
	}
	// The relay drops the idle connection: the next send dials again.
	p := <-r.idle
	_ = p.conn.Close()
	r.idle <- p
	if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
		t.Fatalf("send after the relay closed the idle connection: %v", err)
	}
	if n := len(be.Messages()); n != 6 {
		t.Fatalf("%d messages delivered, want 6", n)
	}
}

// TestRelayMaxConns sends from many goroutines at once through a relay
// capped at two connections: every message arrives over at most two
// sessions, and a send waiting for a connection ends with its context.
func TestRelayMaxConns(t *testing.T) {
	be := startServer(t, smtptest.Options{}, plainServer, nil)
	r, err := NewRelay(be.URL(), RelayOptions{HeloName: "postern.test", Timeout: 5 * time.Second, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msg := testMessage(t)
	const senders, each = 8, 5
	errs := make(chan error, senders)
	for range senders {
		go func() {
			var err error
			for range each {
				if err = r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, s := len(be.Messages()), be.Sessions(); n != senders*each || s > 2 {
		t.Fatalf("%d messages over %d connections, want %d over at most 2", n, s, senders*each)
	}
	// Both connections taken: a send waits, and gives up with its ctx.
	r.slots <- struct{}{}
	r.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Send(ctx, testFrom, testRcpt, msg); err == nil || IsPermanent(err) {
		t.Fatalf("send without a free connection: %v, want a temporary error", err)
	}
}
