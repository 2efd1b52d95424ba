package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/internal/smtptest"
)

// runMainEnv, set to 1, makes the test binary run main() instead of the
// tests: tests start it as a real `postern` process.
const runMainEnv = "POSTERN_TEST_RUN_MAIN"

// devProc is a `postern dev` running as a child process.
type devProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	state  *os.ProcessState
}

func (p *devProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *devProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startDev starts `postern dev` on data folder dir with the given extra
// flags, in a process of its own, its environment cleared of POSTERN_*
// settings. The process is killed at the end of the test if still running.
func startDev(t *testing.T, dir string, flags ...string) *devProc {
	t.Helper()
	args := append([]string{"dev", "--data-dir", dir, "--lmtp-addr", ""}, flags...)
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTERN_") || strings.HasPrefix(kv, "POSTERN_PG_BINDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, runMainEnv+"=1")
	p := &devProc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("postern dev (pid %d) log:\n%s", cmd.Process.Pid, p.log())
		}
	})
	return p
}

// listening waits until the process logs that it listens for what (smtp,
// http) and returns the address.
func (p *devProc) listening(t *testing.T, what string) string {
	t.Helper()
	re := regexp.MustCompile(`msg=listening what=` + what + ` addr=(\S+)`)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if m := re.FindStringSubmatch(p.log()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("postern dev exited (%v) before listening on %s:\n%s", p.state, what, p.log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("postern dev not listening on %s after 3 minutes:\n%s", what, p.log())
		}
	}
}

// exit waits for the process to end and returns its state.
func (p *devProc) exit(t *testing.T, within time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(within):
		t.Fatalf("postern dev still running after %v:\n%s", within, p.log())
		return nil
	}
}

// devPostgres returns the pid and port of the postmaster running on the
// dev data folder dir, from its postmaster.pid; ok is false when there is
// no postmaster.pid.
func devPostgres(dir string) (pid, port int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "pg", "data", "postmaster.pid"))
	if err != nil {
		return 0, 0, false
	}
	lines := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	return pid, port, true
}

// postgresGone reports whether the server that listened on port has shut
// down: its postmaster.pid is removed (a clean shutdown does that) and its
// port is closed.
func postgresGone(dir string, port int) bool {
	_, _, running := devPostgres(dir)
	return !running && portClosed(port)
}

