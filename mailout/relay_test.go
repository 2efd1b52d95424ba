package mailout

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var (
	_ Sender = (*Relay)(nil)
	_ Sender = (*Maildir)(nil)
)

// received is one message as the test relay saw it.
type received struct {
	from, rcpt string
	data       []byte
	user       string
	tls        bool
}

// testBackend is a real go-smtp backend that records what it accepts and
// can be told to refuse.
type testBackend struct {
	mu          sync.Mutex
	msgs        []received
	rcptCode    map[string]int // reply code for RCPT TO that address
	dataCode    int            // reply code after DATA, 0 = accept
	requireAuth bool
	block       chan struct{} // when set, Data waits for it to close
	sessions    int           // connections opened
}

func (b *testBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	return &testSession{b: b, conn: c}, nil
}

func (b *testBackend) got() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type testSession struct {
	b    *testBackend
	conn *smtp.Conn
	user string
	cur  received
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "relayuser" || password != "s3cret" {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.b.requireAuth && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{from: from, user: s.user}
	return nil
}

func (s *testSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.b.mu.Lock()
	code := s.b.rcptCode[to]
	s.b.mu.Unlock()
	if code != 0 {
		// Like real servers, echo the address: the client must redact it.
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "mailbox <" + to + "> unavailable"}
	}
	s.cur.rcpt = to
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.block != nil {
		<-s.b.block
	}
	if s.b.dataCode != 0 {
		return &smtp.SMTPError{Code: s.b.dataCode, EnhancedCode: smtp.EnhancedCode{s.b.dataCode / 100, 6, 0}, Message: "message for " + s.cur.rcpt + " refused"}
	}
	s.cur.data = data
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.cur = received{} }
func (s *testSession) Logout() error { return nil }

type serverMode int

const (
	plainServer    serverMode = iota // no TLS offered
	startTLSServer                   // offers STARTTLS
	implicitServer                   // TLS listener (smtps)
)

// startServer runs a go-smtp server on 127.0.0.1:0 and returns its address.
func startServer(t *testing.T, be *testBackend, mode serverMode, cert *tls.Certificate) string {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	switch mode {
	case startTLSServer:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	case implicitServer:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "relay.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
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

func checkDelivered(t *testing.T, be *testBackend, msg []byte, wantTLS bool, wantUser string) {
	t.Helper()
	got := be.got()
	if len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}
	m := got[0]
	if m.from != testFrom || m.rcpt != testRcpt {
		t.Errorf("envelope differs from the one given")
	}
	if string(m.data) != string(msg) {
		t.Errorf("data differs: got %d bytes, want %d", len(m.data), len(msg))
	}
	if m.tls != wantTLS {
		t.Errorf("tls = %v, want %v", m.tls, wantTLS)
	}
	if m.user != wantUser {
		t.Errorf("auth user = %q, want %q", m.user, wantUser)
	}
}

func TestRelayPlain(t *testing.T) {
	for _, url := range []string{"smtp://%s?starttls=no", "smtp://%s"} {
		be := &testBackend{}
		addr := startServer(t, be, plainServer, nil)
		r := newRelay(t, strings.Replace(url, "%s", addr, 1), nil)
		msg := testMessage(t)
		if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("%s: Send: %v", url, err)
		}
		checkDelivered(t, be, msg, false, "")
	}
}

func TestRelayAuthPlain(t *testing.T) {
	be := &testBackend{requireAuth: true}
	addr := startServer(t, be, plainServer, nil)
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
	be := &testBackend{rcptCode: map[string]int{testRcpt: 450}}
	addr := startServer(t, be, plainServer, nil)
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

	be.dataCode = 451
	be.rcptCode = nil
	err = newRelay(t, "smtp://"+addr, nil).Send(context.Background(), testFrom, testRcpt, testMessage(t))
	if err == nil || IsPermanent(err) {
		t.Errorf("451 after DATA: %v", err)
	}
	checkNoAddress(t, err)
}

func TestRelayPermanent(t *testing.T) {
	be := &testBackend{rcptCode: map[string]int{testRcpt: 550}}
	addr := startServer(t, be, plainServer, nil)
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

	be.rcptCode = nil
	be.dataCode = 554
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
	cert, pool := selfSigned(t)
	for _, q := range []string{"", "?starttls=required"} {
		be := &testBackend{requireAuth: true}
		addr := startServer(t, be, startTLSServer, cert)
		msg := testMessage(t)
		if err := newRelay(t, "smtp://relayuser:s3cret@"+addr+q, pool).Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("%q: Send: %v", q, err)
		}
		checkDelivered(t, be, msg, true, "relayuser")
	}

	// starttls=no stays in clear text even when offered.
	be := &testBackend{}
	addr := startServer(t, be, startTLSServer, cert)
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
	plainAddr := startServer(t, &testBackend{}, plainServer, nil)
	err = newRelay(t, "smtp://"+plainAddr+"?starttls=required", pool).Send(context.Background(), testFrom, testRcpt, msg)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("required STARTTLS missing: %v", err)
	}
}

func TestRelaySMTPS(t *testing.T) {
	cert, pool := selfSigned(t)
	be := &testBackend{requireAuth: true}
	addr := startServer(t, be, implicitServer, cert)
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
	be := &testBackend{block: make(chan struct{})}
	defer close(be.block)
	addr = startServer(t, be, plainServer, nil)
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
	be := &testBackend{}
	addr := startServer(t, be, plainServer, nil)
	r := newRelay(t, "smtp://"+addr+"?starttls=no", nil)
	defer r.Close()
	msg := testMessage(t)
	for i := 0; i < 5; i++ {
		if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	be.mu.Lock()
	sessions := be.sessions
	be.mu.Unlock()
	if sessions != 1 || len(be.got()) != 5 {
		t.Fatalf("%d connections for %d messages, want 1 for 5", sessions, len(be.got()))
	}
	// The relay drops the idle connection: the next send dials again.
	p := <-r.idle
	_ = p.conn.Close()
	r.idle <- p
	if err := r.Send(context.Background(), testFrom, testRcpt, msg); err != nil {
		t.Fatalf("send after the relay closed the idle connection: %v", err)
	}
	if len(be.got()) != 6 {
		t.Fatalf("%d messages delivered, want 6", len(be.got()))
	}
}
