package smtptest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Raw speaks SMTP or LMTP byte for byte, so that a test controls every CR,
// LF and pause: for hostile or malformed input go-smtp's client refuses
// to send.
type Raw struct {
	conn net.Conn
	r    *bufio.Reader

	// Check, when set, is called with every reply line read.
	Check func(line string)
}

// NewRaw wraps an open connection (TCP, or one end of net.Pipe).
func NewRaw(conn net.Conn) *Raw { return &Raw{conn: conn, r: bufio.NewReader(conn)} }

// DialRaw connects to addr from the local IP address local ("" = any),
// closing the connection at t's cleanup. It reads nothing: the greeting is
// the first Reply.
func DialRaw(t testing.TB, addr, local string) *Raw {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("smtptest: dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return NewRaw(c)
}

// Conn is the underlying connection.
func (r *Raw) Conn() net.Conn { return r.conn }

// Write sends s as is.
func (r *Raw) Write(s string) error {
	_, err := io.WriteString(r.conn, s)
	return err
}

// Reply reads one reply, the lines of a multi-line one joined by "\n"
// without their CRLF, waiting up to wait. It returns what it read and the
// error when no whole reply came.
func (r *Raw) Reply(wait time.Duration) (string, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(wait))
	var all []string
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			return strings.Join(all, "\n"), err
		}
		line = strings.TrimRight(line, "\r\n")
		all = append(all, line)
		if r.Check != nil {
			r.Check(line)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(all, "\n"), nil
		}
	}
}

// Cmd sends line and CRLF and reads the reply (up to wait).
func (r *Raw) Cmd(line string, wait time.Duration) (string, error) {
	if err := r.Write(line + "\r\n"); err != nil {
		return "", err
	}
	return r.Reply(wait)
}

// Closed reports whether the server closed the connection within wait
// (reading and dropping anything it sends first).
func (r *Raw) Closed(wait time.Duration) bool {
	_ = r.conn.SetReadDeadline(time.Now().Add(wait))
	_, err := r.r.ReadByte()
	return errors.Is(err, io.EOF)
}

// ReplyCode checks that reply (as Reply returns it) is well formed, RFC
// 5321 4.2: every line is three digits, the same on every line, then "-"
// on all lines but the last, which has " " or nothing; codes run 200-599.
// It returns the code.
func ReplyCode(reply string) (int, error) {
	lines := strings.Split(reply, "\n")
	code := ""
	for i, l := range lines {
		if len(l) < 3 || !isCode(l[:3]) {
			return 0, fmt.Errorf("reply line %q has no reply code", l)
		}
		if code == "" {
			code = l[:3]
		} else if l[:3] != code {
			return 0, fmt.Errorf("reply line %q: code differs from %s", l, code)
		}
		last := i == len(lines)-1
		switch {
		case len(l) == 3 && last:
		case len(l) > 3 && l[3] == '-' && !last:
		case len(l) > 3 && l[3] == ' ' && last:
		default:
			return 0, fmt.Errorf("reply line %q: bad separator", l)
		}
	}
	n := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return n, nil
}

func isCode(s string) bool {
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
