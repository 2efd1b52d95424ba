package mailin_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/mailin"
)

// writeCert writes a fresh certificate for 127.0.0.1 and its key as PEM
// files in dir and returns the pool that trusts it.

// TestTLS: with a certificate, SMTP offers STARTTLS and takes a message
// over it (without one it offers none); the implicit-TLS listener speaks TLS from the first
// byte and offers no STARTTLS inside it; a client below the minimum
// version is refused; Reload makes new connections get the new
// certificate, and a failed reload keeps the old one.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := smtptest.WriteCert(t, certFile, keyFile)
	certs, err := mailin.LoadCerts(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, mailin.Config{Certs: certs, TLSMinVersion: tls.VersionTLS13}, false)
	msg := message("tls@example.org", "over TLS")
	client := func(p *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: p, ServerName: "127.0.0.1"} }

	c, err := smtp.DialStartTLS(f.addr, client(pool))
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.SendMail("alice@example.org", []string{"ask@forum.test"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("message over STARTTLS: %v", err)
	}
	c.Close()
	if plain := start(t, mailin.Config{}, false); plain.addr != "" {
		pc, err := smtp.Dial(plain.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.Hello("client.example.net"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := pc.Extension("STARTTLS"); ok {
			t.Error("STARTTLS offered without a certificate")
		}
		pc.Close()
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.srv.ServeSMTPS(l) }()
	tc, err := smtp.DialTLS(l.Addr().String(), client(pool))
	if err != nil {
		t.Fatalf("implicit TLS: %v", err)
	}
	if err := tc.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tc.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered inside implicit TLS")
	}
	if err := tc.SendMail("alice@example.org", []string{"ask@forum.test"}, strings.NewReader(message("tls2@example.org", "implicit"))); err != nil {
		t.Fatalf("message over implicit TLS: %v", err)
	}
	tc.Close()

	old := client(pool)
	old.MaxVersion = tls.VersionTLS12
	if c, err := smtp.DialTLS(l.Addr().String(), old); err == nil {
		c.Close()
		t.Error("a TLS 1.2 client was served with the minimum at 1.3")
	}

	newPool := smtptest.WriteCert(t, certFile, keyFile)
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if c, err := smtp.DialTLS(l.Addr().String(), client(pool)); err == nil {
		c.Close()
		t.Error("after the reload the old certificate is still served")
	}
	c2, err := smtp.DialTLS(l.Addr().String(), client(newPool))
	if err != nil {
		t.Fatalf("the new certificate after the reload: %v", err)
	}
	c2.Close()
	if err := os.WriteFile(keyFile, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Error("a broken key reloaded")
	}
	c3, err := smtp.DialTLS(l.Addr().String(), client(newPool))
	if err != nil {
		t.Fatalf("after a failed reload the old certificate is gone: %v", err)
	}
	c3.Close()
	if n := countInbound(t, f); n != 2 {
		t.Errorf("%d messages stored over TLS, want 2", n)
	}
}
