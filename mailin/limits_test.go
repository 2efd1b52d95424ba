package mailin_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/guesslimit"
	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/mailin"
)

// rawClient speaks SMTP/LMTP byte for byte (smtptest.Raw), so tests
// control every CR and LF and every pause. Every reply it reads is checked
// for socket addresses and internal error text.
type rawClient struct {
	t *testing.T
	*smtptest.Raw
}

// dialFrom connects to addr from the loopback address local ("" = any).
func dialFrom(t *testing.T, addr, local string) *rawClient {
	t.Helper()
	r := smtptest.DialRaw(t, addr, local)
	r.Check = func(line string) {
		for _, leak := range []string{"127.0.0.", "tcp", "i/o", "->", "transaction failed"} {
			if strings.Contains(line, leak) {
				t.Errorf("reply %q shows %q", line, leak)
			}
		}
	}
	return &rawClient{t: t, Raw: r}
}

// reply reads one (possibly multi-line) reply within wait; it returns ""
// and the error when none came.
func (rc *rawClient) reply(wait time.Duration) (string, error) {
	rc.t.Helper()
	return rc.Reply(wait)
}

// must reads a reply and fails the test unless it starts with prefix.
func (rc *rawClient) must(prefix string, wait time.Duration) string {
	rc.t.Helper()
	got, err := rc.reply(wait)
	if err != nil || !strings.HasPrefix(got, prefix) {
		rc.t.Fatalf("reply %q (%v), want %s", got, err, prefix)
	}
	return got
}

func (rc *rawClient) write(s string) {
	rc.t.Helper()
	if err := rc.Write(s); err != nil {
		rc.t.Fatal(err)
	}
}

// cmd sends one command line and expects a reply starting with prefix.
func (rc *rawClient) cmd(line, prefix string) string {
	rc.t.Helper()
	rc.write(line + "\r\n")
	return rc.must(prefix, 5*time.Second)
}

// closed reports whether the server closed the connection within wait.
func (rc *rawClient) closed(wait time.Duration) bool { return rc.Closed(wait) }

// hello greets (EHLO or LHLO) and opens a transaction to ask@.
func (rc *rawClient) transaction(lmtp bool, from string) {
	rc.t.Helper()
	rc.must("220 ", 5*time.Second)
	if lmtp {
		rc.cmd("LHLO mx.example.net", "250")
	} else {
		rc.cmd("EHLO client.example.net", "250")
	}
	rc.cmd("MAIL FROM:<"+from+">", "250")
	rc.cmd("RCPT TO:<ask@forum.test>", "250")
	rc.cmd("DATA", "354")
}

// TestPerAddressConnectionCap: with the default limits, 200 connections
// from one address (the attack) get its quota of idle sessions and
// 421 4.7.0 at once for the rest, and a client from another address is
// greeted at once (issue 10 #4).
func TestPerAddressConnectionCap(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	f := start(t, mailin.Config{}, false)
	quota := config.Default().SMTP.MaxConnectionsPerIP
	begin := time.Now()
	for i := 0; i < 200; i++ {
		c := dialFrom(t, f.addr, "127.0.0.1")
		want := "220 "
		if i >= quota {
			want = "421 4.7.0 "
		}
		c.must(want, 2*time.Second)
		if i >= quota && !c.closed(2*time.Second) {
			t.Fatalf("connection %d over the cap left open", i)
		}
	}
	t.Logf("200 connections from 127.0.0.1 answered in %v", time.Since(begin))
	begin = time.Now()
	other := dialFrom(t, f.addr, "127.0.0.2")
	other.must("220 ", 2*time.Second)
	t.Logf("127.0.0.2 greeted in %v while 127.0.0.1 holds %d idle sessions", time.Since(begin), quota)
	other.cmd("EHLO other.example.net", "250")
}

