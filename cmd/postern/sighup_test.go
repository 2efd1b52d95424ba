package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// TestServeReloadsTLSOnSIGHUP: `postern serve` given a new certificate
// file and a SIGHUP serves the new certificate to the next connection,
// keeps running, and a SIGHUP with a broken key file keeps the old one
// (and says so).
func TestServeReloadsTLSOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	oldPool := smtptest.WriteCert(t, certFile, keyFile)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--database-url", threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL),
		"--domain", "tls.example", "--base-url", "https://tls.example", "--secret-file", secret,
		"--smtp-addr", "", "--lmtp-addr", "", "--smtps-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--metrics-addr", "", "--maildir", filepath.Join(dir, "maildir"),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}()
	addr := waitLog(t, &logs, regexp.MustCompile(`what=smtps addr=(\S+)`))
	if err := handshake(addr, oldPool); err != nil {
		t.Fatalf("the first certificate: %v", err)
	}

	newPool := smtptest.WriteCert(t, certFile, keyFile)
	hup(t)
	waitLog(t, &logs, regexp.MustCompile(`(TLS certificate reloaded)`))
	if err := handshake(addr, newPool); err != nil {
		t.Errorf("after SIGHUP the new certificate is not served: %v", err)
	}
	if err := handshake(addr, oldPool); err == nil {
		t.Error("after SIGHUP the old certificate is still served")
	}

	if err := os.WriteFile(keyFile, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t)
	waitLog(t, &logs, regexp.MustCompile(`(TLS certificate not reloaded)`))
	if err := handshake(addr, newPool); err != nil {
		t.Errorf("after a failed reload the certificate in use is gone: %v", err)
	}
}

// hup sends SIGHUP to this process (serve has taken the signal).
func hup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits up to 30 s for re to match logs and returns its first
// group.
func waitLog(t *testing.T, logs *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no log line matching %s:\n%s", re, logs.String())
	return ""
}

// handshake completes a TLS handshake with addr trusting only pool.
func handshake(addr string, pool *x509.CertPool) error {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		return err
	}
	return c.Close()
}
