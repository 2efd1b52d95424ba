package systemtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/postern/postern/internal/imaptest"
)

// imapMailbox is the provider's mailbox of these tests
// (imaptest.Mailbox).
type imapMailbox struct {
	*imaptest.Mailbox
	user *imapmemserver.User
	url  string
	addr string // host:port
}

func startIMAP(t *testing.T) *imapMailbox {
	t.Helper()
	m := imaptest.Start(t, "forum", "imap-pass")
	return &imapMailbox{Mailbox: m, user: m.User, url: m.URL, addr: m.Addr}
}

// deliver appends raw to INBOX as the provider would, with the
// Delivered-To it writes.
func (m *imapMailbox) deliver(t *testing.T, rcpt, raw string) {
	t.Helper()
	msg := "Delivered-To: " + rcpt + "\r\n" + strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := m.user.Append("INBOX", bytes.NewReader([]byte(msg)), &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (m *imapMailbox) count(t *testing.T, folder string) int { return m.Count(t, folder) }

// TestIMAPOnly runs a forum with no SMTP or LMTP listener that reads a
// provider's mailbox: a newcomer's question read from it is held and
// its confirmation request sent; the newcomer's reply, read from the
// mailbox too, publishes it; both messages end in the done folder.
func TestIMAPOnly(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	box := startIMAP(t)
	a, logs := testAppWith(t, relay, func(c *Config) {
		c.SMTP.Addr, c.SMTP.LMTPAddr = "", ""
		c.IMAP.URLs = box.url
	})
	if a.SMTPAddr() != nil || a.LMTPAddr() != nil {
		t.Fatal("an SMTP or LMTP listener is open")
	}
	box.deliver(t, "ask@forum.test", `Return-Path: <ida@example.net>
From: Ida <ida@example.net>
To: ask@forum.test
Subject: Read from a mailbox
Message-ID: <imap-q1@example.net>

Can a forum read its mail from a provider's mailbox?
`)
	req, _ := relay.waitFor(t, "ida@example.net", subjectHas("Please confirm your message: Read from a mailbox"))
	box.deliver(t, strings.Trim(header(req, "Reply-To"), "<>"), fmt.Sprintf(`Return-Path: <ida@example.net>
From: Ida <ida@example.net>
To: confirm@forum.test
Subject: Re: confirm
Message-ID: <imap-c1@example.net>
In-Reply-To: %s

yes
`, header(req, "Message-Id")))
	relay.waitFor(t, "ida@example.net", subjectHas("] Read from a mailbox"))
	if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE kind = 'question' AND title = 'Read from a mailbox' AND state = 'visible'`); n != 1 {
		t.Errorf("%d visible questions titled so, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE source = 'imap'`); n != 2 {
		t.Errorf("%d messages stored from IMAP, want 2", n)
	}
	// The move follows each commit: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for box.count(t, "INBOX") != 0 || box.count(t, "Done") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("INBOX holds %d, Done %d; want 0 and 2", box.count(t, "INBOX"), box.count(t, "Done"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The mailbox is connected: /readyz counts it (mailin/imap Ready).
	resp, err := http.Get("http://" + a.HTTPAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz answered %d with the mailbox connected", resp.StatusCode)
	}
	resp, err = http.Get("http://" + a.HTTPAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	health, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "ok\nimap " + box.addr + "/INBOX connected\n"; string(health) != want {
		t.Errorf("/healthz says %q, want %q", health, want)
	}
	resp, err = http.Get("http://" + a.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `postern_imap_connected{mailbox="`+box.addr+`/INBOX"} 1`) {
		t.Errorf("the metrics do not say the mailbox is connected:\n%s", grepLines(string(metrics), "imap"))
	}
	if out := logs.String(); strings.Contains(out, "imap-pass") || strings.Contains(out, "ida@") {
		t.Errorf("log holds the password or an address:\n%s", out)
	}
}

// grepLines returns the lines of s holding sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