// TestLMTPHasNoPerAddressCap: over LMTP every connection comes from the
// front MTA, so the per-address cap does not apply.
func TestLMTPHasNoPerAddressCap(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{MaxConnectionsPerIP: 2}, true)
	for i := 0; i < 5; i++ {
		dialFrom(t, f.addr, "127.0.0.1").must("220 ", 2*time.Second)
	}
}

// TestIdleBeforeMailIsCut: before MAIL, CommandTimeout ends an idle
// session with 421; after MAIL the longer ReadTimeout applies.
func TestIdleBeforeMailIsCut(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	f := start(t, mailin.Config{CommandTimeout: time.Second, ReadTimeout: 10 * time.Second}, false)
	c := dialFrom(t, f.addr, "")
	c.must("220 ", 2*time.Second)
	begin := time.Now()
	c.must("421 4.4.2", 5*time.Second)
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("idle session cut after %v, want about 1s", d)
	}
	if !c.closed(2 * time.Second) {
		t.Fatal("idle session not closed")
	}

	c = dialFrom(t, f.addr, "")
	c.must("220 ", 2*time.Second)
	c.cmd("EHLO client.example.net", "250")
	c.cmd("MAIL FROM:<alice@example.org>", "250")
	time.Sleep(2 * time.Second) // past CommandTimeout, within ReadTimeout
	c.cmd("RCPT TO:<ask@forum.test>", "250")
}