func portClosed(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// devDataDir makes a data folder the postgres user can reach when the
// tests run as root, and stops a server left in it at the end.
func devDataDir(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "postern-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "data")
	t.Cleanup(func() {
		if pid, _, ok := devPostgres(dir); ok && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
		_ = os.RemoveAll(base)
	})
	return dir
}

// TestDevOwnsItsDataDir: a second `postern dev` on the same data folder
// (same ports, as a new user starts it) says so and exits non-zero without
// touching the first one's PostgreSQL, which keeps answering mail; SIGTERM
// and SIGINT end `postern dev` with status 0 and its PostgreSQL stopped;
// after a SIGKILL of `postern dev` its PostgreSQL stops by itself.
func TestDevOwnsItsDataDir(t *testing.T) {
	dir := devDataDir(t)
	first := startDev(t, dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	smtpAddr, httpAddr := first.listening(t, "smtp"), first.listening(t, "http")
	pgPid, pgPort, ok := devPostgres(dir)
	if !ok {
		t.Fatal("no postmaster.pid in the dev data folder")
	}

	second := startDev(t, dir, "--smtp-addr", smtpAddr, "--http-addr", httpAddr)
	st := second.exit(t, 2*time.Minute)
	if st.Success() {
		t.Fatalf("second postern dev exited 0:\n%s", second.log())
	}
	if msg := second.log(); !strings.Contains(msg, dir) || !strings.Contains(msg, "another postern dev") {
		t.Errorf("second postern dev does not say the folder is in use by another one:\n%s", msg)
	}
	if pid, _, ok := devPostgres(dir); !ok || pid != pgPid || syscall.Kill(pgPid, 0) != nil {
		t.Fatalf("the first instance's PostgreSQL (pid %d) is gone or replaced (now %d, %v)", pgPid, pid, ok)
	}
	raw := "From: You <you@example.org>\r\nTo: ask@forum.localhost\r\nSubject: Still there?\r\nMessage-ID: <still@example.org>\r\n\r\nHello.\r\n"
	if err := smtptest.Send(smtpAddr, smtptest.Mail{From: "you@example.org", To: []string{"ask@forum.localhost"}, Data: []byte(raw)}); err != nil {
		t.Fatalf("the first postern dev no longer accepts mail: %v", err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p, addr := first, smtpAddr
			if sig != syscall.SIGTERM {
				p = startDev(t, dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
				addr = p.listening(t, "smtp")
				p.listening(t, "http")
				_, pgPort, _ = devPostgres(dir)
			}
			idle := idleSMTPSession(t, addr)
			signalled := time.Now()
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// An idle session is told at once, not cut after a timeout.
			if reply := idle(); !strings.HasPrefix(reply, "421 4.3.2 ") {
				t.Errorf("idle SMTP session on %v got %q, want 421 4.3.2", sig, reply)
			} else {
				t.Logf("idle session answered %q %v after %v", reply, time.Since(signalled).Round(time.Millisecond), sig)
			}
			if st := p.exit(t, 2*time.Minute); !st.Success() {
				t.Errorf("postern dev exited with %v on %v, want status 0", st, sig)
			}
			if !postgresGone(dir, pgPort) {
				t.Errorf("PostgreSQL still runs after postern dev exited on %v", sig)
			}
		})
	}

	t.Run("SIGKILL", func(t *testing.T) {
		p := startDev(t, dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
		p.listening(t, "http")
		_, port, _ := devPostgres(dir)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.exit(t, time.Minute)
		killed := time.Now()
		// The folder stays locked until its PostgreSQL is down: a new
		// postern dev never finds the old server half shut down.
		for {
			lock, err := lockDataDir(dir)
			if err == nil {
				gone := postgresGone(dir, port)
				lock.Close()
				if !gone {
					t.Fatal("the data folder was unlocked while the killed postern dev's PostgreSQL still ran")
				}
				break
			}
			if !errors.Is(err, errDataDirInUse) {
				t.Fatal(err)
			}
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("PostgreSQL still runs 30s after postern dev was killed")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("PostgreSQL stopped and the folder unlocked %v after SIGKILL of postern dev", time.Since(killed).Round(time.Millisecond))
	})
}

// TestDevBaseURL: in dev, links follow the HTTP address unless
// POSTERN_BASE_URL is set.
func TestDevBaseURL(t *testing.T) {
	t.Parallel()
	def := defaultConfig().Forum.BaseURL
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://localhost:8080"},
		{"127.0.0.1:9090", "http://localhost:9090"},
		{":9090", "http://localhost:9090"},
		{"0.0.0.0:9090", "http://localhost:9090"},
		{"[::1]:9090", "http://localhost:9090"},
		{"127.0.0.2:9090", "http://127.0.0.2:9090"},
		{"192.0.2.7:80", "http://192.0.2.7:80"},
		{"127.0.0.1:0", def},
		{"", def},
	} {
		if got := devBaseURL(tc.addr, def); got != tc.want {
			t.Errorf("devBaseURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestMakeDev runs `make dev` as a terminal would and stops it the two
// ways a person does: SIGTERM to make, and Ctrl-C (SIGINT to the whole
// process group). Either way Postern and its PostgreSQL are gone when make
// has exited (the data folder is unlocked), and make reports no error.
func TestMakeDev(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	root := corpus.RepoRoot(t)
	dir := devDataDir(t)
	bin := filepath.Join(filepath.Dir(dir), "postern")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(makeBin, "-C", root, "dev", "GO="+goBin, "DEVBIN="+bin,
				"DEVFLAGS=--data-dir "+dir+" --smtp-addr 127.0.0.1:0 --lmtp-addr= --http-addr 127.0.0.1:0")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "POSTERN_") || strings.HasPrefix(kv, "POSTERN_PG_BINDIR=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as in a terminal
			p := &devProc{cmd: cmd, done: make(chan struct{})}
			cmd.Stdout, cmd.Stderr = p, p
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() {
				_ = cmd.Wait()
				p.state = cmd.ProcessState
				close(p.done)
			}()
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
				if t.Failed() {
					t.Logf("make dev output:\n%s", p.log())
				}
			})
			p.listening(t, "http")
			_, port, _ := devPostgres(dir)
			target := cmd.Process.Pid // make
			if sig == syscall.SIGINT {
				target = -target // the terminal signals the foreground group
			}
			if err := syscall.Kill(target, sig); err != nil {
				t.Fatal(err)
			}
			p.exit(t, 2*time.Minute)
			if strings.Contains(p.log(), "***") {
				t.Errorf("make reported an error on %v:\n%s", sig, p.log())
			}
			lock, err := lockDataDir(dir)
			if err != nil {
				t.Fatalf("after make exited on %v: %v", sig, err)
			}
			lock.Close()
			if !postgresGone(dir, port) {
				t.Errorf("PostgreSQL still runs after make exited on %v", sig)
			}
		})
	}
}

// idleSMTPSession opens an SMTP session to addr, greets (EHLO) and leaves
// it idle; the returned function reads the server's next line, waiting at
// most 10 s (the shutdown must not wait for the session's own timeout).
func idleSMTPSession(t *testing.T, addr string) func() string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "EHLO idle.example\r\n"); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "250 ") {
			break
		}
	}
	return func() string {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return "read: " + err.Error()
		}
		return strings.TrimRight(line, "\r\n")
	}
}
