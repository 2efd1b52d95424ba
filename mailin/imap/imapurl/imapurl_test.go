package imapurl

import (
	"strings"
	"testing"
	"time"
)

const secret = "s3cr%23t" // percent-encoded "s3cr#t"

func TestParse(t *testing.T) {
	tests := []struct {
		url  string
		want Mailbox
	}{
		{"imaps://forum%40example.org:" + secret + "@imap.example.org/INBOX",
			Mailbox{User: "forum@example.org", Password: "s3cr#t", Host: "imap.example.org", Port: "993", Mailbox: "INBOX", Security: TLS, Poll: DefaultPoll}},
		{"imaps://u:p@imap.example.org:1993",
			Mailbox{User: "u", Password: "p", Host: "imap.example.org", Port: "1993", Mailbox: "INBOX", Security: TLS, Poll: DefaultPoll}},
		{"imap://u:p@imap.example.org/Forum/In?poll=5s&done=Forum/Done",
			Mailbox{User: "u", Password: "p", Host: "imap.example.org", Port: "143", Mailbox: "Forum/In", Security: StartTLSRequired, Poll: 5 * time.Second, Done: "Forum/Done"}},
		{"imap://u:p@127.0.0.1:1143/",
			Mailbox{User: "u", Password: "p", Host: "127.0.0.1", Port: "1143", Mailbox: "INBOX", Security: StartTLSOptional, Poll: DefaultPoll}},
		{"imap://u:p@localhost?starttls=required",
			Mailbox{User: "u", Password: "p", Host: "localhost", Port: "143", Mailbox: "INBOX", Security: StartTLSRequired, Poll: DefaultPoll}},
		{"imap://u:p@[::1]:1143/INBOX?done=",
			Mailbox{User: "u", Password: "p", Host: "::1", Port: "1143", Mailbox: "INBOX", Security: StartTLSOptional, Poll: DefaultPoll}},
		{"imaps://u@imap.example.org?password_file=/run/secrets/imap",
			Mailbox{User: "u", PasswordFile: "/run/secrets/imap", Host: "imap.example.org", Port: "993", Mailbox: "INBOX", Security: TLS, Poll: DefaultPoll}},
		{"imaps://u@imap.example.org?password_env=POSTERN_IMAP_PASSWORD",
			Mailbox{User: "u", PasswordEnv: "POSTERN_IMAP_PASSWORD", Host: "imap.example.org", Port: "993", Mailbox: "INBOX", Security: TLS, Poll: DefaultPoll}},
		{"imap://u@127.0.0.1:1143/Forum?password_env=_pw2&done=Done",
			Mailbox{User: "u", PasswordEnv: "_pw2", Host: "127.0.0.1", Port: "1143", Mailbox: "Forum", Security: StartTLSOptional, Poll: DefaultPoll, Done: "Done"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.url)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.url, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"smtp://u:" + secret + "@h/", "imaps:// or imap://"},
		{"imaps://:" + secret + "@h/", "no user"},
		{"imaps://u:" + secret + "@/INBOX", "no server"},
		{"imaps://u@h/", "no password"},
		{"imaps://u:" + secret + "@h/?password_file=/x", "give one"},
		{"imaps://u:" + secret + "@h/?password_env=PW", "give one"},
		{"imaps://u@h/?password_env=PW&password_file=/x", "give one"},
		{"imaps://u@h/?password_env=", "must name an environment variable"},
		{"imaps://u@h/?password_env=1PW", "must name an environment variable"},
		{"imaps://u@h/?password_env=MY-PW", "must name an environment variable"},
		{"imaps://u@h/?password_env=PW&password_env=PW", "2 times"},
		{"imaps://u:" + secret + "@h/?password_file=", "password_file is empty"},
		{"imaps://u:" + secret + "@h/?starttls=required", "for imap://"},
		{"imap://u:" + secret + "@h/?starttls=yes", "must be \"required\""},
		{"imaps://u:" + secret + "@h/?poll=10ms", "at least 1s"},
		{"imaps://u:" + secret + "@h/?poll=often", "at least 1s"},
		{"imaps://u:" + secret + "@h/?pol=10s", "unknown option"},
		{"imaps://u:" + secret + "@h/?poll=1s&poll=2s", "2 times"},
		{"imaps://u:" + secret + "@h/Box?done=Box", "mailbox read itself"},
		{"imaps://u:s3cr#t@h/INBOX", "not a URL"},
		{"imaps://u:" + secret + "@h/IN#BOX", "fragment"},
		{"imaps://u:s3cr%zzt@h:99999x/", "not a URL"},
		{"imaps://u:" + secret + "@h:port/", "not a URL"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		if err == nil {
			t.Errorf("Parse(%q): no error, want %q", tt.url, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tt.url, msg, tt.want)
		}
		for _, s := range []string{"s3cr", "u:"} {
			if strings.Contains(msg, s) {
				t.Errorf("Parse(%q): error %q contains %q", tt.url, msg, s)
			}
		}
	}
}

func TestParseList(t *testing.T) {
	ms, err := ParseList("  imaps://a:p@h/INBOX \n imaps://b:p@h/INBOX imaps://a:p@h/Other ")
	if err != nil || len(ms) != 3 {
		t.Fatalf("ParseList = %d, %v", len(ms), err)
	}
	if ms, err := ParseList(""); err != nil || ms != nil {
		t.Errorf("ParseList(\"\") = %v, %v", ms, err)
	}
	_, err = ParseList("imaps://a:p@h/INBOX imaps://A:q@H:993/INBOX")
	if err == nil || !strings.Contains(err.Error(), "mailbox URL 2: the same mailbox") {
		t.Errorf("duplicate mailbox: %v", err)
	}
	_, err = ParseList("imaps://a:p@h/ imaps://a:" + secret + "@h/?x=1")
	if err == nil || !strings.HasPrefix(err.Error(), "mailbox URL 2: ") || strings.Contains(err.Error(), "s3cr") {
		t.Errorf("bad second URL: %v", err)
	}
}

func TestLabelAndKey(t *testing.T) {
	m, err := Parse("imaps://forum%40example.org:" + secret + "@imap.example.org/INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Label(); got != "imap.example.org:993/INBOX" {
		t.Errorf("Label = %q", got)
	}
	k := m.Key()
	if len(k) != 32 || strings.Contains(k, "forum") {
		t.Errorf("Key = %q", k)
	}
	other := m
	other.Mailbox = "Archive"
	if other.Key() == k {
		t.Error("two folders share a key")
	}
}
