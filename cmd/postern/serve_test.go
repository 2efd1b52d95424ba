package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeWarnsPlainBaseURL: `postern serve` with a base URL that is not
// https logs that RFC 8058 one-click unsubscribe needs https; with https
// it does not.
func TestServeWarnsPlainBaseURL(t *testing.T) {
	t.Parallel()
	dbURL := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base string
		warn bool
	}{
		{"http://forum.example.org", true},
		{"https://forum.example.org", false},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var logs syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--database-url", dbURL, "--domain", "forum.test", "--secret-file", secret,
				"--base-url", tc.base, "--smtp-addr", "127.0.0.1:0", "--lmtp-addr", "", "--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
				"--maildir", t.TempDir()}, io.Discard, &logs)
		}()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), "what=http") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
		warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "RFC 8058 one-click unsubscribe needs https")
		if warned != tc.warn {
			t.Errorf("base URL %s: warned %v, want %v:\n%s", tc.base, warned, tc.warn, logs.String())
		}
	}
}

// TestDevBaseURLWarning: in dev, links to localhost or a loopback address
// are expected; any other plain-http base URL is warned about.
func TestDevBaseURLWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base string
		dev  bool
		warn bool
	}{
		{"http://localhost:8080", true, false},
		{"http://127.0.0.2:8080", true, false},
		{"http://forum.localhost:8080", true, false},
		{"http://forum.example.org", true, true},
		{"http://localhost:8080", false, true},
		{"https://forum.example.org", false, false},
	} {
		var b bytes.Buffer
		warnBaseURL(slog.New(slog.NewTextHandler(&b, nil)), tc.base, tc.dev)
		if got := strings.Contains(b.String(), "needs https"); got != tc.warn {
			t.Errorf("warnBaseURL(%q, dev=%v): warned %v, want %v", tc.base, tc.dev, got, tc.warn)
		}
	}
}

// TestServeFromConfigFileAlone: `postern serve --config FILE` with no
// POSTERN_* variable and no other flag serves from the file alone (every
// listener of the file bound), and stops cleanly.
func TestServeFromConfigFileAlone(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "POSTERN_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "postern.toml")
	text := strings.Join([]string{
		`database_url = "` + threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL) + `"`,
		`domain = "file.example"`, `base_url = "https://file.example"`, `secret_file = "` + secret + `"`,
		`smtp_addr = "127.0.0.1:0"`, `lmtp_addr = ""`, `http_addr = "127.0.0.1:0"`, `metrics_addr = "127.0.0.1:0"`,
		`maildir = "` + filepath.Join(dir, "maildir") + `"`, `forum_name = "Configured by file"`,
	}, "\n") + "\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", file}, io.Discard, &logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "what=metrics") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve --config: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"what=smtp", "what=http", "what=metrics"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("serve from the file alone did not log %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "what=lmtp") {
		t.Error("the file's empty lmtp_addr was not applied")
	}
}