// TestSessionTimeCap: a session that keeps sending commands still ends at
// MaxSessionTime.
func TestSessionTimeCap(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	f := start(t, mailin.Config{CommandTimeout: time.Second, ReadTimeout: time.Second, MaxSessionTime: 2 * time.Second}, false)
	c := dialFrom(t, f.addr, "")
	c.must("220 ", 2*time.Second)
	begin := time.Now()
	for time.Since(begin) < 10*time.Second {
		c.write("NOOP\r\n")
		got, err := c.reply(3 * time.Second)
		if strings.HasPrefix(got, "421 ") {
			if d := time.Since(begin); d < 1500*time.Millisecond || d > 4*time.Second {
				t.Fatalf("session ended after %v, want about 2s", d)
			}
			return
		}
		if err != nil || !strings.HasPrefix(got, "250") {
			t.Fatalf("NOOP: %q, %v", got, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatal("session outlived MaxSessionTime")
}

// TestSlowDataAccepted: a sender that keeps sending, slower than one
// ReadTimeout for the whole message, is fine (issue 10 #6).
func TestSlowDataAccepted(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	for _, lmtp := range []bool{false, true} {
		// A 2 s silence limit leaves a loaded machine (race detector,
		// parallel packages) room between writes 300 ms apart.
		f := start(t, mailin.Config{ReadTimeout: 2 * time.Second}, lmtp)
		c := dialFrom(t, f.addr, "")
		c.transaction(lmtp, "slow@example.org")
		c.write(strings.TrimSuffix(message("slow@example.org", "start"), "\r\n") + "\r\n")
		for i := 0; i < 14; i++ { // 4.2 s in all, 300 ms apart
			time.Sleep(300 * time.Millisecond)
			c.write("more text\r\n")
		}
		c.write(".\r\n")
		c.must("250 ", 5*time.Second)
	}
}

// TestStalledDataCut: a sender that stops mid-message is cut after
// ReadTimeout with a temporary reply showing no socket address, and the
// connection is closed (issue 10 #6).
func TestStalledDataCut(t *testing.T) {
	// Not parallel: its time bounds hold on an unloaded server.
	for _, tc := range []struct {
		lmtp bool
		want string
	}{{false, "421 4.4.2 "}, {true, "451 4.4.2 "}} {
		f := start(t, mailin.Config{ReadTimeout: time.Second}, tc.lmtp)
		c := dialFrom(t, f.addr, "")
		c.transaction(tc.lmtp, "stall@example.org")
		c.write("Subject: half\r\n\r\nthe first half")
		begin := time.Now()
		c.must(tc.want, 5*time.Second)
		if d := time.Since(begin); d > 3*time.Second {
			t.Errorf("lmtp=%v: stalled DATA answered after %v, want about 1s", tc.lmtp, d)
		}
		if !c.closed(3 * time.Second) {
			t.Errorf("lmtp=%v: connection left open after the DATA timeout", tc.lmtp)
		}
		if n := countInbound(t, f); n != 0 {
			t.Errorf("lmtp=%v: %d messages stored from a stalled DATA", tc.lmtp, n)
		}
	}
}

// TestDataLineEnds sends every CR/LF shape around the terminating dot
// over SMTP and LMTP (issue 10 #5 and #8): proper CRLF lines end DATA and
// are stored; a bare CR or LF anywhere gets 550 5.6.0 (never a hang); and
// an end marker that is not CRLF.CRLF does not end DATA (no smuggling:
// the text after it is part of the same refused message).
func TestDataLineEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, tail string // tail: what follows "body", up to and with the end marker
		want       string
	}{
		{"crlf", "\r\n.\r\n", "250 "},
		{"empty last line", "\r\n\r\n.\r\n", "250 "},
		{"dot-stuffed last line", "\r\n..\r\n.\r\n", "250 "},
		{"bare CR before CRLF", "\r\r\n.\r\n", "550 5.6.0 "},
		{"two bare CRs before CRLF", "\r\r\r\n.\r\n", "550 5.6.0 "},
		{"bare LF before CRLF", "\n\r\n.\r\n", "550 5.6.0 "},
		{"LF CR before CRLF", "\n\r\r\n.\r\n", "550 5.6.0 "},
		{"dot CR CRLF then end", "\r\n.\r\r\n.\r\n", "550 5.6.0 "},
		{"LF.CRLF is not the end", "\n.\r\nMAIL FROM:<x@example.org>\r\n.\r\n", "550 5.6.0 "},
		{"CRLF.LF is not the end", "\r\n.\nRSET\r\n.\r\n", "550 5.6.0 "},
		{"LF.LF is not the end", "\n.\nRSET\r\n.\r\n", "550 5.6.0 "},
		{"CR.CR is not the end", "\r.\rRSET\r\n.\r\n", "550 5.6.0 "},
		{"CRLF.CR is not the end", "\r\n.\rX\r\n.\r\n", "550 5.6.0 "},
	}
	for _, lmtp := range []bool{false, true} {
		f := start(t, mailin.Config{ReadTimeout: 5 * time.Second}, lmtp)
		stored := 0
		for i, tc := range cases {
			c := dialFrom(t, f.addr, "")
			c.transaction(lmtp, "ends@example.org")
			c.write("Subject: ends\r\nMessage-ID: <ends" + string(rune('a'+i)) + "@example.org>\r\n\r\nbody" + tc.tail)
			got, err := c.reply(3 * time.Second)
			if err != nil || !strings.HasPrefix(got, tc.want) {
				t.Errorf("lmtp=%v %s: reply %q (%v), want %s", lmtp, tc.name, got, err, tc.want)
				continue
			}
			if tc.want == "250 " {
				stored++
			}
			// Nothing was left over as a command: the session is in
			// its initial state.
			c.cmd("RSET", "250")
			c.cmd("QUIT", "221")
		}
		if n := countInbound(t, f); n != stored {
			t.Errorf("lmtp=%v: %d messages stored, want %d", lmtp, n, stored)
		}
	}
}

// TestDataLineTooLong: a message line over MaxLineLength (the QA tryout's
// 5000 octets against 4096) is refused for good with one reply (one per
// recipient in LMTP) and nothing after it: the connection is closed, no
// second "500 Too long line" follows, nothing is stored, and the log
// says why.
func TestDataLineTooLong(t *testing.T) {
	t.Parallel()
	for _, lmtp := range []bool{false, true} {
		logs := &lockedBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		f := startWith(t, mailin.Config{ReadTimeout: 5 * time.Second, MaxLineLength: 4096}, lmtp, log, nil)
		c := dialFrom(t, f.addr, "")
		c.transaction(lmtp, "m@evil.test")
		c.write("From: m@evil.test\r\nSubject: x\r\n\r\n" + strings.Repeat("x", 5000) + "\r\n.\r\n")
		c.must("554 5.6.0 ", 5*time.Second)
		if got, err := c.reply(5 * time.Second); got != "" || !errors.Is(err, io.EOF) {
			t.Errorf("lmtp=%v: after the refusal got %q (%v), want the connection closed", lmtp, got, err)
		}
		if l := logs.take(); !strings.Contains(l, `reason="line too long"`) {
			t.Errorf("lmtp=%v: log %q has no reason=\"line too long\"", lmtp, l)
		}
		if n := countInbound(t, f); n != 0 {
			t.Errorf("lmtp=%v: %d messages stored, want 0", lmtp, n)
		}
	}
}

// TestDataLineTooLongLMTPEachRecipient: LMTP answers the too-long line
// once per recipient, each permanently, then closes.
func TestDataLineTooLongLMTPEachRecipient(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{ReadTimeout: 5 * time.Second, MaxLineLength: 4096}, true)
	c := dialFrom(t, f.addr, "")
	c.must("220 ", 5*time.Second)
	c.cmd("LHLO mx.example.net", "250")
	c.cmd("MAIL FROM:<m@evil.test>", "250")
	c.cmd("RCPT TO:<ask@forum.test>", "250")
	c.cmd("RCPT TO:<notifications@forum.test>", "250")
	c.cmd("DATA", "354")
	c.write("Subject: x\r\n\r\n" + strings.Repeat("x", 5000) + "\r\n.\r\n")
	for _, rcpt := range []string{"ask@forum.test", "notifications@forum.test"} {
		c.must("554 5.6.0 <"+rcpt+"> ", 5*time.Second)
	}
	if got, err := c.reply(5 * time.Second); got != "" || !errors.Is(err, io.EOF) {
		t.Errorf("after the refusals got %q (%v), want the connection closed", got, err)
	}
}

