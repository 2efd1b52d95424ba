package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/threadstest"
)

// TestServeRefusesOldSchema: serve checks the schema before anything
// listens, and names the fix.
func TestServeRefusesOldSchema(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.DatabaseURL = threadstest.URL(t) // empty: never migrated
	cfg.Domain, cfg.SecretFile = "forum.test", secret
	_, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, threads.ErrSchemaOld) || !strings.Contains(err.Error(), "postern migrate") {
		t.Fatalf("newApp on an unmigrated database: %v", err)
	}
}

// TestBadConfigFailsPrecisely: each bad setting fails at start with a
// message naming the flag or variable.
func TestBadConfigFailsPrecisely(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve"}, nil, "POSTERN_DATABASE_URL"},
		{[]string{"serve", "--database-url", "postgres://x/y"}, nil, "POSTERN_DOMAIN"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test"}, nil, "POSTERN_SECRET_FILE"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "s", "--relay-url", "http://relay"}, nil, "smtp://"},
		{[]string{"serve"}, map[string]string{"POSTERN_WORKERS": "many"}, "POSTERN_WORKERS"},
		{[]string{"serve"}, map[string]string{"POSTERN_READ_TIMEOUT": "5"}, "POSTERN_READ_TIMEOUT"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "s", "--auth-policy", "strict"}, nil, "--auth-policy"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "/nonexistent/secret"}, nil, "secret file"},
	}
	for _, tc := range tests {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		var out, errb bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want an error naming %s", tc.args, tc.env, err, tc.want)
		}
		for k := range tc.env {
			os.Unsetenv(k)
		}
	}
}

// TestServeHelpListsEverySetting: `postern serve --help` lists each flag
// with its environment variable.
func TestServeHelpListsEverySetting(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, &out, &errb)
	if err == nil {
		t.Fatal("--help returned no error (flag.ErrHelp expected)")
	}
	cfg := defaultConfig()
	for _, s := range cfg.settings() {
		if !strings.Contains(errb.String(), "-"+s.name) || !strings.Contains(errb.String(), s.env) {
			t.Errorf("--help lacks %s / %s", s.name, s.env)
		}
	}
	for _, env := range []string{"POSTERN_DATABASE_URL", "POSTERN_DOMAIN", "POSTERN_SMTP_ADDR", "POSTERN_LMTP_ADDR", "POSTERN_HTTP_ADDR", "POSTERN_RELAY_URL", "POSTERN_SECRET_FILE"} {
		if !strings.Contains(errb.String(), env) {
			t.Errorf("--help lacks %s", env)
		}
	}
}
