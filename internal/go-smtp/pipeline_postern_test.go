package smtp

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// writeLog records each Write the client makes.
type writeLog struct{ writes []string }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// pipelineClient returns a client talking to a scripted server whose
// replies are lines (CRLF added), and the log of what the client wrote.
func pipelineClient(t *testing.T, lines ...string) (*Client, *writeLog) {
	t.Helper()
	log := &writeLog{}
	var fake faker
	fake.ReadWriter = struct {
		*bufio.Reader
		*writeLog
	}{bufio.NewReader(strings.NewReader(strings.Join(lines, "\r\n") + "\r\n")), log}
	c := NewClient(fake)
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	log.writes = nil
	return c, log
}

// TestSendPipelined covers the Postern patch SendPipelined: with
// PIPELINING the envelope and DATA go out in one write, the message (dot
// stuffed) in one more, and a refused envelope never sends the message.
func TestSendPipelined(t *testing.T) {
	const msg = "Subject: hi\r\n\r\n.dot\r\nbody\r\n"
	const stuffed = "Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n"
	greet := []string{"220 server.test", "250-server.test", "250-SIZE 1000000", "250 PIPELINING"}
	envelope := "MAIL FROM:<a@from.test> SIZE=27\r\nRCPT TO:<b@to.test>\r\nDATA\r\n"
	for _, tc := range []struct {
		name    string
		replies []string
		writes  []string // after EHLO
		cmd     string   // the CommandError's command, "" for success
		code    int
	}{
		{"accepted", []string{"250 ok", "250 ok", "354 go", "250 queued"}, []string{envelope, stuffed}, "", 0},
		{"rcpt refused, DATA refused", []string{"250 ok", "550 5.1.1 no such user", "554 no valid recipients"}, []string{envelope}, "RCPT", 550},
		{"rcpt deferred, DATA accepted anyway", []string{"250 ok", "450 4.2.1 try later", "354 go", "250 empty"}, []string{envelope, ".\r\n"}, "RCPT", 450},
		{"mail refused", []string{"451 4.3.0 busy", "503 no MAIL", "503 no RCPT"}, []string{envelope}, "MAIL", 451},
		{"message refused", []string{"250 ok", "250 ok", "354 go", "552 5.3.4 too big"}, []string{envelope, stuffed}, "DATA", 552},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, log := pipelineClient(t, append(greet, tc.replies...)...)
			err := c.SendPipelined("a@from.test", &MailOptions{Size: int64(len(msg))}, "b@to.test", nil, []byte(msg))
			if tc.cmd == "" {
				if err != nil {
					t.Fatalf("SendPipelined: %v", err)
				}
			} else {
				var ce *CommandError
				var se *SMTPError
				if !errors.As(err, &ce) || ce.Command != tc.cmd || !errors.As(err, &se) || se.Code != tc.code {
					t.Fatalf("SendPipelined: %v, want a %s error with code %d", err, tc.cmd, tc.code)
				}
			}
			if strings.Join(log.writes, "|") != strings.Join(tc.writes, "|") {
				t.Errorf("writes:\n%q\nwant\n%q", log.writes, tc.writes)
			}
		})
	}
}

// TestSendPipelinedWithout: a server that does not offer PIPELINING gets
// the commands one at a time.
func TestSendPipelinedWithout(t *testing.T) {
	c, log := pipelineClient(t, "220 server.test", "250 server.test", "250 ok", "250 ok", "354 go", "250 queued")
	if err := c.SendPipelined("a@from.test", nil, "b@to.test", nil, []byte("Subject: hi\r\n\r\nbody\r\n")); err != nil {
		t.Fatalf("SendPipelined: %v", err)
	}
	want := []string{"MAIL FROM:<a@from.test>\r\n", "RCPT TO:<b@to.test>\r\n", "DATA\r\n", "Subject: hi\r\n\r\nbody\r\n.\r\n"}
	if strings.Join(log.writes, "|") != strings.Join(want, "|") {
		t.Errorf("writes:\n%q\nwant\n%q", log.writes, want)
	}
}
