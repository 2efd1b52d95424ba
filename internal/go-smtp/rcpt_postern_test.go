package smtp_test

import (
	"io"
	"net"
	"testing"

	"github.com/emersion/go-smtp"
)

type rcptBackend struct{}

func (rcptBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return rcptSession{}, nil }

type rcptSession struct{}

func (rcptSession) Reset()                               {}
func (rcptSession) Logout() error                        { return nil }
func (rcptSession) Mail(string, *smtp.MailOptions) error { return nil }
func (rcptSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (rcptSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// TestRcptPostmasterWithoutDomain checks what v0.26.0 brought (v0.25.1
// answered 501): RCPT TO:<Postmaster> without a domain, any case.
func TestRcptPostmasterWithoutDomain(t *testing.T) {
	s := smtp.NewServer(rcptBackend{})
	s.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"Postmaster", "POSTMASTER", "postmaster"} {
		if err := c.Rcpt(to, nil); err != nil {
			t.Errorf("RCPT TO:<%s>: %v", to, err)
		}
	}
	if err := c.Rcpt("postmasterx", nil); err == nil {
		t.Error("RCPT TO:<postmasterx> accepted")
	}
}
