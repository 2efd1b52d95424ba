package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/systemtest"
	"github.com/postern/postern/mailin"
	"github.com/postern/postern/threads"
)

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
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "s"}, map[string]string{"POSTERN_AUTH_POLICY": "none"}, "retired"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "s", "--trusted-networks", "10.0.0.0/8, 10.0.0.0/33"}, nil, "POSTERN_TRUSTED_NETWORKS"},
		{[]string{"serve", "--database-url", "postgres://x/y", "--domain", "f.test", "--secret-file", "s"}, map[string]string{"POSTERN_TRUSTED_NETWORKS": "localhost"}, "POSTERN_TRUSTED_NETWORKS"},
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

// TestTrustedNetworksDefaults: serve trusts no network; dev trusts
// loopback unless the setting is given.
func TestTrustedNetworksDefaults(t *testing.T) {
	if n := defaultConfig().Auth.TrustedNetworks; len(n) != 0 {
		t.Errorf("serve trusts %q by default, want nothing", n)
	}
	for _, tc := range []struct {
		args []string
		env  string
		want bool
	}{{nil, "", true}, {[]string{"--trusted-networks", ""}, "", false}, {nil, "10.0.0.0/8", false}} {
		if tc.env != "" {
			t.Setenv("POSTERN_TRUSTED_NETWORKS", tc.env)
		}
		_, fs, err := parseConfig("dev", tc.args, io.Discard, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := defaultConfig()
		cfg.Auth.TrustedNetworks = mustNetworks(t, tc.env)
		devDefaults(&cfg, fs, "")
		if got := cfg.Auth.TrustedNetworks.String() == "127.0.0.0/8,::1/128"; got != tc.want {
			t.Errorf("dev %v env %q: trusts loopback %v (%q), want %v", tc.args, tc.env, got, cfg.Auth.TrustedNetworks, tc.want)
		}
	}
}

// TestAuthVerifyDefaults: serve verifies DKIM/SPF itself by default
// (Postern as the MX, no front MTA), so a member's signed mail is theirs
// without a confirmation each time; dev, which trusts loopback, does not
// unless asked; an explicit false is kept.
func TestAuthVerifyDefaults(t *testing.T) {
	t.Parallel()
	if !defaultConfig().Auth.Verify {
		t.Error("serve does not verify DKIM/SPF by default")
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		want bool
	}{{"serve", nil, true}, {"serve", []string{"--auth-verify-dkim=false"}, false},
		{"dev", nil, false}, {"dev", []string{"--auth-verify-dkim"}, true}} {
		cfg, fs, err := parseConfig(tc.cmd, tc.args, io.Discard, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.cmd == "dev" {
			devDefaults(&cfg, fs, "")
		}
		if cfg.Auth.Verify != tc.want {
			t.Errorf("%s %v: verify %v, want %v", tc.cmd, tc.args, cfg.Auth.Verify, tc.want)
		}
	}
}

// TestServeHelpListsEverySetting: `postern serve --help` lists each flag
// with its environment variable.
func TestServeHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, &out, &errb)
	if err == nil {
		t.Fatal("--help returned no error (flag.ErrHelp expected)")
	}
	cfg := defaultConfig()
	for _, s := range cfg.Settings() {
		if !strings.Contains(errb.String(), "-"+s.Flag) || !strings.Contains(errb.String(), s.Env) {
			t.Errorf("--help lacks %s / %s", s.Flag, s.Env)
		}
	}
	for _, env := range []string{"POSTERN_DATABASE_URL", "POSTERN_DOMAIN", "POSTERN_SMTP_ADDR", "POSTERN_LMTP_ADDR", "POSTERN_HTTP_ADDR", "POSTERN_RELAY_URL", "POSTERN_SECRET_FILE"} {
		if !strings.Contains(errb.String(), env) {
			t.Errorf("--help lacks %s", env)
		}
	}
}

