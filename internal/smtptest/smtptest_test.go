package smtptest_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/postern/postern/internal/smtptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSinkRecordsAndScripts(t *testing.T) {
	t.Parallel()
	sink := smtptest.Start(t, smtptest.Options{Rcpt: func(to string, n int) *smtp.SMTPError {
		if to == "grey@example.org" && n == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "later"}
		}
		return nil
	}})
	m := smtptest.Mail{From: "a@example.org", To: []string{"b@example.org", "grey@example.org"}, Data: smtptest.CRLF("Subject: hi\n\nbody\n"), Partial: true}
	c, err := smtptest.Dialer{}.Dial(sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused, err := c.Transact(m)
	if err != nil || len(refused) != 1 || smtptest.Code(refused["grey@example.org"]) != 451 {
		t.Fatalf("Transact: %v, refused %v", err, refused)
	}
	got := sink.Wait(t, 1, time.Second)[0]
	if got.From != m.From || len(got.To) != 1 || got.To[0] != "b@example.org" || string(got.Data) != string(m.Data) || got.TLS {
		t.Errorf("recorded %+v", got)
	}
	if n := sink.RcptCount("grey@example.org"); n != 1 {
		t.Errorf("RcptCount = %d", n)
	}
	// The second RCPT to grey is accepted.
	m.To, m.Partial = []string{"grey@example.org"}, false
	if _, err := c.Transact(m); err != nil {
		t.Fatal(err)
	}
	g := sink.WaitFor(t, time.Second, func(m smtptest.Message) bool { return m.To[0] == "grey@example.org" })
	if g.From != m.From {
		t.Errorf("WaitFor: %+v", g)
	}
	sink.SetData(func(smtptest.Message) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "no"}
	})
	if _, err := c.Transact(m); smtptest.Code(err) != 554 {
		t.Errorf("scripted DATA reply: %v", err)
	}
	if n := len(sink.Messages()); n != 2 {
		t.Errorf("%d messages recorded, want 2", n)
	}
	if sink.Sessions() != 1 {
		t.Errorf("%d sessions", sink.Sessions())
	}
}

func TestSinkAuthAndTLS(t *testing.T) {
	t.Parallel()
	cert, pool := smtptest.Cert(t)
	sink := smtptest.Start(t, smtptest.Options{Cert: cert, User: "u", Password: "p", RequireAuth: true})
	m := smtptest.Mail{From: "a@example.org", To: []string{"b@example.org"}, Data: []byte("x\r\n")}
	if err := smtptest.Send(sink.Addr(), m); smtptest.Code(err) != 502 {
		t.Fatalf("MAIL before AUTH: %v, want 502 (go-smtp ErrAuthRequired)", err)
	}
	c, err := smtp.DialStartTLS(sink.Addr(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(m.From, m.To, strings.NewReader("x\r\n")); smtptest.Code(err) != 502 {
		t.Fatalf("MAIL before AUTH over TLS: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(m.From, m.To, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := sink.Wait(t, 1, 0)[0]; !got.TLS || got.User != "u" {
		t.Errorf("recorded %+v", got)
	}
}

func TestRawAndReplyCode(t *testing.T) {
	t.Parallel()
	sink := smtptest.Start(t, smtptest.Options{})
	r := smtptest.DialRaw(t, sink.Addr(), "")
	var lines int
	r.Check = func(string) { lines++ }
	for _, step := range []struct{ cmd, want string }{{"", "220"}, {"EHLO x", "250"}, {"NOOP", "250"}, {"BOGUS", "501"}, {"QUIT", "221"}} {
		var got string
		var err error
		if step.cmd == "" {
			got, err = r.Reply(5 * time.Second)
		} else {
			got, err = r.Cmd(step.cmd, 5*time.Second)
		}
		code, cerr := smtptest.ReplyCode(got)
		if err != nil || cerr != nil || !strings.HasPrefix(got, step.want) || code/100 != int(step.want[0]-'0') {
			t.Fatalf("%q: %q %v %v", step.cmd, got, err, cerr)
		}
	}
	if lines < 6 || !r.Closed(5*time.Second) {
		t.Errorf("%d lines checked; closed after QUIT: false?", lines)
	}
	for _, bad := range []string{"", "25", "250-a", "250 a\n251 b", "250x", "600 no", "250-a\n250 b\n"} {
		if _, err := smtptest.ReplyCode(bad); err == nil {
			t.Errorf("ReplyCode(%q) accepted", bad)
		}
	}
	if c, err := smtptest.ReplyCode("250-a\n250 b"); c != 250 || err != nil {
		t.Errorf("multi-line: %d %v", c, err)
	}
}
