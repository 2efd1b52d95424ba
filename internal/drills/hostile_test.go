package drills

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/postern/postern/internal/smtptest"
)

// The hostile clients of drill 5. Each dials from a loopback address of
// its own choosing (so the per-IP cap does not turn them away first),
// plays its part and returns "" when Postern answered as it should, or
// what went wrong.

func dialFrom(addr, local string) (*smtptest.Raw, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return smtptest.NewRaw(c), nil
}

// greeted dials and reads the greeting.
func greeted(addr, local string) (*smtptest.Raw, error) {
	r, err := dialFrom(addr, local)
	if err != nil {
		return nil, err
	}
	if _, err := r.Reply(5 * time.Second); err != nil {
		r.Conn().Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return r, nil
}

// idleClient connects and says nothing: it must get 421 4.4.2 within the
// command timeout and be closed.
func idleClient(addr, local string, timeout time.Duration) string {
	r, err := greeted(addr, local)
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	reply, err := r.Reply(timeout + 10*time.Second)
	if !strings.HasPrefix(reply, "421 4.4.2") {
		return fmt.Sprintf("idle connection got %q (%v), want 421 4.4.2", reply, err)
	}
	if !closedWithin(r, 5*time.Second) {
		return "idle connection not closed after its 421"
	}
	return ""
}

// closedWithin reads and drops replies until the server closes the
// connection (true) or wait passes (false).
func closedWithin(r *smtptest.Raw, wait time.Duration) bool {
	for end := time.Now().Add(wait); time.Now().Before(end); {
		if _, err := r.Reply(time.Until(end)); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
	return false
}

// startData opens a transaction to ask@ and returns the connection after
// the 354.
func startData(addr, local, from string) (*smtptest.Raw, error) {
	r, err := greeted(addr, local)
	if err != nil {
		return nil, err
	}
	for _, cmd := range []string{"EHLO hostile.example", "MAIL FROM:<" + from + ">", "RCPT TO:<ask@" + Domain + ">", "DATA"} {
		reply, err := r.Cmd(cmd, 10*time.Second)
		if err != nil || reply == "" || (reply[0] != '2' && reply[0] != '3') {
			r.Conn().Close()
			return nil, fmt.Errorf("%s: %q %v", cmd, reply, err)
		}
	}
	return r, nil
}

// slowClient sends DATA one byte every gap for d: a slow sender that keeps
// progressing is not cut (its connection still open at the end).
func slowClient(addr, local string, gap, d time.Duration) string {
	r, err := startData(addr, local, "slow@load.test")
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(gap) {
		if err := r.Write("x"); err != nil {
			return "slow sender cut off: " + err.Error()
		}
	}
	return ""
}

// bigClient streams up to limit bytes of DATA: Postern must answer 552
// once past its message size, and stop reading, long before limit.
func bigClient(addr, local string, limit int64) string {
	r, err := startData(addr, local, "big@load.test")
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	line := strings.Repeat("y", 998) + "\r\n"
	go func() {
		for sent := int64(0); sent < limit; sent += int64(len(line)) {
			if _, err := io.WriteString(r.Conn(), line); err != nil {
				return
			}
		}
	}()
	reply, err := r.Reply(2 * time.Minute)
	if !strings.HasPrefix(reply, "552") {
		return fmt.Sprintf("oversized DATA got %q (%v), want 552", reply, err)
	}
	return ""
}

// rcptFlood sends MAIL and then n RCPT commands pipelined: past the limit
// each is refused (452) or the connection closed; never a crash.
func rcptFlood(addr, local string, n int) string {
	r, err := greeted(addr, local)
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	var b strings.Builder
	b.WriteString("EHLO flood.example\r\nMAIL FROM:<flood@load.test>\r\n")
	for i := range n {
		fmt.Fprintf(&b, "RCPT TO:<ask+x%d@%s>\r\n", i, Domain)
	}
	go func() { _ = r.Write(b.String()) }()
	codes := map[byte]int{}
	for {
		reply, err := r.Reply(30 * time.Second)
		if err != nil {
			break
		}
		codes[reply[0]]++
	}
	if codes['2'] > 50+2 {
		return fmt.Sprintf("%d commands accepted out of %d RCPTs (limit 50)", codes['2'], n)
	}
	return ""
}

// garbageClient pipelines lines of junk: Postern answers 5xx and closes
// the connection after a few.
func garbageClient(addr, local string) string {
	r, err := greeted(addr, local)
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	go func() {
		for i := range 1000 {
			if r.Write(fmt.Sprintf("\x00\xffJUNK %d \x1b[2J\r\n", i)) != nil {
				return
			}
		}
	}()
	if !closedWithin(r, 30*time.Second) {
		return "a client sending junk was not disconnected"
	}
	return ""
}

// dotVariants are line-end combinations around a dot that must not end
// DATA: a message carrying one and then "MAIL FROM" must not become two
// transactions (SMTP smuggling).
var dotVariants = []string{"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", ".\r\n", "\r\n.\r"}

// smuggleClient sends one message holding variant then a smuggled
// transaction, then a real end: exactly one reply to the DATA, then 221.
func smuggleClient(addr, local, variant string) string {
	r, err := startData(addr, local, "smuggler@load.test")
	if err != nil {
		return err.Error()
	}
	defer r.Conn().Close()
	body := "From: Smuggler <smuggler@load.test>\r\nSubject: Smuggling test\r\n\r\nhello" + variant +
		"MAIL FROM:<evil@load.test>\r\nRCPT TO:<ask@" + Domain + ">\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled" + variant +
		"\r\n.\r\nQUIT\r\n"
	if err := r.Write(body); err != nil {
		return err.Error()
	}
	var replies []string
	for {
		reply, err := r.Reply(20 * time.Second)
		if err != nil {
			break
		}
		replies = append(replies, reply[:3])
	}
	if len(replies) < 2 || replies[len(replies)-1] != "221" || len(replies) > 2 {
		return fmt.Sprintf("variant %q: replies %v, want one DATA reply then 221", variant, replies)
	}
	return ""
}
