package doctor

import (
	"context"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/smtptest"
)

// TestRelayProbe: real SMTP relays on 127.0.0.1 (internal/smtptest),
// probed as serve would use them; no mail is sent.
func TestRelayProbe(t *testing.T) {
	t.Parallel()
	cert, _ := smtptest.Cert(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := smtptest.Start(t, smtptest.Options{})
	tlsAuth := smtptest.Start(t, smtptest.Options{Cert: cert, User: "forum", Password: "s3cret", RequireAuth: true})
	implicit := smtptest.Start(t, smtptest.Options{Cert: cert, Implicit: true})
	host := func(s *smtptest.Sink) string {
		return strings.TrimPrefix(strings.SplitN(s.URL(), "?", 2)[0], "smtp://")
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name, url, ca string
		want          map[string]Status
		in            string // in some Detail or Fix
	}{
		{"plain loopback", plain.URL(), "", map[string]Status{"relay": OK, "relay-tls": OK, "relay-auth": OK}, "no TLS: the relay is on this machine"},
		{"starttls and auth", "smtp://forum:s3cret@" + host(tlsAuth) + "?starttls=required", ca,
			map[string]Status{"relay": OK, "relay-tls": OK, "relay-auth": OK}, "AUTH offered (PLAIN), the user name and password of relay_url accepted"},
		{"wrong password", "smtp://forum:wrong@" + host(tlsAuth), ca,
			map[string]Status{"relay": OK, "relay-tls": OK, "relay-auth": Fix}, "authentication failed"},
		{"auth offered, none configured", "smtp://" + host(tlsAuth), ca,
			map[string]Status{"relay": OK, "relay-tls": OK, "relay-auth": OK}, "relay_url has no user"},
		{"certificate not trusted", "smtp://" + host(tlsAuth), "",
			map[string]Status{"relay": OK, "relay-tls": Fix}, "relay_ca_file"},
		{"starttls required, not offered", "smtp://" + host(plain) + "?starttls=required", "",
			map[string]Status{"relay": OK, "relay-tls": Fix}, "does not offer STARTTLS"},
		{"implicit tls", "smtps://" + host(implicit), ca, map[string]Status{"relay": OK, "relay-tls": OK, "relay-auth": OK}, "implicit TLS"},
		{"nothing listening", "smtp://" + deadAddr, "", map[string]Status{"relay": Fix}, "cannot connect to " + deadAddr},
		{"bad url", "http://relay.test", "", map[string]Status{"relay": Fix}, "unsupported URL scheme"},
		{"maildir", "", "", map[string]Status{"relay": Warn}, "written to the Maildir postern-mail"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Forum.Domain = "forum.test"
			cfg.Notify.RelayURL, cfg.Notify.RelayCAFile = tc.url, tc.ca
			start := time.Now()
			rs := CheckRelay(probeRelay(context.Background(), cfg, 5*time.Second))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("probe took %v", d)
			}
			got, text := results(rs), ""
			for _, r := range rs {
				text += r.Detail + " " + r.Fix + "\n"
			}
			if len(got) != len(tc.want) {
				t.Errorf("results %v, want %v", rs, tc.want)
			}
			for check, st := range tc.want {
				if got[check].Status != st {
					t.Errorf("%s: %s %q, want %s", check, got[check].Status, got[check].Detail, st)
				}
			}
			if !strings.Contains(text, tc.in) {
				t.Errorf("output lacks %q:\n%s", tc.in, text)
			}
			if strings.Contains(text, "s3cret") || strings.Contains(text, ":wrong") {
				t.Errorf("the password is shown:\n%s", text)
			}
		})
	}
	if n := len(plain.Messages()) + len(tlsAuth.Messages()) + len(implicit.Messages()); n != 0 {
		t.Errorf("the probe sent %d messages", n)
	}
}

// TestRelayProbeBounded: a relay that accepts the connection and never
// greets is reported within the probe's timeout.
func TestRelayProbeBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	cfg := config.Default()
	cfg.Notify.RelayURL = "smtp://" + ln.Addr().String()
	start := time.Now()
	rs := CheckRelay(probeRelay(context.Background(), cfg, 300*time.Millisecond))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("probe took %v", d)
	}
	if len(rs) != 1 || rs[0].Status != Fix || !strings.Contains(rs[0].Detail, "did not answer the greeting") {
		t.Errorf("silent relay: %+v", rs)
	}
	if c := <-accepted; c != nil {
		c.Close()
	}
}
