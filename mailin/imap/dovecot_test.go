package imap

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/postern/postern/internal/storetest"
)

// dovecotBin is Debian's dovecot-imapd (.ci/ensure-dovecot.sh installs it).
const dovecotBin = "/usr/sbin/dovecot"

// dovecot is a private Dovecot on a loopback port: plain-text login
// (ssl=no, allowed on loopback), one passwd-file user (testUser,
// testPass) whose mail is a Maildir in a throwaway directory.
type dovecot struct {
	addr     string
	maildir  string // the user's INBOX
	uid, gid int    // the owner of the mail files
	seq      int    // files delivered into the Maildir
	logPath  string // Dovecot's log, shown when the test fails
}

// startDovecot starts a Dovecot for the test, stopped at its end. Without
// the binary the test is skipped, or fails when CI is set (CI installs
// it).
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	if _, err := os.Stat(dovecotBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI (make ensure-dovecot installs it): %v", dovecotBin, err)
		}
		t.Skipf("%s not installed (apt-get install dovecot-imapd, or make ensure-dovecot)", dovecotBin)
	}
	// Not t.TempDir: its parent is 0700, and as root the mail processes
	// run as Debian's dovecot user, who must reach the mail; the
	// socket paths must also stay short.
	dir, err := os.MkdirTemp("", "postern-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dv := &dovecot{maildir: filepath.Join(dir, "mail", "forum")}
	conf, err := dv.config(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		p := filepath.Join(dv.maildir, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Dir(dv.maildir), dv.maildir, filepath.Join(dv.maildir, "cur"), filepath.Join(dv.maildir, "new"), filepath.Join(dv.maildir, "tmp")} {
		if err := os.Chown(p, dv.uid, dv.gid); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	dv.logPath = filepath.Join(dir, "dovecot.log")
	t.Cleanup(func() {
		if t.Failed() {
			logged, _ := os.ReadFile(dv.logPath)
			t.Logf("dovecot's log:\n%s", logged)
		}
	})
	dv.run(t, confPath, dv.logPath)
	return dv
}

// config writes the users file and returns dovecot.conf, listening on a
// free loopback port (dv.addr). As root the mail belongs to Debian's
// dovecot user; otherwise Dovecot runs rootless as the current user.
func (dv *dovecot) config(dir string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	dv.addr = ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(dv.addr)
	rootless := ""
	if os.Getuid() == 0 {
		u, err := user.Lookup("dovecot")
		if err != nil {
			return "", fmt.Errorf("Debian's dovecot user: %w", err)
		}
		dv.uid, _ = strconv.Atoi(u.Uid)
		dv.gid, _ = strconv.Atoi(u.Gid)
	} else {
		u, err := user.Current()
		if err != nil {
			return "", err
		}
		g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			return "", err
		}
		dv.uid, dv.gid = os.Getuid(), os.Getgid()
		rootless = fmt.Sprintf("default_internal_user = %s\ndefault_internal_group = %s\ndefault_login_user = %s\nservice anvil {\n  chroot =\n}\n", u.Username, g.Name, u.Username)
	}
	users := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", testUser, testPass, dv.uid, dv.gid, filepath.Join(dir, "home"))
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:%[1]s/mail/%%n
mailbox_idle_check_interval = 1 secs
first_valid_uid = %[4]d
first_valid_gid = %[5]d
%[3]spassdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, port, rootless, dv.uid, dv.gid), nil
}

