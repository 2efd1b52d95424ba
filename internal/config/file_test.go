package config

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestPrintTOMLDefaultsRoundTrip: the printed defaults are a valid
// configuration file, and loading it into a zero Config gives Default.
func TestPrintTOMLDefaultsRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := PrintTOMLDefaults(&b); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.loadTOML("defaults.toml", b.String(), nil); err != nil {
		t.Fatalf("the printed defaults do not load: %v\n%s", err, b.String())
	}
	d := Default()
	want := d.Settings()
	for i, s := range c.Settings() {
		if s.Text() != want[i].Text() {
			t.Errorf("%s: %q after loading the printed defaults, default %q", s.TOML, s.Text(), want[i].Text())
		}
	}
	for _, s := range want {
		if !strings.Contains(b.String(), s.TOML+" = ") || !strings.Contains(b.String(), s.Env) {
			t.Errorf("the printed defaults lack %s (%s)", s.TOML, s.Env)
		}
	}
}

// TestLoadTOML: keys set their settings in the flags' syntax; only
// limits what is set; a key that is no setting, a table, a wrong type, a
// bad value or a syntax error is an error naming the file and line.
func TestLoadTOML(t *testing.T) {
	c := Default()
	text := "# a comment\ndomain = \"forum.example.org\"\nmax_message_bytes = \"10MiB\"\nclose_on_select = true\n" +
		"max_recipients = 20\nblocked_words = [\"spam\", \"scam\"]\nrate_limits = \"off\"\n"
	if err := c.loadTOML("f.toml", text, nil); err != nil {
		t.Fatal(err)
	}
	if c.Forum.Domain != "forum.example.org" || c.Intake.MaxMessage != 10<<20 || !c.Forum.CloseOnSelect ||
		c.SMTP.MaxRecipients != 20 || strings.Join(c.Forum.BlockedWords, ",") != "spam,scam" || bool(c.Forum.Rates.Limits) {
		t.Errorf("loaded %+v %+v %+v", c.Forum, c.Intake, c.SMTP)
	}
	only := Default()
	if err := only.loadTOML("f.toml", text, []string{"domain"}); err != nil || only.SMTP.MaxRecipients != Default().SMTP.MaxRecipients || only.Forum.Domain != "forum.example.org" {
		t.Errorf("only domain: %v, max recipients %d", err, only.SMTP.MaxRecipients)
	}
	for _, tc := range []struct{ text, want string }{
		{"domain = \"x\"\n\nsmtp_adress = \"127.0.0.1:25\"\n", `f.toml:3: unknown key "smtp_adress"`},
		{"[smtp]\naddr = \"x\"\n", `f.toml:1: unknown key "smtp"`},
		{"max_recipients = \"many\"\n", "f.toml:1: max_recipients = many: not an integer"},
		{"max_recipients = 1.5\n", "f.toml:1: max_recipients = 1.5: not a string, integer, boolean or list of strings"},
		{"database_url = [\"postgres://u:pw@h/db\", 1]\n", "f.toml:1: database_url: a list holds strings only"},
		{"held_ttl = 5\n", "f.toml:1: held_ttl = 5: not a duration"},
		{"domain = \"x\"\nforum_name = \n", "f.toml:2:"},
	} {
		c := Default()
		err := c.loadTOML("f.toml", tc.text, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

// TestFilePath: --config FILE, --config=FILE, else POSTERN_CONFIG.
func TestFilePath(t *testing.T) {
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) { return v, k == FileEnv && v != "" }
	}
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--config", "a.toml"}, "b.toml", "a.toml"},
		{[]string{"-config=a.toml"}, "", "a.toml"},
		{[]string{"--domain", "x"}, "b.toml", "b.toml"},
		{[]string{"--", "--config", "a.toml"}, "", ""},
	} {
		if got := FilePath(tc.args, env(tc.env)); got != tc.want {
			t.Errorf("FilePath(%v, %q) = %q, want %q", tc.args, tc.env, got, tc.want)
		}
	}
}

// TestExampleFileIsCurrent: docs/postern.example.toml, the reference
// README links, is what `postern config --print-defaults` prints.
func TestExampleFileIsCurrent(t *testing.T) {
	b, err := os.ReadFile("../../docs/postern.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := PrintTOMLDefaults(&want); err != nil {
		t.Fatal(err)
	}
	if string(b) != want.String() {
		t.Error("docs/postern.example.toml is out of date: run `go run ./cmd/postern config --print-defaults > docs/postern.example.toml`")
	}
}