// TestOneActionPerTransaction: recipients that ask for different actions
// cannot share a transaction: the later one gets 452 4.5.3 (issue 10
// #11), while the addresses that make one post together (ask@,
// notifications@, moderate@) still do.
func TestOneActionPerTransaction(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{}, false)
	for _, tc := range []struct {
		rcpts []string
		want  []string
	}{
		{[]string{"ask@forum.test", "subscribe@forum.test"}, []string{"250", "452 4.5.3"}},
		{[]string{"subscribe@forum.test", "ask@forum.test", "subscribe@forum.test"}, []string{"250", "452 4.5.3", "250"}},
		{[]string{"ask@forum.test", "notifications@forum.test", "moderate@forum.test"}, []string{"250", "250", "250"}},
		{[]string{"ask@forum.test", "ask+sleep@forum.test"}, []string{"250", "452 4.5.3"}},
		{[]string{"subscribe+sleep@forum.test", "subscribe@forum.test"}, []string{"250", "452 4.5.3"}},
		{[]string{"help@forum.test", "ask@forum.test"}, []string{"250", "452 4.5.3"}},
		{[]string{"postmaster@forum.test", "ask@forum.test", "abuse@forum.test"}, []string{"250", "452 4.5.3", "250"}},
		{[]string{"ask@forum.test", "Postmaster"}, []string{"250", "452 4.5.3"}},
		{[]string{"nobody@forum.test", "subscribe@forum.test", "ask@forum.test"}, []string{"550", "250", "452 4.5.3"}},
	} {
		c := dialFrom(t, f.addr, "")
		c.must("220 ", 5*time.Second)
		c.cmd("EHLO client.example.net", "250")
		c.cmd("MAIL FROM:<alice@example.org>", "250")
		for i, r := range tc.rcpts {
			if got := c.cmd("RCPT TO:<"+r+">", ""); !strings.HasPrefix(got, tc.want[i]) {
				t.Errorf("%v: RCPT %s got %q, want %s", tc.rcpts, r, got, tc.want[i])
			}
		}
		c.cmd("RSET", "250")
		// RSET starts afresh: the deferred kind is now accepted first.
		c.cmd("MAIL FROM:<alice@example.org>", "250")
		c.cmd("RCPT TO:<"+tc.rcpts[len(tc.rcpts)-1]+">", "250")
		c.cmd("QUIT", "221")
	}
}

