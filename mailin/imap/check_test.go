package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailin/imap/imapurl"
)

// TestCheck: Check reports the server's capabilities, the folder's
// UIDVALIDITY and count and what the receiver would do, and leaves the
// mailbox as it was (flags, counts, folders); its output and its errors
// hold no user or password.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		caps  imap.CapSet
		query string
		want  []string
	}{
		{"move", idleCaps, "?done=Done", []string{"capabilities: IDLE yes, MOVE yes, UIDPLUS yes",
			"waiting: IDLE, renewed every 10m0s", `after storing: move to "Done" with MOVE`, `done folder: "Done" exists`}},
		{"copy, missing folder", pollCaps, "?done=Archive", []string{"capabilities: IDLE yes, MOVE no, UIDPLUS yes",
			`after storing: move to "Archive" with COPY, STORE \Deleted, UID EXPUNGE`, `done folder: "Archive" missing: created at the first move`}},
		{"seen", idleCaps, "", []string{`after storing: flag \Seen (no done folder)`, "done folder: none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.caps)
			srv.appendMsg(t, "INBOX", question(1))
			srv.appendMsg(t, "INBOX", question(2))
			if _, err := srv.user.Append("INBOX", strings.NewReader(question(3)), &imap.AppendOptions{Flags: []imap.Flag{failedKeyword}}); err != nil {
				t.Fatal(err)
			}
			before := srv.snapshot(t)
			rep := check(t, srv.url(tc.query))
			var out strings.Builder
			if err := rep.Write(&out); err != nil {
				t.Fatal(err)
			}
			want := append([]string{"mailbox: " + srv.addr + "/INBOX\n", "connection: plain text (loopback)", "login: ok",
				"messages: 3 (1 flagged $PosternFailed)"}, tc.want...)
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, out.String())
				}
			}
			if rep.UIDValidity == 0 || !strings.Contains(out.String(), "uidvalidity: ") {
				t.Errorf("no UIDVALIDITY: %+v", rep)
			}
			noSecrets(t, out.String())
			if after := srv.snapshot(t); after != before {
				t.Errorf("the mailbox changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestCheckPollAndErrors: NoIdle is reported as polling at the URL's
// interval; a wrong password and a missing folder fail at their step,
// naming no user or password.
func TestCheckPollAndErrors(t *testing.T) {
	srv := startServer(t, idleCaps)
	m, err := imapurl.Parse(srv.url("?poll=7s"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), Config{NoIdle: true}, m)
	if err != nil || rep.Waiting != "poll every 7s (the server offers no IDLE)" {
		t.Errorf("Check with NoIdle = %q, %v", rep.Waiting, err)
	}
	for _, tc := range []struct{ url, want string }{
		{strings.Replace(srv.url(""), testPass, "wrong-pass", 1), "/INBOX login: login refused: NO"},
		{strings.Replace(srv.url(""), "/INBOX", "/Nowhere", 1), "/Nowhere examine: NO"},
	} {
		m, err := imapurl.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Check(context.Background(), Config{}, m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%s) = %v, want %q", tc.want, err, tc.want)
			continue
		}
		noSecrets(t, err.Error())
		if strings.Contains(err.Error(), "wrong-pass") {
			t.Errorf("error holds the password: %v", err)
		}
	}
}

// check runs Check on url, failing the test on an error.
func check(t *testing.T, url string) Report {
	t.Helper()
	m, err := imapurl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), Config{}, m)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// snapshot describes the folders INBOX, Done and Archive (or that it is
// missing): their UIDVALIDITY, UIDNEXT and every message's flags, for
// comparing before and after.
func (s *memServer) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"INBOX", "Done", "Archive"} {
		st, err := s.user.Status(f, &imap.StatusOptions{NumMessages: true, UIDValidity: true, UIDNext: true})
		if err != nil {
			b.WriteString(f + " missing; ")
			continue
		}
		fmt.Fprintf(&b, "%s %d/%d/%d:", f, *st.NumMessages, st.UIDValidity, st.UIDNext)
		for _, fl := range s.flags(t, f) {
			names := make([]string, len(fl))
			for i, x := range fl {
				names[i] = string(x)
			}
			slices.Sort(names)
			b.WriteString(" " + strings.Join(names, ","))
		}
		b.WriteString("; ")
	}
	return b.String()
}

// TestPasswordEnv: ?password_env=VAR logs in with the variable's value;
// a variable not set fails the login (and ConfigFrom at once), naming
// the variable, not a password.
func TestPasswordEnv(t *testing.T) {
	srv := startServer(t, idleCaps)
	url := strings.Replace(srv.url("?password_env=POSTERN_TEST_IMAP_PW"), ":"+testPass+"@", "@", 1)
	t.Setenv("POSTERN_TEST_IMAP_PW", testPass)
	if rep := check(t, url); rep.Messages != 0 || rep.Label != srv.addr+"/INBOX" {
		t.Errorf("Check with password_env = %+v", rep)
	}
	if _, _, err := ConfigFrom(config.Config{IMAP: config.IMAP{URLs: url}}); err != nil {
		t.Errorf("ConfigFrom with the variable set: %v", err)
	}
	t.Setenv("POSTERN_TEST_IMAP_PW", "")
	m, err := imapurl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(context.Background(), Config{}, m); err == nil || !strings.Contains(err.Error(), "login: password_env: POSTERN_TEST_IMAP_PW is not set") {
		t.Errorf("Check with the variable empty: %v", err)
	}
	_, _, err = ConfigFrom(config.Config{IMAP: config.IMAP{URLs: "imaps://a:p@h/ " + url}})
	if err == nil || !strings.Contains(err.Error(), "mailbox URL 2: password_env: POSTERN_TEST_IMAP_PW is not set") {
		t.Errorf("ConfigFrom with the variable empty: %v", err)
	}
}