// run starts dovecot in the foreground with conf, waits until it takes
// connections, and stops it (SIGTERM, then the wait) at the test's end.
func (dv *dovecot) run(t *testing.T, conf, logPath string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(dovecotBin, "-F", "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", dv.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case err := <-exited:
			logged, _ := os.ReadFile(logPath)
			t.Fatalf("dovecot exited (%v): %s%s", err, out.String(), logged)
		default:
		}
		if time.Now().After(deadline) {
			logged, _ := os.ReadFile(logPath)
			t.Fatalf("dovecot does not listen on %s: %s%s", dv.addr, out.String(), logged)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// url is the mailbox URL of the user's INBOX with query q.
func (dv *dovecot) url(q string) string {
	return "imap://" + strings.ReplaceAll(testUser, "@", "%40") + ":" + testPass + "@" + dv.addr + "/INBOX" + q
}

// deliverFile puts raw into the Maildir as a delivery agent does: written
// in tmp/, renamed into new/ (line ends LF, as on disk).
func (dv *dovecot) deliverFile(t *testing.T, raw string) {
	t.Helper()
	dv.seq++
	name := fmt.Sprintf("%d.P%dQ%d.postern-test", time.Now().Unix(), os.Getpid(), dv.seq)
	tmp := filepath.Join(dv.maildir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(raw, "\r\n", "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, dv.uid, dv.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dv.maildir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// client logs in with a client of the test's own.
func (dv *dovecot) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(dv.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// appendMsg APPENDs raw to folder.
func (dv *dovecot) appendMsg(t *testing.T, folder, raw string) {
	t.Helper()
	c := dv.client(t)
	defer c.Close()
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// messages returns the flags of each message in folder (nil for a
// folder that does not exist).
func (dv *dovecot) messages(t *testing.T, folder string) [][]imap.Flag {
	t.Helper()
	c := dv.client(t)
	defer c.Close()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := [][]imap.Flag{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		out = append(out, m.Flags)
	}
	return out
}

// TestDovecot reads a real IMAP server, Debian's Dovecot: `imap check`
// sees IDLE, MOVE and UIDPLUS and changes nothing; a message delivered
// into the Maildir and one APPENDed while the receiver idles (within two
// seconds) are stored once and moved to Done (created on the first move,
// TRYCREATE); one with no recipient of the forum stays with
// $PosternFailed; after a restart nothing is stored twice and a message
// that arrived meanwhile is taken.
func TestDovecot(t *testing.T) {
	dv := startDovecot(t)
	st := storetest.New(t, nil)
	dv.deliverFile(t, question(1))
	dv.deliverFile(t, "From: Reader <reader@example.org>\r\nTo: someone@elsewhere.example\r\nMessage-ID: <stray@example.org>\r\nSubject: Stray\r\n\r\nNot for the forum.\r\n")
	url := dv.url("?done=Done")
	rep := check(t, url)
	if !rep.Idle || !rep.Move || !rep.UIDPlus || rep.Messages != 2 || rep.Done != "Done" || rep.DoneExists || rep.UIDValidity == 0 {
		t.Errorf("check against Dovecot: %+v", rep)
	}
	if msgs := dv.messages(t, "INBOX"); len(msgs) != 2 || dv.messages(t, "Done") != nil {
		t.Fatalf("check changed the mailbox: INBOX %v, Done %v", msgs, dv.messages(t, "Done"))
	}
	logs := &logBuf{}
	stop := startReceiver(t, st, url, logs)
	waitUntil(t, "the Maildir message stored and moved", func() bool {
		return slices.Equal(stored(t, st), ids(1)) && len(dv.messages(t, "Done")) == 1
	})
	inbox := dv.messages(t, "INBOX")
	if len(inbox) != 1 || !hasFlag(inbox[0], failedKeyword) {
		t.Errorf("INBOX after the first pass: %v, want the stray message with %s", inbox, failedKeyword)
	}
	waitUntil(t, "the receiver idling", func() bool { return strings.Contains(logs.String(), "idle=true") })
	start := time.Now()
	dv.appendMsg(t, "INBOX", question(2))
	waitUntil(t, "the appended message stored", func() bool { return slices.Equal(stored(t, st), ids(1, 2)) })
	took := time.Since(start)
	t.Logf("Dovecot IDLE: stored %v after the APPEND", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("stored %v after its APPEND while idling, want under 2s", took)
	}
	waitUntil(t, "the appended message moved", func() bool { return len(dv.messages(t, "Done")) == 2 })
	stop()
	dv.appendMsg(t, "INBOX", question(3))
	startReceiver(t, st, url, logs)
	waitUntil(t, "the message of the downtime stored and moved", func() bool {
		return slices.Equal(stored(t, st), ids(1, 2, 3)) && len(dv.messages(t, "Done")) == 3
	})
	if inbox := dv.messages(t, "INBOX"); len(inbox) != 1 || !hasFlag(inbox[0], failedKeyword) {
		t.Errorf("INBOX at the end: %v, want only the stray message", inbox)
	}
	out := logs.String()
	if n := strings.Count(out, "message accepted"); n != 3 {
		t.Errorf("%d messages accepted, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "move=true") || !strings.Contains(out, "done folder created") {
		t.Errorf("the receiver did not MOVE into a created folder:\n%s", out)
	}
	noSecrets(t, out)
}
