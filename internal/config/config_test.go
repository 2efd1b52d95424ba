package config

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSettingsTags: every setting has a flag, a POSTERN_* variable, the
// TOML key derived from it and a doc line, and none is named twice.
func TestSettingsTags(t *testing.T) {
	c := Default()
	seen := map[string]bool{}
	for _, s := range c.Settings() {
		if s.Flag == "" || s.Doc == "" || !strings.HasPrefix(s.Env, "POSTERN_") {
			t.Errorf("setting %+v lacks a flag, doc or POSTERN_ variable", s)
		}
		if want := strings.ToLower(strings.TrimPrefix(s.Env, "POSTERN_")); s.TOML != want {
			t.Errorf("%s: toml key %q, want %q", s.Env, s.TOML, want)
		}
		if strings.ContainsAny(s.Doc, "`\"") {
			t.Errorf("%s: doc holds a quote or backquote (flag would print it as the type)", s.Env)
		}
		for _, k := range []string{s.Flag, s.Env} {
			if seen[k] {
				t.Errorf("%s named twice", k)
			}
			seen[k] = true
		}
	}
}

// TestDefaults: the defaults parse (Default would panic otherwise), pass
// Validate and hold the documented values.
func TestDefaults(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.Intake.MaxMessage != 25<<20 || c.Intake.MaxHeader != 1<<20 || c.SMTP.MaxLineLength != 4096 ||
		c.Intake.MaxReceived != 50 || c.SMTP.WriteTimeout != time.Minute || c.Intake.CommitTimeout != 30*time.Second {
		t.Errorf("limits: %+v %+v", c.Intake, c.SMTP)
	}
	if !c.Auth.Verify || len(c.Auth.TrustedNetworks) != 0 || !bool(c.Forum.Rates.Limits) || c.Auth.Policy != "evidence" {
		t.Errorf("auth or rates: %+v %+v", c.Auth, c.Forum.Rates)
	}
}

// TestPrecedence: a flag beats the variable, which beats the default.
func TestPrecedence(t *testing.T) {
	c := Default()
	env := map[string]string{"POSTERN_MAX_RECIPIENTS": "7", "POSTERN_READ_TIMEOUT": "2m", "POSTERN_RATE_LIMITS": "off"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Register(fs, nil)
	if err := fs.Parse([]string{"--max-recipients", "9", "--max-message-bytes", "2MiB"}); err != nil {
		t.Fatal(err)
	}
	if c.SMTP.MaxRecipients != 9 || c.SMTP.ReadTimeout != 2*time.Minute || c.Forum.Rates.Limits || c.Intake.MaxMessage != 2<<20 || c.SMTP.MaxConnections != 200 {
		t.Errorf("got %+v %+v", c.SMTP, c.Intake)
	}
}

// TestErrorsNameSettings: bad values fail naming the flag and variable,
// and never echo a secret.
func TestErrorsNameSettings(t *testing.T) {
	c := Default()
	c.SMTP.WriteTimeout = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--write-timeout (POSTERN_WRITE_TIMEOUT)") {
		t.Errorf("validate: %v", err)
	}
	c = Default()
	c.Notify.RelayURL = "http://user:hunter2@relay"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "POSTERN_RELAY_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("relay: %v", err)
	}
	if err := c.Require("database-url"); err == nil || !strings.Contains(err.Error(), "--database-url (POSTERN_DATABASE_URL) is required") {
		t.Errorf("require: %v", err)
	}
	for env, val := range map[string]string{"POSTERN_WORKERS": "many", "POSTERN_TRUSTED_NETWORKS": "10.0.0.0/33",
		"POSTERN_AUTH_POLICY": "none", "POSTERN_LOG_LEVEL": "loud", "POSTERN_MAX_HEADER_BYTES": "big", "POSTERN_RATE_LIMITS": "maybe"} {
		c := Default()
		err := c.LoadEnv(func(k string) (string, bool) { return val, k == env }, nil)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: %v", env, val, err)
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	c = Default()
	c.Register(fs, nil)
	if err := fs.Parse([]string{"--trusted-networks", "localhost"}); err == nil || !strings.Contains(err.Error(), "POSTERN_TRUSTED_NETWORKS") {
		t.Errorf("flag: %v", err)
	}
}

