package imap

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/storetest"
)

// TestTLS reads a mailbox over STARTTLS (required) and over TLS from the
// start, the server's certificate checked; a receiver that does not
// trust it stores nothing and says why.
func TestTLS(t *testing.T) {
	cert, pool := smtptest.Cert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{*cert}}
	trust := func(c *Config) { c.TLSConfig = &tls.Config{RootCAs: pool} }
	for _, tc := range []struct {
		name     string
		implicit bool
		url      func(*memServer) string
	}{
		{"starttls", false, func(s *memServer) string { return s.url("?starttls=required") }},
		{"imaps", true, func(s *memServer) string { return strings.Replace(s.url(""), "imap://", "imaps://", 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServerTLS(t, idleCaps, serverTLS, tc.implicit)
			st := storetest.New(t, nil)
			logs := &logBuf{}
			srv.appendMsg(t, "INBOX", question(1))
			untrusted := &logBuf{}
			stop := startReceiver(t, st, tc.url(srv), untrusted)
			waitUntil(t, "a refused certificate logged", func() bool { return strings.Contains(untrusted.String(), "certificate") })
			stop()
			if got := stored(t, st); len(got) != 0 {
				t.Fatalf("stored over an untrusted connection: %v", got)
			}
			startReceiver(t, st, tc.url(srv), logs, trust)
			waitUntil(t, "the message stored", func() bool { return slices.Equal(stored(t, st), ids(1)) })
			noSecrets(t, untrusted.String()+logs.String())
		})
	}
}

// TestPlainTextNeedsLoopback: a server offering no STARTTLS is read in
// plain text at a loopback address, but never with ?starttls=required.
func TestPlainTextNeedsLoopback(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	srv.appendMsg(t, "INBOX", question(1))
	stop := startReceiver(t, st, srv.url("?starttls=required"), logs)
	waitUntil(t, "two refused connections", func() bool { return strings.Count(logs.String(), "step=connect") >= 2 })
	stop()
	if got := stored(t, st); len(got) != 0 {
		t.Fatalf("stored without the STARTTLS required: %v", got)
	}
	startReceiver(t, st, srv.url(""), logs)
	waitUntil(t, "the message stored", func() bool { return slices.Equal(stored(t, st), ids(1)) })
}

// TestReconnect: the server dropping the connection is logged, and the
// receiver reconnects and reads on, storing each message once.
func TestReconnect(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	srv.appendMsg(t, "INBOX", question(1))
	startReceiver(t, st, srv.url("?done=Done"), logs)
	waitUntil(t, "the first stored and moved", func() bool { return slices.Equal(stored(t, st), ids(1)) && srv.count(t, "Done") == 1 })
	for n := 2; n <= 4; n++ {
		srv.ln.drop()
		srv.appendMsg(t, "INBOX", question(n))
		waitUntil(t, "the next stored and moved", func() bool {
			return len(stored(t, st)) == n && srv.count(t, "Done") == n
		})
	}
	if got := stored(t, st); !slices.Equal(got, ids(1, 2, 3, 4)) {
		t.Errorf("stored %v", got)
	}
	out := logs.String()
	if n := strings.Count(out, "mailbox connection ended"); n < 3 {
		t.Errorf("%d dropped connections logged, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, "message accepted"); n != 4 {
		t.Errorf("%d messages accepted, want 4", n)
	}
	noSecrets(t, out)
}

// TestIdleRefreshed: an IDLE is ended and issued again every
// IdleRefresh, and a message arriving after several is still stored at
// once.
func TestIdleRefreshed(t *testing.T) {
	srv := startServer(t, idleCaps)
	st := storetest.New(t, nil)
	logs := &logBuf{}
	startReceiver(t, st, srv.url(""), logs, func(c *Config) { c.IdleRefresh = 30 * time.Millisecond })
	waitUntil(t, "three refreshed IDLEs", func() bool { return strings.Count(logs.String(), "idle refreshed") >= 3 })
	start := time.Now()
	srv.appendMsg(t, "INBOX", question(1))
	waitUntil(t, "the message stored", func() bool { return slices.Equal(stored(t, st), ids(1)) })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stored %v after its arrival, want under 2s", took)
	}
	if strings.Contains(logs.String(), "connection ended") {
		t.Errorf("the connection ended while idling:\n%s", logs.String())
	}
}
