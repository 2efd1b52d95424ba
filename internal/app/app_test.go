package app

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// TestServeRefusesOldSchema: serve checks the schema before anything
// listens, and names the fix.
func TestServeRefusesOldSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Store.DatabaseURL = threadstest.URL(t) // empty: never migrated
	cfg.Forum.Domain, cfg.Store.SecretFile = "forum.test", secret
	_, err := New(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, threads.ErrSchemaOld) || !strings.Contains(err.Error(), "postern migrate") {
		t.Fatalf("New on an unmigrated database: %v", err)
	}
}

// TestTrustedIDExposure: serve warns when it trusts the front MTA's
// Authentication-Results while its own SMTP port listens beyond
// loopback, where a client could bypass the MTA and write them itself.
func TestTrustedIDExposure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		trusted, smtp string
		warn          bool
	}{
		{"mx.forum.test", ":25", true}, {"mx.forum.test", "0.0.0.0:2525", true}, {"mx.forum.test", "192.0.2.1:25", true},
		{"mx.forum.test", "127.0.0.1:2525", false}, {"mx.forum.test", "[::1]:2525", false}, {"mx.forum.test", "localhost:2525", false},
		{"mx.forum.test", "", false}, {"", ":25", false},
	} {
		cfg := config.Default()
		cfg.Auth.TrustedID, cfg.SMTP.Addr = tc.trusted, tc.smtp
		if got := TrustedIDExposure(cfg) != ""; got != tc.warn {
			t.Errorf("trusted id %q, SMTP %q: warns %v, want %v", tc.trusted, tc.smtp, got, tc.warn)
		}
	}
}

// TestCloseRightAfterStart: Close returns however soon after Start it
// comes, even before the servers' Serve goroutines have begun (which
// then never closed their listeners, and Close waited for them for
// ever).
func TestCloseRightAfterStart(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Store.DatabaseURL = threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	cfg.Forum.Domain, cfg.Store.SecretFile = "forum.test", secret
	cfg.SMTP.Addr, cfg.SMTP.LMTPAddr, cfg.Web.HTTPAddr, cfg.Web.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Notify.Maildir = filepath.Join(dir, "maildir")
	for i := range 20 {
		a, err := New(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.Close(ctx)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("start %d: Close did not return", i+1)
		}
	}
}

// TestRelayCAFile: with POSTERN_RELAY_CA_FILE the relay's certificate is
// checked against that file's CAs: a relay whose certificate chains to
// them takes the message over STARTTLS; without the file, the system's
// roots refuse the same relay; a file with no certificate stops the
// start.
func TestRelayCAFile(t *testing.T) {
	t.Parallel()
	cert, _ := smtptest.Cert(t)
	sink := smtptest.Start(t, smtptest.Options{Cert: cert})
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Forum.Domain = "forum.test"
	cfg.Notify.RelayURL = sink.URL() + "?starttls=required"
	msg := []byte("From: a@forum.test\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhi\r\n")
	send := func(caFile string) error {
		cfg.Notify.RelayCAFile = caFile
		s, err := newSender(cfg)
		if err != nil {
			return err
		}
		return s.Send(context.Background(), "bounce@forum.test", "b@example.org", msg)
	}
	if err := send(ca); err != nil {
		t.Fatalf("send with the relay's CA pinned: %v", err)
	}
	if err := send(""); err == nil {
		t.Error("the system's roots accepted the relay's private certificate")
	}
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newSender(func() config.Config { c := cfg; c.Notify.RelayCAFile = ca; return c }()); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("the relay got %d messages, want 1", n)
	}
}

// TestPlainSMTPExposure: serve warns when SMTP listens beyond loopback
// without a TLS certificate, never on loopback.
func TestPlainSMTPExposure(t *testing.T) {
	for addr, warn := range map[string]bool{"0.0.0.0:25": true, ":25": true, "192.0.2.7:25": true, "[::]:25": true,
		"127.0.0.1:2525": false, "localhost:25": false, "[::1]:25": false, "": false} {
		cfg := config.Default()
		cfg.SMTP.Addr = addr
		if got := plainSMTPExposure(cfg) != ""; got != warn {
			t.Errorf("SMTP on %q: warned %v, want %v", addr, got, warn)
		}
	}
}