// TestReadCommands: the read and admin commands work against a live
// database and never print an address.
func TestReadCommands(t *testing.T) {
	t.Parallel()
	relay := systemtest.StartSink(t)
	a, _ := systemtest.Start(t, relay, nil)
	ctx := context.Background()
	systemtest.Member(t, a, relay, "alice@example.org", "Alice", "Cannot sleep")
	systemtest.WaitProcessed(t, a)
	db := []string{"--database-url", a.Config().Store.DatabaseURL, "--domain", "forum.test"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"threads", "--json"}, `"title": "Cannot sleep"`},
		{[]string{"thread", "--json", "1"}, `"author": "Alice"`},
		{[]string{"thread", "1"}, "Cannot sleep"},
		{[]string{"inbound", "list", "--json"}, `"state": "processed"`},
		{[]string{"inbound", "list", "--failed"}, "ID"},
		{[]string{"category", "add", "sleep", "Sleep"}, "ask+sleep@forum.test"},
		{[]string{"category", "list"}, "sleep"},
		{[]string{"moderate", "list", "--json"}, "[]"},
		{[]string{"question", "close", "1"}, "question 1 closed"},
		{[]string{"question", "reopen", "1"}, "question 1 reopened"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{tc.args[0]}, db...)
		args = append(args, tc.args[1:]...)
		if tc.args[0] == "inbound" || tc.args[0] == "category" || tc.args[0] == "moderate" || tc.args[0] == "question" {
			args = append([]string{tc.args[0], tc.args[1]}, append(db, tc.args[2:]...)...)
		}
		if err := run(ctx, args, &out, &errb); err != nil {
			t.Errorf("%v: %v %s", tc.args, err, errb.String())
			continue
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out.String())
		}
		if strings.Contains(out.String(), "@example.org") {
			t.Errorf("%v printed an address", tc.args)
		}
	}
}

// TestHelpNamesFlagTypes: `postern dev --help` shows each setting as
// "-name TYPE" (string, int, duration…), as Go's flag package does unless
// the usage text holds a `quoted` word, which it would print in place of
// the type ("-data-dir postern dev").
func TestHelpNamesFlagTypes(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"dev", "--help"}, &out, &errb); err == nil {
		t.Fatal("dev --help: no error, want flag.ErrHelp")
	}
	cfg := defaultConfig()
	for _, s := range cfg.Settings() {
		line := ""
		for _, l := range strings.Split(errb.String(), "\n") {
			if strings.HasPrefix(l, "  -"+s.Flag+" ") || l == "  -"+s.Flag {
				line = l
			}
		}
		if line == "" {
			t.Errorf("dev --help lacks -%s", s.Flag)
			continue
		}
		typ := strings.TrimPrefix(line, "  -"+s.Flag)
		switch strings.TrimSpace(typ) {
		case "", "string", "int", "duration", "bytes", "list", "networks", "on|off", "level", "policy":
		default:
			t.Errorf("dev --help shows %q: the type of -%s reads %q", line, s.Flag, strings.TrimSpace(typ))
		}
	}
}

// mustNetworks parses a POSTERN_TRUSTED_NETWORKS value.
func mustNetworks(t *testing.T, s string) config.Networks {
	t.Helper()
	var n config.Networks
	if err := n.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHelpHidesDatabaseURL: --help never shows the database URL or the
// relay URL (they may hold a password), only that they are set.
func TestHelpHidesDatabaseURL(t *testing.T) {
	t.Setenv("POSTERN_DATABASE_URL", "postgres://postern:hunter2@db.example/postern")
	t.Setenv("POSTERN_RELAY_URL", "smtp://user:hunter3@relay.example:587")
	for _, cmd := range [][]string{{"serve", "--help"}, {"threads", "--help"}, {"dev", "--help"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), cmd, &out, &errb); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%v: %v", cmd, err)
		}
		if strings.Contains(errb.String(), "hunter") || !strings.Contains(errb.String(), "(set, not shown)") {
			t.Errorf("%v shows a secret, or not that it is set:\n%s", cmd, errb.String())
		}
	}
}

