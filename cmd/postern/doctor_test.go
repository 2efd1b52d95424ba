package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// TestDoctorCommand: `postern doctor --json` over a migrated database, a
// real relay on loopback and a secret: those checks pass, the DNS of
// forum.test (which no resolver knows) does not, so the command fails;
// the report names no person's address and no part of the database URL.
func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	url := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	relay := smtptest.Start(t, smtptest.Options{})
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("k", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"doctor", "--json", "--domain", "forum.test", "--database-url", url,
		"--secret-file", secret, "--relay-url", relay.URL(), "--base-url", "https://forum.test"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "to fix") {
		t.Errorf("doctor: error %v, want one saying what to fix", err)
	}
	var rep struct {
		Checks []struct {
			Check, Status, Detail, Fix string
		} `json:"checks"`
		FixNeeded bool `json:"fix_needed"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	status := map[string]string{}
	for _, c := range rep.Checks {
		status[c.Check] = c.Status
	}
	for _, c := range []string{"database", "schema", "relay", "relay-tls", "relay-auth", "secret", "sealing-keys", "base-url"} {
		if status[c] != "OK" {
			t.Errorf("%s is %q:\n%s", c, status[c], out.String())
		}
	}
	if status["mx"] != "FIX" || !rep.FixNeeded {
		t.Errorf("mx of forum.test is %q, fix_needed %v", status["mx"], rep.FixNeeded)
	}
	if strings.Contains(out.String(), "@") || strings.Contains(out.String(), url) {
		t.Errorf("the report shows an address or the URL:\n%s", out.String())
	}
	if relay.Sessions() == 0 || len(relay.Messages()) != 0 {
		t.Errorf("the relay had %d sessions and got %d messages, want a session and none", relay.Sessions(), len(relay.Messages()))
	}
}

// TestDoctorOutgoingIP: --outgoing-ip must be an address.
func TestDoctorOutgoingIP(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"doctor", "--outgoing-ip", "relay.example.net"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("doctor --outgoing-ip NAME: %v", err)
	}
}
