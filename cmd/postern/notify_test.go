package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// TestServeNotifiesSystemd: `postern serve` under a service manager
// ($NOTIFY_SOCKET naming a datagram socket, as systemd's Type=notify
// sets it) sends READY=1 only once its listeners answer, and STOPPING=1
// when it shuts down.
func TestServeNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--database-url", threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL),
			"--domain", "forum.test", "--secret-file", secret, "--base-url", "https://forum.test",
			"--smtp-addr", "127.0.0.1:0", "--lmtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
			"--maildir", filepath.Join(dir, "maildir")}, io.Discard, &logs)
	}()
	if msg := readNotify(t, conn, done); !hasLine(msg, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", msg)
	}
	// Ready means every listener answers now.
	addrs := regexp.MustCompile(`msg=listening what=(\w+) addr=(\S+)`).FindAllStringSubmatch(logs.String(), -1)
	if len(addrs) != 4 {
		t.Fatalf("READY=1 with %d listeners logged, want 4:\n%s", len(addrs), logs.String())
	}
	for _, m := range addrs {
		c, err := net.DialTimeout("tcp", m[2], 5*time.Second)
		if err != nil {
			t.Fatalf("READY=1 sent but the %s listener does not answer: %v", m[1], err)
		}
		c.Close()
	}
	cancel()
	if msg := readNotify(t, conn, done); !hasLine(msg, "STOPPING=1") {
		t.Errorf("notification on shutdown %q, want STOPPING=1", msg)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
}

// readNotify returns the next datagram sent to conn, failing when serve
// ends (done) or 30 s pass first.
func readNotify(t *testing.T, conn *net.UnixConn, done chan error) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		select {
		case err := <-done:
			t.Fatalf("serve ended before notifying: %v", err)
		default:
		}
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// hasLine reports whether the newline-separated assignments of msg hold
// line.
func hasLine(msg, line string) bool {
	for _, l := range strings.Split(msg, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestSystemdUnitVerifies: deploy/postern.service passes `systemd-analyze
// verify` (every directive known and well-formed). The unit's
// /usr/local/bin/postern need not exist here: verify checks that
// ExecStart's binary is executable, so a copy naming this test binary
// instead is verified. Skipped where systemd-analyze is not installed.
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian's systemd package): the unit is not verified")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "postern.service"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"ExecStart=/usr/local/bin/postern serve --config /etc/postern/postern.toml\n", "Type=notify\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "User=postern\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "postern.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/postern", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDeployConfigLoads: deploy/postern.toml, the file the unit reads,
// holds only known settings of the right kinds, and valid values (its
// relay URL, addresses; the files it names are on the server only).
func TestDeployConfigLoads(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	if err := cfg.LoadFile(filepath.Join("..", "..", "deploy", "postern.toml"), nil); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("deploy/postern.toml does not validate: %v", err)
	}
	if cfg.SMTP.LMTPAddr != "127.0.0.1:2424" || cfg.Forum.Domain == "" || cfg.Notify.RelayURL == "" {
		t.Errorf("deploy/postern.toml: lmtp_addr %q, domain %q, relay set %v; want 127.0.0.1:2424, a domain and a relay", cfg.SMTP.LMTPAddr, cfg.Forum.Domain, cfg.Notify.RelayURL != "")
	}
}
