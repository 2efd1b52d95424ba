package smtp

import (
	"errors"
	"fmt"
	"time"
)

// Postern patch: SendPipelined and CommandError (see POSTERN.md; test
// pipeline_postern_test.go).

// CommandError is an error of SendPipelined, naming the command it
// answers: "MAIL", "RCPT" or "DATA" (the DATA command or the message
// after it). Err is an *SMTPError for a refusal by the server, anything
// else for a failed connection.
type CommandError struct {
	Command string
	Err     error
}

func (e *CommandError) Error() string { return e.Command + ": " + e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

// SendPipelined runs one mail transaction from from to the single
// recipient to, with msg as the message (CRLF line ends; dot-stuffing is
// done here). When the server offers PIPELINING (RFC 2920), MAIL FROM,
// RCPT TO and DATA are sent in one write and their three replies read
// after it; without it, one at a time as Mail, Rcpt and Data do. The
// message is sent only after a 354 reply to DATA, so a refused MAIL or
// RCPT never lets the server receive it; if the server answered DATA
// with 354 all the same, a lone dot ends the empty transaction (RFC 2920
// section 3.1). Every error is a *CommandError. After an *SMTPError the
// connection is usable once the caller sends RSET (Reset); after any
// other error it must be closed.
func (c *Client) SendPipelined(from string, mopts *MailOptions, to string, ropts *RcptOptions, msg []byte) error {
	if _, ok := c.ext["PIPELINING"]; !ok || c.lmtp {
		return c.sendOneByOne(from, mopts, to, ropts, msg)
	}
	mail, err := c.mailLine(from, mopts)
	if err != nil {
		return &CommandError{"MAIL", err}
	}
	rcpt, err := c.rcptLine(to, ropts)
	if err != nil {
		return &CommandError{"RCPT", err}
	}
	c.rcpts = nil
	c.conn.SetDeadline(time.Now().Add(c.CommandTimeout))
	defer c.conn.SetDeadline(time.Time{})
	w := c.text.W
	if _, err := fmt.Fprintf(w, "%s\r\n%s\r\nDATA\r\n", mail, rcpt); err != nil {
		return &CommandError{"MAIL", err}
	}
	if err := w.Flush(); err != nil {
		return &CommandError{"MAIL", err}
	}
	// The three replies, in order; a failed connection ends the reading
	// (the stage it is charged to is the first reply not read).
	replies := [3]struct {
		cmd    string
		expect int
		err    error
	}{{"MAIL", 250, nil}, {"RCPT", 25, nil}, {"DATA", 354, nil}}
	for i := range replies {
		_, _, err := c.readResponse(replies[i].expect)
		var se *SMTPError
		if err != nil && !errors.As(err, &se) {
			return &CommandError{replies[i].cmd, err}
		}
		replies[i].err = err
	}
	for _, r := range replies[:2] {
		if r.err == nil {
			continue
		}
		if replies[2].err == nil {
			// DATA was accepted although the envelope was not: end the
			// transaction with nothing in it.
			if err := c.endEmptyData(); err != nil {
				return &CommandError{"DATA", err}
			}
		}
		return &CommandError{r.cmd, r.err}
	}
	if replies[2].err != nil {
		return &CommandError{"DATA", replies[2].err}
	}
	c.rcpts = []string{to}
	return c.sendData(msg)
}

// endEmptyData sends the lone dot after an unwanted 354 and reads the
// reply, whatever it is; only a failed connection is an error.
func (c *Client) endEmptyData() error {
	if _, err := c.text.W.WriteString(".\r\n"); err != nil {
		return err
	}
	if err := c.text.W.Flush(); err != nil {
		return err
	}
	_, _, err := c.readResponse(250)
	var se *SMTPError
	if err != nil && !errors.As(err, &se) {
		return err
	}
	return nil
}

// sendData writes msg after a 354 and reads the reply to it.
func (c *Client) sendData(msg []byte) error {
	cmd := &DataCommand{client: c, wc: c.text.DotWriter()}
	if _, err := cmd.Write(msg); err != nil {
		return &CommandError{"DATA", err}
	}
	if err := cmd.Close(); err != nil {
		return &CommandError{"DATA", err}
	}
	return nil
}

// sendOneByOne is SendPipelined for a server without PIPELINING.
func (c *Client) sendOneByOne(from string, mopts *MailOptions, to string, ropts *RcptOptions, msg []byte) error {
	if err := c.Mail(from, mopts); err != nil {
		return &CommandError{"MAIL", err}
	}
	if err := c.Rcpt(to, ropts); err != nil {
		return &CommandError{"RCPT", err}
	}
	if _, _, err := c.cmd(354, "DATA"); err != nil {
		return &CommandError{"DATA", err}
	}
	return c.sendData(msg)
}
