package systemtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtptest"
)

// postfixBin is Debian's Postfix (.ci/ensure-postfix.sh installs it).
const postfixBin = "/usr/sbin/postfix"

// postfixRecipe is README's "Postfix in front" recipe for the forum's
// domain, as this test writes it (the domain forum.test, Postern's LMTP
// address for 127.0.0.1:2424, the private instance's directory for
// /etc/postfix): main.cf's lines, then the transport file's one line, which
// `postmap` compiles.
const (
	postfixMainRecipe      = "relay_domains = %[1]s\ntransport_maps = hash:%[3]s/transport\n"
	postfixTransportRecipe = "%[1]s   lmtp:inet:%[2]s\n"
)

// postfixPrivate is the rest of the private instance's main.cf: its own
// directories (%[1]s), loopback only, no DNS, no local delivery, its log
// in its directory.
const postfixPrivate = `compatibility_level = 3.6
config_directory = %[1]s/etc
queue_directory = %[1]s/spool
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.forum.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_host_lookup = native
lmtp_host_lookup = native
disable_dns_lookups = yes
alias_maps =
alias_database =
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s
`

// postfixMaster is the private instance's master.cf: smtpd on the
// loopback address %[1]s and the daemons a relayed message passes
// through, none chrooted.
const postfixMaster = `%[1]s inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// startPostfix starts a private Postfix (its own configuration, queue
// and data directories in a throwaway directory; smtpd on a free loopback
// port, returned) relaying domain to the LMTP listener at lmtp with
// README's recipe, and stops it when the test ends. It touches nothing of
// the system's Postfix. Postfix runs as root (its daemons as Debian's
// postfix user): without the binary, or as another user, the test is
// skipped, or fails under CI=true (CI installs it and runs as root).
func startPostfix(t *testing.T, domain, lmtp string) string {
	t.Helper()
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	if _, err := os.Stat(postfixBin); err != nil {
		if ci {
			t.Fatalf("%s missing under CI (make ensure-postfix installs it): %v", postfixBin, err)
		}
		t.Skipf("%s not installed (apt-get install postfix, or make ensure-postfix)", postfixBin)
	}
	if os.Getuid() != 0 {
		if ci {
			t.Fatal("the Postfix test runs Postfix's master, which needs root; CI runs as root")
		}
		t.Skip("Postfix's master needs root: run the test as root")
	}
	// Not t.TempDir: its parent is 0700, and the daemons run as postfix.
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	smtpAddr := freeLoopbackPort(t)
	writePostfixConfig(t, dir, domain, lmtp, smtpAddr)
	postfix := func(args ...string) {
		t.Helper()
		out, err := exec.Command(postfixBin, append([]string{"-c", filepath.Join(dir, "etc")}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("postfix %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			logged, _ := os.ReadFile(filepath.Join(dir, "postfix.log"))
			t.Logf("postfix's log:\n%s", logged)
		}
	})
	postfix("start")
	t.Cleanup(func() { postfix("stop") })
	return smtpAddr
}

// writePostfixConfig writes the instance's main.cf, master.cf and
// compiled transport map into dir/etc, and its data directory.
func writePostfixConfig(t *testing.T, dir, domain, lmtp, smtpAddr string) {
	t.Helper()
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{etc, filepath.Join(dir, "spool"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown postfix: %v\n%s", err, out)
	}
	files := map[string]string{
		"main.cf":   fmt.Sprintf(postfixPrivate, dir) + fmt.Sprintf(postfixMainRecipe, domain, lmtp, etc),
		"master.cf": fmt.Sprintf(postfixMaster, smtpAddr),
		"transport": fmt.Sprintf(postfixTransportRecipe, domain, lmtp),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("/usr/sbin/postmap", "-c", etc, "hash:"+filepath.Join(etc, "transport")).CombinedOutput(); err != nil {
		t.Fatalf("postmap: %v\n%s", err, out)
	}
}

// freeLoopbackPort returns a 127.0.0.1 address whose port was free a
// moment ago.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestPostfixToLMTP runs README's "Postfix in front" recipe: a private
// Debian Postfix on loopback takes a newcomer's question by SMTP and
// hands it to Postern's LMTP listener (relay_domains, transport_maps);
// the confirmation request goes out, the newcomer's reply comes back
// through Postfix too, and the question is published.
func TestPostfixToLMTP(t *testing.T) {
	t.Parallel()
	relay := startSink(t)
	a := testApp(t, relay)
	mx := startPostfix(t, "forum.test", a.LMTPAddr().String())
	viaPostfix := func(from, to, raw string) {
		t.Helper()
		if err := smtptest.Send(mx, smtptest.Mail{From: from, To: []string{to}, Data: smtptest.CRLF(raw)}); err != nil {
			t.Fatalf("SMTP to Postfix: %v", err)
		}
	}
	start := time.Now()
	viaPostfix("pat@example.net", "ask@forum.test", `From: Pat <pat@example.net>
To: ask@forum.test
Subject: Through Postfix
Message-ID: <postfix-q1@example.net>

Does a question reach the forum through Postfix?
`)
	req, _ := relay.waitFor(t, "pat@example.net", subjectHas("Please confirm your message: Through Postfix"))
	viaPostfix("pat@example.net", strings.Trim(header(req, "Reply-To"), "<>"), fmt.Sprintf(`From: Pat <pat@example.net>
To: confirm@forum.test
Subject: Re: confirm
Message-ID: <postfix-c1@example.net>
In-Reply-To: %s

yes
`, header(req, "Message-Id")))
	relay.waitFor(t, "pat@example.net", subjectHas("] Through Postfix"))
	t.Logf("two messages through Postfix to a published question in %v", time.Since(start).Round(time.Millisecond))
	if n := mtCount(t, a, `SELECT count(*) FROM posts WHERE kind = 'question' AND title = 'Through Postfix' AND state = 'visible'`); n != 1 {
		t.Errorf("%d visible questions titled so, want 1", n)
	}
	if n := mtCount(t, a, `SELECT count(*) FROM inbound WHERE source = 'lmtp'`); n != 2 {
		t.Errorf("%d messages received over LMTP, want 2 (both through Postfix)", n)
	}
}

// TestReadmePostfixRecipe: README gives the Postfix lines
// TestPostfixToLMTP runs, for its example domain and the LMTP address of
// deploy/postern.toml, in /etc/postfix.
func TestReadmePostfixRecipe(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, deploying, ok := strings.Cut(string(b), "\n## Deploying\n")
	if !ok {
		t.Fatal("README has no ## Deploying section")
	}
	conf, err := os.ReadFile(filepath.Join("..", "..", "deploy", "postern.toml"))
	if err != nil {
		t.Fatal(err)
	}
	const domain, lmtp = "forum.example.org", "127.0.0.1:2424"
	if !strings.Contains(string(conf), "\nlmtp_addr = \""+lmtp+"\"\n") {
		t.Errorf("deploy/postern.toml does not set lmtp_addr = %q", lmtp)
	}
	for _, want := range []string{fmt.Sprintf(postfixMainRecipe, domain, lmtp, "/etc/postfix"), fmt.Sprintf(postfixTransportRecipe, domain, lmtp)} {
		if !strings.Contains(deploying, "```\n"+want+"```\n") {
			t.Errorf("README's Deploying section lacks the block:\n%s", want)
		}
	}
}