// TestNewLimitsReachTheServer: the limits that had no setting before
// (write, commit and DNS timeouts, header size, Received count, line
// length) are read from their variables and reach the packages' views.
func TestNewLimitsReachTheServer(t *testing.T) {
	for k, v := range map[string]string{"POSTERN_WRITE_TIMEOUT": "2m", "POSTERN_COMMIT_TIMEOUT": "45s", "POSTERN_MAX_HEADER_BYTES": "2MiB",
		"POSTERN_MAX_RECEIVED": "30", "POSTERN_MAX_LINE_LENGTH": "8192", "POSTERN_AUTH_DNS_TIMEOUT": "3s"} {
		t.Setenv(k, v)
	}
	cfg, _, err := parseConfig("serve", nil, io.Discard, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := mailin.ConfigFrom(cfg.Config)
	if m.WriteTimeout != 2*time.Minute || m.CommitTimeout != 45*time.Second || m.MaxHeaderBytes != 2<<20 || m.MaxReceived != 30 || m.MaxLineLength != 8192 {
		t.Errorf("mailin view: %+v", m)
	}
	if a := threads.ConfigFrom(cfg.Config, nil).Auth; a.Timeout != 3*time.Second {
		t.Errorf("threads view: %+v", a)
	}
}

// TestDevHelpShowsDevDefaults: `postern dev --help` shows the defaults dev
// runs on (devDefaults), not serve's, and every command shows the log
// level's default (info, the zero slog.Level).
func TestDevHelpShowsDevDefaults(t *testing.T) {
	t.Parallel()
	help := func(cmd string) string {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{cmd, "--help"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		return errb.String()
	}
	// flagHelp is the help of flag name: its line and its usage line.
	flagHelp := func(h, name string) string {
		i := strings.Index(h, "  -"+name+" ")
		if i < 0 {
			i = strings.Index(h, "  -"+name+"\n")
		}
		if i < 0 {
			t.Fatalf("help lacks -%s:\n%s", name, h)
		}
		rest := h[i+1:]
		if j := strings.Index(rest, "\n  -"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	dev, serve := help("dev"), help("serve")
	for _, c := range []struct{ name, dev, serve string }{
		{"auth-verify-dkim", "(default false)", "(default true)"},
		{"base-url", `(default "http://localhost:8080")`, `(default "http://localhost:8080")`},
		{"maildir", `(default "` + filepath.Join("postern-dev", "maildir") + `")`, `(default "postern-mail")`},
		{"trusted-networks", "(default 127.0.0.0/8,::1/128)", ""},
		{"domain", `(default "forum.localhost")`, ""},
		{"log-level", "(default info)", "(default info)"},
	} {
		if got := flagHelp(dev, c.name); !strings.Contains(got, c.dev) {
			t.Errorf("dev --help -%s lacks %s:\n%s", c.name, c.dev, got)
		}
		if got := flagHelp(serve, c.name); !strings.Contains(got, c.serve) || (c.serve == "" && strings.Contains(got, "(default")) {
			t.Errorf("serve --help -%s: want %q:\n%s", c.name, c.serve, got)
		}
	}
	// The base URL dev shows follows its HTTP address, as dev does.
	var out, errb bytes.Buffer
	_ = run(context.Background(), []string{"dev", "--http-addr", "127.0.0.1:9099", "--help"}, &out, &errb)
	if got := flagHelp(errb.String(), "base-url"); !strings.Contains(got, `"http://localhost:9099"`) {
		t.Errorf("dev --http-addr 127.0.0.1:9099 --help -base-url:\n%s", got)
	}
}

// TestConfigFilePrecedence: a flag wins over the environment, which wins
// over the configuration file (--config or POSTERN_CONFIG), which wins
// over the default; `postern config --check` prints the effective values
// with secrets masked, and fails on a key that is no setting, naming the
// file's line.
func TestConfigFilePrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "postern.toml")
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "database_url = \"postgres://u:hunter2@db.example/postern\"\ndomain = \"file.example\"\nforum_name = \"From the file\"\n" +
		"base_url = \"https://file.example\"\nsecret_file = \"" + secret + "\"\nmax_recipients = 7\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POSTERN_FORUM_NAME", "From the environment")
	t.Setenv("POSTERN_BASE_URL", "https://env.example")
	cfg, _, err := parseConfig("serve", []string{"--config", file, "--base-url", "https://flag.example"}, io.Discard, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Forum.Domain != "file.example" || cfg.Forum.ForumName != "From the environment" || cfg.Forum.BaseURL != "https://flag.example" ||
		cfg.SMTP.MaxRecipients != 7 || cfg.SMTP.MaxLineLength != config.Default().SMTP.MaxLineLength {
		t.Errorf("domain %q, name %q, base %q, recipients %d", cfg.Forum.Domain, cfg.Forum.ForumName, cfg.Forum.BaseURL, cfg.SMTP.MaxRecipients)
	}
	t.Setenv(config.FileEnv, file)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config", "--check"}, &out, io.Discard); err != nil {
		t.Fatalf("config --check: %v", err)
	}
	for _, want := range []string{`domain = "file.example"`, `max_recipients = "7"`, `database_url = "(set, not shown)"`, "valid"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config --check lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("config --check prints the database password")
	}
	if err := os.WriteFile(file, []byte(text+"\nmax_recipeints = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"config", "--check"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "postern.toml:8: unknown key \"max_recipeints\"") {
		t.Errorf("a misspelt key: %v", err)
	}
}
