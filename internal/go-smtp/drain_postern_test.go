package smtp_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestServer_OversizedStreamClosed covers the Postern patch: a client
// that streams far past MaxMessageBytes gets 552 and a closed connection
// once MaxMessageBytes more were read, not a reply after the whole stream.
func TestServer_OversizedStreamClosed(t *testing.T) {
	_, s, c, scanner := testServer(t, func(s *smtp.Server) { s.MaxMessageBytes = 10000; s.ReadTimeout = time.Minute })
	defer s.Close()
	defer c.Close()
	scanner.Scan() // greeting
	io.WriteString(c, "EHLO localhost\r\n")
	for scanner.Scan() && !strings.HasPrefix(scanner.Text(), "250 ") {
	}
	io.WriteString(c, "MAIL FROM:<root@nsa.gov>\r\nRCPT TO:<root@gchq.gov.uk>\r\nDATA\r\n")
	for i := 0; i < 3; i++ {
		scanner.Scan()
	}
	if !strings.HasPrefix(scanner.Text(), "354 ") {
		t.Fatalf("DATA got %q", scanner.Text())
	}
	line := strings.Repeat("y", 98) + "\r\n"
	go func() {
		for i := 0; i < 100000; i++ { // 10 MB, never ended
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	if !scanner.Scan() || !strings.HasPrefix(scanner.Text(), "552 5.3.4 ") {
		t.Fatalf("oversized stream got %q, want 552 5.3.4", scanner.Text())
	}
	if scanner.Scan() {
		t.Errorf("after the 552 got %q, want the connection closed", scanner.Text())
	}
}
