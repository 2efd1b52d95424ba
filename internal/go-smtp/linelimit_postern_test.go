package smtp_test

import (
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestServer_DataLineTooLong covers the Postern patch: a DATA line over
// MaxLineLength gets the backend's reply (one per recipient in LMTP) and
// then the connection is closed, with no second "500 Too long line".
func TestServer_DataLineTooLong(t *testing.T) {
	for _, lmtp := range []bool{false, true} {
		_, s, c, scanner := testServer(t, func(s *smtp.Server) {
			s.LMTP = lmtp
			s.MaxLineLength = 100
			s.Backend.(*backend).implementLMTPData = true
		})
		scanner.Scan() // greeting
		hello := "EHLO localhost\r\n"
		if lmtp {
			hello = "LHLO localhost\r\n"
		}
		io.WriteString(c, hello)
		for scanner.Scan() && !strings.HasPrefix(scanner.Text(), "250 ") {
		}
		io.WriteString(c, "MAIL FROM:<root@nsa.gov>\r\nRCPT TO:<root@gchq.gov.uk>\r\nRCPT TO:<root@bnd.bund.de>\r\nDATA\r\n")
		for i := 0; i < 4; i++ {
			scanner.Scan()
		}
		if !strings.HasPrefix(scanner.Text(), "354 ") {
			t.Fatalf("lmtp=%v: DATA got %q", lmtp, scanner.Text())
		}
		io.WriteString(c, "Subject: x\r\n\r\n"+strings.Repeat("x", 200)+"\r\n.\r\n")
		replies := 1
		if lmtp {
			replies = 2
		}
		for i := 0; i < replies; i++ {
			if !scanner.Scan() || !strings.HasPrefix(scanner.Text(), "554 ") {
				t.Errorf("lmtp=%v: reply %d is %q, want 554", lmtp, i, scanner.Text())
			}
		}
		if scanner.Scan() {
			t.Errorf("lmtp=%v: after the DATA replies got %q, want the connection closed", lmtp, scanner.Text())
		}
		c.Close()
		s.Close()
	}
}