// TestPostmasterAddressValidated: the postmaster address must be a plain
// address outside the forum domain (mail to it is forwarded: a loop).
func TestPostmasterAddressValidated(t *testing.T) {
	for addr, ok := range map[string]bool{"": true, "ops@operator.test": true, "postmaster@forum.test": false,
		"ops@FORUM.test": false, "ops": false, "Ops <ops@operator.test>": false, "ops@": false} {
		c := Default()
		c.Forum.Domain, c.Forum.PostmasterAddress = "forum.test", addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("postmaster address %q: %v", addr, err)
		}
	}
}

// TestHelpHidesSecrets: help shows defaults but not a secret's value.
func TestHelpHidesSecrets(t *testing.T) {
	c := Default()
	env := map[string]string{"POSTERN_DATABASE_URL": "postgres://u:hunter2@db/x", "POSTERN_RELAY_URL": "smtp://u:hunter3@relay:25"}
	if err := c.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Register(fs, nil)
	var b bytes.Buffer
	PrintDefaults(&b, fs)
	if strings.Contains(b.String(), "hunter") || !strings.Contains(b.String(), "(set, not shown)") {
		t.Errorf("help shows a secret or not that it is set:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "-max-message-bytes bytes\n") || !strings.Contains(b.String(), "(default 25MiB)") {
		t.Errorf("help lacks types or defaults:\n%s", b.String())
	}
}

// TestEnvironRoundTrip: Environ lists what differs from the defaults, in
// a form LoadEnv reads back to the same configuration.
func TestEnvironRoundTrip(t *testing.T) {
	c := Default()
	c.Store.DatabaseURL, c.SMTP.LMTPAddr, c.Forum.Rates.Limits = "postgres://x/y", "", false
	c.Auth.TrustedNetworks = Networks{}
	if err := c.Auth.TrustedNetworks.UnmarshalText([]byte("127.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	c.Log.Level, c.Intake.MaxMessage = 4, 3<<20+1
	env := c.Environ()
	if len(env) != 6 {
		t.Errorf("environ: %q", env)
	}
	got := Default()
	if err := got.LoadEnv(func(k string) (string, bool) {
		for _, kv := range env {
			if n, v, _ := strings.Cut(kv, "="); n == k {
				return v, true
			}
		}
		return "", false
	}, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Environ(), env) {
		t.Errorf("round trip: %q, want %q", got.Environ(), env)
	}
}

// TestReadmeListsEverySetting: README's configuration reference names
// every setting's variable, and no variable that is not a setting.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no ## Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	env := regexp.MustCompile("`(POSTERN_[A-Z0-9_]+)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `POSTERN_") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range env.FindAllStringSubmatch(first, -1) {
			listed[m[1]] = true
		}
	}
	c := Default()
	for _, s := range c.Settings() {
		if !listed[s.Env] {
			t.Errorf("README's configuration table lacks %s", s.Env)
		}
		delete(listed, s.Env)
	}
	for v := range listed {
		t.Errorf("README's configuration table lists %s, which is no setting", v)
	}
}

// TestNetworks: trusted networks are comma-separated CIDRs, a bare
// address being its own prefix, stored masked; anything else is refused.
func TestNetworks(t *testing.T) {
	var got Networks
	if err := got.UnmarshalText([]byte(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,, 127.0.0.1/8")); err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.0/8,192.0.2.7/32,2001:db8::/32,127.0.0.0/8"; got.String() != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0.0/8;", "::1/129"} {
		var n Networks
		if err := n.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var n Networks
	if err := n.UnmarshalText(nil); err != nil || len(n) != 0 {
		t.Errorf("empty list: %v %v", n, err)
	}
}

// TestIMAPValidated: POSTERN_IMAP_URL is parsed by Validate, its errors
// never show the password, and IMAP alone (no SMTP or LMTP listener) is
// a valid way to receive mail.
func TestIMAPValidated(t *testing.T) {
	c := Default()
	c.SMTP.Addr, c.SMTP.LMTPAddr = "", ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "POSTERN_IMAP_URL") {
		t.Errorf("no way to receive mail: %v", err)
	}
	c.IMAP.URLs = "imaps://forum%40example.org:hunter2@imap.example.org/INBOX"
	if err := c.Validate(); err != nil {
		t.Errorf("IMAP only: %v", err)
	}
	c.IMAP.URLs += " imap://forum:hunter2@imap.example.org/INBOX?poll=fast"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--imap (POSTERN_IMAP_URL) mailbox URL 2: poll") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad poll: %v", err)
	}
}
