package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// webMessage is a post written in a web form, as the mail it becomes: the
// form enters the forum by the intake port like any message (SourceWeb),
// so that processing applies the same rules as to mail, and the same
// confirmation (a form is never evidence of its address).
type webMessage struct {
	Name, Address string
	Subject       string
	// InReplyTo is the forum Message-ID of the question answered ("" for
	// a new question).
	InReplyTo string
	Body      string
	// Domain is the forum's, for the Message-ID.
	Domain string
}

// messageID is a Message-ID derived from the form cookie and everything
// the message says: sending the same form twice (a reload, a double
// click) stores it once (the intake deduplicates by Message-ID and
// sender), while a changed text is a new message.
func (m webMessage) messageID(cookie string) string {
	h := sha256.New()
	for _, p := range []string{cookie, m.Name, m.Address, m.Subject, m.InReplyTo, m.Body} {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return "web." + hex.EncodeToString(h.Sum(nil)[:16]) + "@" + m.Domain
}

// raw returns m as an RFC 5322 message in UTF-8, quoted-printable, with
// CRLF line ends, dated now.
func (m webMessage) raw(cookie string, now time.Time) []byte {
	var b bytes.Buffer
	from := mail.Address{Name: m.Name, Address: m.Address}
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", m.messageID(cookie))
	if m.InReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", m.InReplyTo, m.InReplyTo)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}
