package mailout

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/postern/postern/threads"
)

// TestComposeForward: the forward is a multipart message whose header
// takes nothing from the received one (a hostile Subject cannot inject
// fields), with the received message attached unchanged.
func TestComposeForward(t *testing.T) {
	raw := []byte("From: x@example.org\r\nSubject: hi\r\nBcc: victim@example.org\r\nMessage-ID: <orig@example.org>\r\n\r\nbody\r\n")
	msg, err := ComposeForward(threads.Forward{InboundID: 7, To: "ops@operator.test", From: "notifications@forum.test", Raw: raw}, "forum.test", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("Bcc") + r.Header.Get("Message-Id"); strings.Contains(got, "example.org") {
		t.Errorf("received header copied into the forward: %q", got)
	}
	if s, _ := r.Header.Subject(); !strings.Contains(s, "inbound 7") {
		t.Errorf("subject %q", s)
	}
	var parts []string
	var attached []byte
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct := p.Header.Get("Content-Type")
		parts = append(parts, ct)
		if strings.HasPrefix(ct, "message/rfc822") {
			attached, _ = io.ReadAll(p.Body)
		}
	}
	if len(parts) != 2 || !bytes.Equal(bytes.TrimRight(attached, "\r\n"), bytes.TrimRight(raw, "\r\n")) {
		t.Errorf("parts %v, attached %q", parts, attached)
	}
}
