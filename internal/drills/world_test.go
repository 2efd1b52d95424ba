package drills

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/pgcluster"
	"github.com/postern/postern/internal/smtptest"
)

// Domain is the drills' forum domain.
const Domain = "forum.test"

// world is one drill's PostgreSQL, relay and Postern instances.
type world struct {
	t      *testing.T
	dir    string
	pg     *pgcluster.Cluster
	pgOpts pgcluster.Options
	dbURL  string
	pool   *pgxpool.Pool
	secret string
	relay  *smtptest.Sink
	ids    *idCounter
}

// newWorld starts a durable PostgreSQL cluster with a migrated database
// and a relay that counts the Message-IDs it receives.
func newWorld(t *testing.T) *world { t.Helper(); return newWorldWith(t, nil) }

// newWorldWith is newWorld, calling beforePG (when not nil) with the
// cluster's folder, made, before PostgreSQL is set up in it.
func newWorldWith(t *testing.T, beforePG func(dir string)) *world {
	t.Helper()
	ctx := context.Background()
	// Not t.TempDir: PostgreSQL runs as postgres when the drills run as
	// root, and must reach its folder.
	dir, err := os.MkdirTemp("", "postern-drill-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &world{t: t, dir: dir, ids: &idCounter{seen: map[string]int{}, confirm: map[string]string{}}}
	w.pgOpts = pgcluster.Options{Dir: filepath.Join(w.dir, "pg"), Logger: slog.New(slog.DiscardHandler)}
	if beforePG != nil {
		if err := os.MkdirAll(w.pgOpts.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		beforePG(w.pgOpts.Dir)
	}
	pg, err := pgcluster.Start(ctx, w.pgOpts)
	if err != nil {
		t.Fatal(err)
	}
	w.pg = pg
	w.pgOpts.Port = pg.Port()
	t.Cleanup(func() { _ = w.pg.Stop(context.Background()) })
	admin, err := pgxpool.New(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE postern"); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	w.dbURL = pg.URL("postern")
	w.secret = filepath.Join(w.dir, "secret")
	if err := os.WriteFile(w.secret, []byte(strings.Repeat("d", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binary, "migrate", "--database-url", w.dbURL).CombinedOutput(); err != nil {
		t.Fatalf("postern migrate: %v\n%s", err, out)
	}
	if w.pool, err = pgxpool.New(ctx, w.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.pool.Close)
	w.relay = smtptest.Start(t, smtptest.Options{Discard: true, Data: w.ids.data})
	return w
}

// stopDatabase stops PostgreSQL; startDatabase starts it again on the same
// data and port.
func (w *world) stopDatabase() {
	w.t.Helper()
	if err := w.pg.Stop(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) startDatabase() {
	w.t.Helper()
	pg, err := pgcluster.Start(context.Background(), w.pgOpts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.pg = pg
}

// idCounter counts the relay's messages by Message-ID and keeps the
// confirmation address each recipient was last sent.
type idCounter struct {
	mu       sync.Mutex
	seen     map[string]int
	confirm  map[string]string
	received int
}

var confirmRe = regexp.MustCompile(`confirm\+[a-z0-9]+@` + regexp.QuoteMeta(Domain))

// messageIDOf is m's Message-ID field ("" when it does not parse).
func messageIDOf(m smtptest.Message) string {
	if msg, err := mail.ReadMessage(bytes.NewReader(m.Data)); err == nil {
		return msg.Header.Get("Message-ID")
	}
	return ""
}

func (c *idCounter) data(m smtptest.Message) *smtp.SMTPError {
	id := messageIDOf(m)
	addr := confirmRe.Find(m.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received++
	c.seen[id]++
	if addr != nil && len(m.To) == 1 {
		c.confirm[m.To[0]] = string(addr)
	}
	return nil
}

// confirmAddress returns the confirmation address last sent to rcpt.
func (c *idCounter) confirmAddress(rcpt string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.confirm[rcpt]
}

// counts returns the messages received and how many of them repeated a
// Message-ID received before.
func (c *idCounter) counts() (received, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen {
		duplicates += n - 1
	}
	return c.received, duplicates
}

// instance is one `postern serve` process, restartable on its addresses.
type instance struct {
	w          *world
	name       string
	smtp, http string
	extra      []string // flags added to every start
	mu         sync.Mutex
	cmd        *exec.Cmd
	log        bytes.Buffer // every run's stderr
	done       chan struct{}
	state      *os.ProcessState
}

// startInstance starts a new instance on free loopback ports, with the
// extra flags (on every start).
func (w *world) startInstance(name string, extra ...string) *instance {
	w.t.Helper()
	in := &instance{w: w, name: name, smtp: "127.0.0.1:0", http: "127.0.0.1:0", extra: extra}
	in.start()
	w.t.Cleanup(func() { in.kill() })
	return in
}

func (in *instance) Write(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.Write(p)
}

func (in *instance) logText() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

// start runs the binary and waits until it listens; a first start learns
// its ports, later ones reuse them.
func (in *instance) start() {
	t := in.w.t
	t.Helper()
	mark := len(in.logText())
	cmd := exec.Command(binary, "serve", "--database-url", in.w.dbURL, "--domain", Domain, "--secret-file", in.w.secret,
		"--base-url", "https://forum.test", "--smtp-addr", in.smtp, "--lmtp-addr", "", "--http-addr", in.http,
		"--relay-url", in.w.relay.URL(), "--trusted-networks", "127.0.0.0/8", "--auth-verify-dkim=false",
		"--rate-limits", "off", "--metrics-addr", "127.0.0.1:0", "--workers", "2", "--notify-workers", "2", "--shutdown-session-grace", "10s")
	cmd.Args = append(cmd.Args, in.extra...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = io.Discard, in
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		in.mu.Lock()
		in.state = cmd.ProcessState
		in.mu.Unlock()
		close(done)
	}()
	smtp := in.waitListening(mark, "smtp")
	http := in.waitListening(mark, "http")
	in.mu.Lock() // the load reads smtp while an instance restarts
	in.smtp, in.http = smtp, http
	in.mu.Unlock()
}

// waitListening returns the address of the "listening" line for what
// logged after byte mark of the log.
func (in *instance) waitListening(mark int, what string) string {
	t := in.w.t
	t.Helper()
	prefix := "msg=listening what=" + what + " addr="
	deadline := time.Now().Add(time.Minute)
	for {
		sc := bufio.NewScanner(strings.NewReader(in.logText()[mark:]))
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), prefix); ok {
				return strings.Fields(after)[0]
			}
		}
		select {
		case <-in.done:
			t.Fatalf("%s exited before listening on %s:\n%s", in.name, what, in.logText()[mark:])
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after a minute", in.name, what)
		}
	}
}

// kill SIGKILLs the instance (if running) and waits for it.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// term SIGTERMs the instance and returns its exit state.
func (in *instance) term() *os.ProcessState {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		in.w.t.Fatalf("%s still running 2 minutes after SIGTERM", in.name)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state
}

// pid is the current process's id.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd.Process.Pid
}

// running reports whether the current process is alive.
func (in *instance) running() bool {
	in.mu.Lock()
	done := in.done
	in.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// cleanEnv is the environment without POSTERN_* settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTERN_") {
			env = append(env, kv)
		}
	}
	return env
}
