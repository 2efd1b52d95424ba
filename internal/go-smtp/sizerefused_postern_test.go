package smtp_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sizeBackend's sessions report SizeRefused calls and Data's errors.
type sizeBackend struct {
	refused chan [2]int64
	dataErr chan error
}

func (b *sizeBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return sizeSession{b}, nil }

type sizeSession struct{ b *sizeBackend }

func (sizeSession) Reset()                               {}
func (sizeSession) Logout() error                        { return nil }
func (sizeSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sizeSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s sizeSession) SizeRefused(declared, limit int64)  { s.b.refused <- [2]int64{declared, limit} }
func (s sizeSession) Data(r io.Reader) error {
	_, err := io.ReadAll(r)
	s.b.dataErr <- err
	return err
}

func startSizeServer(t *testing.T) (*sizeBackend, *bufio.Scanner, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := &sizeBackend{refused: make(chan [2]int64, 1), dataErr: make(chan error, 1)}
	s := smtp.NewServer(be)
	s.Domain, s.MaxMessageBytes, s.EnableBINARYMIME = "localhost", 100, true
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc := bufio.NewScanner(c)
	expect := func(line, prefix string) {
		t.Helper()
		if line != "" {
			io.WriteString(c, line+"\r\n")
		}
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), prefix[:3]+"-") {
				break
			}
		}
		if !strings.HasPrefix(sc.Text(), prefix) {
			t.Fatalf("after %q got %q, want %s", line, sc.Text(), prefix)
		}
	}
	expect("", "220 ")
	expect("EHLO c.example", "250 ")
	return be, sc, c
}

func reply(t *testing.T, sc *bufio.Scanner, c net.Conn, line string) string {
	t.Helper()
	io.WriteString(c, line)
	if !sc.Scan() {
		t.Fatalf("no reply to %q", line)
	}
	return sc.Text()
}

// TestSizeRefusedSession: a MAIL whose SIZE is over the limit gets 552
// and the session hears of it, with the declared size and the limit.
func TestSizeRefusedSession(t *testing.T) {
	be, sc, c := startSizeServer(t)
	if got := reply(t, sc, c, "MAIL FROM:<a@example.org> SIZE=5000\r\n"); !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("MAIL with SIZE=5000: %q, want 552 5.3.4", got)
	}
	select {
	case got := <-be.refused:
		if got != [2]int64{5000, 100} {
			t.Errorf("SizeRefused(%d, %d), want (5000, 100)", got[0], got[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SizeRefused was not called")
	}
	if got := reply(t, sc, c, "MAIL FROM:<a@example.org> SIZE=50\r\n"); !strings.HasPrefix(got, "250 ") {
		t.Errorf("MAIL with SIZE=50: %q, want 250", got)
	}
}

// TestBDATTooLargeEndsData: a BDAT chunk past the limit gets 552 and
// the backend's reader ends with ErrDataTooLarge (not ErrDataReset).
func TestBDATTooLargeEndsData(t *testing.T) {
	be, sc, c := startSizeServer(t)
	for _, line := range []string{"MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "BDAT 60\r\n" + strings.Repeat("x", 60)} {
		if got := reply(t, sc, c, line); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("%q: %q, want 250", line, got)
		}
	}
	if got := reply(t, sc, c, "BDAT 60 LAST\r\n"+strings.Repeat("y", 60)); !strings.HasPrefix(got, "552 5.3.4") {
		t.Fatalf("BDAT past the limit: %q, want 552 5.3.4", got)
	}
	select {
	case err := <-be.dataErr:
		if err != smtp.ErrDataTooLarge {
			t.Errorf("Data's reader ended with %v, want ErrDataTooLarge", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Data did not return")
	}
}
