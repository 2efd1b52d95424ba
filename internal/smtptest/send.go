package smtptest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one transaction for Transact and Send.
type Mail struct {
	From string
	To   []string
	Data []byte    // the message, sent as is (see CRLF)
	Body io.Reader // streamed instead of Data when set
	Size int64     // MAIL FROM SIZE= when > 0

	// Partial goes on past refused recipients (a sending MTA's way:
	// Transact returns them) and sends DATA to those accepted; otherwise
	// the first refusal ends the transaction with its error.
	Partial bool
}

// Dialer opens client sessions; the zero value speaks SMTP as
// client.example.net.
type Dialer struct {
	LMTP    bool
	Helo    string        // EHLO/LHLO name; "client.example.net" when empty
	Timeout time.Duration // for connecting; 10 s when 0
}

// Client is a go-smtp client session that knows whether it speaks LMTP.
type Client struct {
	*smtp.Client
	LMTP bool
}

// Dial connects to addr and greets (EHLO, or LHLO for LMTP). The caller
// closes the client.
func (d Dialer) Dial(addr string) (*Client, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("smtptest: dial: %w", err)
	}
	var c *smtp.Client
	if d.LMTP {
		c = smtp.NewClientLMTP(conn)
	} else {
		c = smtp.NewClient(conn)
	}
	if err := c.Hello(cmp(d.Helo, "client.example.net")); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("smtptest: hello: %w", err)
	}
	return &Client{Client: c, LMTP: d.LMTP}, nil
}

// Send runs one transaction in a session of its own and quits. Errors
// from the server are *smtp.SMTPError (wrapped).
func (d Dialer) Send(addr string, m Mail) error {
	c, err := d.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Transact(m); err != nil {
		return err
	}
	return c.Quit()
}

// Send is Dialer{}.Send: one SMTP transaction as client.example.net.
func Send(addr string, m Mail) error { return Dialer{}.Send(addr, m) }

// Transact runs MAIL, RCPT for each recipient and DATA on an open session.
// Over LMTP it fails unless every accepted recipient got 250 after DATA.
// With m.Partial it returns the recipients refused at RCPT (and sends no
// DATA if all were).
func (c *Client) Transact(m Mail) (refused map[string]error, err error) {
	var mo *smtp.MailOptions
	if m.Size > 0 {
		mo = &smtp.MailOptions{Size: m.Size}
	}
	if err := c.Mail(m.From, mo); err != nil {
		return nil, err
	}
	accepted := 0
	for _, to := range m.To {
		if err := c.Rcpt(to, nil); err != nil {
			if !m.Partial {
				return nil, err
			}
			if refused == nil {
				refused = map[string]error{}
			}
			refused[to] = err
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return refused, c.Reset()
	}
	w, err := c.Data()
	if err != nil {
		return refused, err
	}
	body := m.Body
	if body == nil {
		body = bytes.NewReader(m.Data)
	}
	if _, err := io.Copy(w, body); err != nil {
		_ = w.Close()
		return refused, fmt.Errorf("smtptest: write DATA: %w", err)
	}
	if c.LMTP {
		_, err = w.CloseWithLMTPResponse()
	} else {
		err = w.Close()
	}
	return refused, err
}

// CRLF returns s with every line ending (LF or CRLF) made CRLF, as a
// message travels in SMTP.
func CRLF(s string) []byte {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// Code returns the reply code of an *smtp.SMTPError in err's chain, or 0.
func Code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
