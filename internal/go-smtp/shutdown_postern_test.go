package smtp_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestServer_ShutdownIdle covers the Postern patch: Shutdown answers a
// session waiting for a command with 421 4.3.2 at once and closes it,
// instead of waiting for its read timeout, and Shutdown then returns.
func TestServer_ShutdownIdle(t *testing.T) {
	_, s, c, scanner := testServer(t, func(s *smtp.Server) { s.ReadTimeout = time.Minute })
	defer c.Close()
	scanner.Scan() // greeting
	io.WriteString(c, "EHLO localhost\r\n")
	for scanner.Scan() && !strings.HasPrefix(scanner.Text(), "250 ") {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	if !scanner.Scan() || !strings.HasPrefix(scanner.Text(), "421 4.3.2 ") {
		t.Fatalf("idle session during shutdown got %q, want 421 4.3.2", scanner.Text())
	}
	if scanner.Scan() {
		t.Errorf("after the 421 got %q, want the connection closed", scanner.Text())
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestServer_ShutdownDuringData: a session in DATA when Shutdown begins
// finishes its message (250), then is told 421 4.3.2 and closed, and
// only then does Shutdown return.
func TestServer_ShutdownDuringData(t *testing.T) {
	be, s, c, scanner := testServer(t, func(s *smtp.Server) { s.ReadTimeout = time.Minute })
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
	io.WriteString(c, "Subject: half\r\n\r\nThe first half")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	// Shutdown has begun once the listener refuses new connections.
	for deadline := time.Now().Add(5 * time.Second); ; {
		nc, err := net.Dial("tcp", c.RemoteAddr().String())
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 5 s after Shutdown")
		}
		time.Sleep(5 * time.Millisecond)
	}
	io.WriteString(c, " and the second.\r\n.\r\n")
	if !scanner.Scan() || !strings.HasPrefix(scanner.Text(), "250 ") {
		t.Fatalf("end of DATA during shutdown got %q, want 250", scanner.Text())
	}
	if !scanner.Scan() || !strings.HasPrefix(scanner.Text(), "421 4.3.2 ") {
		t.Fatalf("after DATA during shutdown got %q, want 421 4.3.2", scanner.Text())
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if len(be.anonmsgs) != 1 || !strings.Contains(string(be.anonmsgs[0].Data), "the second") {
		t.Errorf("backend has %d messages, want the one finished during shutdown", len(be.anonmsgs))
	}
}
