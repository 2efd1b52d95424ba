package smtp_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestServer_ServeAfterShutdown covers the Postern patch: Serve called
// after Shutdown (a stop racing the start) closes its listener and
// returns ErrServerClosed instead of accepting forever.
func TestServer_ServeAfterShutdown(t *testing.T) {
	s := smtp.NewServer(&backend{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	select {
	case err := <-done:
		if !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("Serve after Shutdown: %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		l.Close()
		t.Fatal("Serve after Shutdown still accepting")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener of a Serve after Shutdown is still open")
	}
}