// TestBadTokensLimited: a client network that tried Guesses' maximum of
// reply addresses whose token does not verify gets 450 4.7.1 for every
// RCPT after, a good one too, on any connection; another network and
// LMTP (whose peer is the front MTA) are not limited.
func TestBadTokensLimited(t *testing.T) {
	t.Parallel()
	f := start(t, mailin.Config{Guesses: guesslimit.New(3, time.Hour)}, false)
	mail := func(local, from string) *rawClient {
		rc := dialFrom(t, f.addr, local)
		rc.must("220 ", 5*time.Second)
		rc.cmd("EHLO client.example.net", "250")
		rc.cmd("MAIL FROM:<"+from+">", "250")
		return rc
	}
	rc := mail("127.0.0.5", "probe@example.org")
	for i := range 3 {
		rc.cmd(fmt.Sprintf("RCPT TO:<reply+%026d@forum.test>", i), "550 5.1.1")
	}
	rc.cmd("RCPT TO:<ask@forum.test>", "450 4.7.1")
	mail("127.0.0.5", "probe@example.org").cmd("RCPT TO:<ask@forum.test>", "450 4.7.1")
	mail("127.0.0.6", "someone@example.org").cmd("RCPT TO:<ask@forum.test>", "250")
}

// TestSizeRefusalsLogged: a SIZE over the limit at MAIL and a BDAT
// message growing past it both get 552 5.3.4, store nothing, and the
// log says why (the reply sent, not a lost connection), without the
// sender's address.
func TestSizeRefusalsLogged(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	f := startWith(t, mailin.Config{ReadTimeout: 5 * time.Second, MaxMessageBytes: 4096}, false, log, nil)
	c := dialFrom(t, f.addr, "")
	c.must("220 ", 5*time.Second)
	c.cmd("EHLO client.example.net", "250")
	c.cmd("MAIL FROM:<m@big.test> SIZE=9000", "552 5.3.4")
	if l := logs.take(); !strings.Contains(l, `msg="mail refused"`) || !strings.Contains(l, `reason="declared size over the limit" declared=9000 limit=4096`) {
		t.Errorf("MAIL SIZE=9000: log %q does not say why", l)
	}
	c.cmd("MAIL FROM:<m@big.test>", "250")
	c.cmd("RCPT TO:<ask@forum.test>", "250")
	hdr := "From: m@big.test\r\nSubject: x\r\n\r\n"
	c.write("BDAT 3000\r\n" + hdr + strings.Repeat("x", 3000-len(hdr)))
	c.must("250 ", 5*time.Second)
	c.write("BDAT 3000 LAST\r\n" + strings.Repeat("y", 3000))
	c.must("552 5.3.4", 5*time.Second)
	c.cmd("QUIT", "221")
	waitLog(t, logs, `code=552`)
	l := logs.take()
	if strings.Contains(l, "connection lost") || strings.Contains(l, "code=421") || strings.Contains(l, "m@big.test") {
		t.Errorf("log after the BDAT refusal: %q", l)
	}
	if n := countInbound(t, f); n != 0 {
		t.Errorf("%d messages stored, want 0", n)
	}
}

// waitLog waits until logs holds want (the session logs after it replies).
func waitLog(t *testing.T, logs *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log %q has no %s", logs.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
