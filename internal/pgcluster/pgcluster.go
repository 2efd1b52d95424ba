// Package pgcluster starts and stops a private PostgreSQL cluster with the
// server's own tools (initdb, pg_ctl), for `postern dev` and for tests.
//
// A cluster lives in a directory of its own (Options.Dir): the data
// directory is Dir/data, the server log Dir/postgres.log and the TCP port
// chosen on first start is remembered in Dir/port, so that starting again on
// the same Dir reuses the same data and, when it is still free, the same
// port.
//
// The server listens on 127.0.0.1 only, has no Unix socket, and trusts every
// connection from 127.0.0.1 as the superuser "postgres": it is meant for a
// developer's machine and for tests, never for production data shared with
// other users of the machine.
//
// PostgreSQL refuses to run as root. When the current process is root the
// tools and the server run as the "postgres" system user (created by
// Debian's postgresql packages), and Dir is handed to that user; every
// directory above Dir must then be searchable by others (mode o+x), as
// directories made by os.MkdirTemp under /tmp are once chmod 0755.
package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures Start.
type Options struct {
	// Dir holds the cluster: Dir/data is the data directory. Dir is created
	// (with its parents) when missing. Required.
	Dir string
	// Port is the TCP port to listen on, on 127.0.0.1. 0 picks one: the
	// port remembered in Dir/port when it is still free, otherwise a free
	// port, which is then remembered.
	Port int
	// Fast turns off durability (fsync, synchronous_commit,
	// full_page_writes) for speed. For test clusters only: a crash of the
	// machine can corrupt a Fast cluster.
	Fast bool
	// Settings are extra postgresql.conf lines ("name = value"), written
	// after Postern's own at every start (e.g. to load
	// pg_stat_statements for a profile of the database side).
	Settings []string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL server started (or found running) by
// Start. Its methods are safe for concurrent use.
type Cluster struct {
	dir     string
	dataDir string
	port    int
	bins    binaries
	run     runAs
	logger  *slog.Logger

	mu        sync.Mutex
	stopped   bool
	watcher   *exec.Cmd
	watchPipe io.WriteCloser // the watcher's stdin: its EOF means we exited
}

// Superuser is the name of the cluster's superuser, the role that URL
// connects as.
const Superuser = "postgres"

const (
	portFile     = "port"
	logFile      = "postgres.log"
	confFile     = "postern.conf"
	startTimeout = 120 // seconds, for pg_ctl -t
)

// Start starts the cluster in opts.Dir and waits until it accepts
// connections. It runs initdb first when opts.Dir holds no cluster yet, and
// reuses an existing one otherwise (data persists across Stop and Start). If
// a server is already running on that data directory it is reused as is;
// a postmaster.pid left by a killed server is removed. Start returns an
// error when the PostgreSQL server binaries cannot be found (see
// EnsureInstalled) or the server does not come up; the error then includes
// the end of the server log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: cluster dir %q: %w", opts.Dir, err)
	}
	bins, err := findBinaries()
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	run, err := currentRunAs()
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		bins:    bins,
		run:     run,
		logger:  logger.With("pgdata", filepath.Join(dir, "data")),
	}
	if err := c.prepareDir(); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := c.initdbIfNeeded(ctx, opts.Fast); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}

	// A server may still run on this data directory (say, a `postern dev`
	// that was killed, its server left behind): reuse it.
	if port, ok := c.runningServer(); ok {
		c.port = port
		if err := c.waitReady(ctx); err != nil {
			return nil, fmt.Errorf("pgcluster: server already running on %s: %w", c.dataDir, err)
		}
		c.logger.Info("reusing running PostgreSQL server", "port", port)
		return c, nil
	}

	// Ports picked here could be taken by another process before the
	// server binds them: retry with a new one then.
	const attempts = 3
	for i := 1; ; i++ {
		port, picked, err := c.choosePort(opts.Port, i > 1)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		c.port = port
		err = c.start(ctx, opts.Fast, opts.Settings)
		if err == nil {
			break
		}
		if !picked || i == attempts || ctx.Err() != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
		c.logger.Warn("PostgreSQL did not start, retrying on another port", "port", port, "err", err)
	}
	if err := writeFileAs(c.run, filepath.Join(dir, portFile), []byte(strconv.Itoa(c.port)+"\n"), 0o644); err != nil {
		// The server runs; a restart just picks another port.
		c.logger.Warn("could not remember the port", "err", err)
	}
	c.logger.Info("PostgreSQL started", "port", c.port, "version", bins.version)
	return c, nil
}

// URL returns a connection URL for database dbname on the cluster, as the
// superuser, without TLS:
// postgres://postgres@127.0.0.1:PORT/dbname?sslmode=disable.
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, dbname)
}

// Port returns the TCP port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir returns the absolute cluster directory (Options.Dir).
func (c *Cluster) Dir() string { return c.dir }

// DataDir returns the absolute data directory, Dir()/data.
func (c *Cluster) DataDir() string { return c.dataDir }

// LogFile returns the path of the server log.
func (c *Cluster) LogFile() string { return filepath.Join(c.dir, logFile) }

// Stop shuts the server down ("fast" mode: open sessions are disconnected,
// their transactions rolled back) and waits until it has exited. Stopping
// a stopped cluster does nothing. The data stays in Dir for the next Start.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	out, err := c.command(ctx, c.bins.pgCtl, "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "60").CombinedOutput()
	if err != nil {
		if _, running := c.runningServer(); running {
			return fmt.Errorf("pgcluster: pg_ctl stop: %w: %s", err, bytes.TrimSpace(out))
		}
		// Already gone (stopped by someone else): nothing left to do.
	}
	c.stopped = true
	c.stopWatcherLocked()
	c.logger.Info("PostgreSQL stopped", "port", c.port)
	return nil
}

// prepareDir creates Dir and hands it to the user the server runs as.
func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("create cluster dir: %w", err)
	}
	if !c.run.switchUser {
		return nil
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return fmt.Errorf("chmod cluster dir: %w", err)
	}
	if err := os.Chown(c.dir, c.run.uid, c.run.gid); err != nil {
		return fmt.Errorf("chown cluster dir to %s: %w", c.run.name, err)
	}
	// The server must be able to reach Dir through its parents.
	for p := filepath.Dir(c.dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("cluster dir parent: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("directory %s is not searchable by user %s (needs mode o+x): choose a cluster dir elsewhere, e.g. under %s", p, c.run.name, os.TempDir())
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (c *Cluster) initdbIfNeeded(ctx context.Context, fast bool) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check data dir: %w", err)
	}
	// A data dir without PG_VERSION is a failed initdb: start over.
	if err := os.RemoveAll(c.dataDir); err != nil {
		return fmt.Errorf("remove incomplete data dir: %w", err)
	}
	c.logger.Info("creating PostgreSQL cluster", "version", c.bins.version)
	args := []string{"-D", c.dataDir, "-U", Superuser, "-E", "UTF8", "--no-locale",
		"--auth-local=trust", "--auth-host=trust"}
	if fast {
		args = append(args, "--no-sync")
	}
	out, err := c.command(ctx, c.bins.initdb, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, tail(out, 2000))
	}
	// Our settings live in postern.conf, rewritten at every start.
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, werr := fmt.Fprintf(f, "\n# Added by postern (pgcluster).\ninclude_if_exists = '%s'\n", confFile)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write postgresql.conf: %w", err)
	}
	return nil
}

// choosePort returns opts.Port, or else the remembered port if free and
// fresh is false, or else a free port (picked reports the latter).
func (c *Cluster) choosePort(want int, fresh bool) (port int, picked bool, err error) {
	if want != 0 {
		return want, false, nil
	}
	if !fresh {
		if b, err := os.ReadFile(filepath.Join(c.dir, portFile)); err == nil {
			p, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil && p > 0 && p < 65536 && portFree(p) {
				return p, true, nil
			}
			c.logger.Info("remembered port is taken, picking another", "port", strings.TrimSpace(string(b)))
		}
	}
	p, err := freePort()
	if err != nil {
		return 0, false, err
	}
	return p, true, nil
}

func (c *Cluster) start(ctx context.Context, fast bool, settings []string) error {
	conf := fmt.Sprintf(`# Written by postern (pgcluster) at every start: edits are lost.
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
max_connections = 200
logging_collector = off
`, c.port)
	if fast {
		conf += "# Test cluster: no durability.\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	} else {
		conf += "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
	}
	for _, line := range settings {
		conf += line + "\n"
	}
	if err := writeFileAs(c.run, filepath.Join(c.dataDir, confFile), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", confFile, err)
	}
	logPath := c.LogFile()
	c.logger.Debug("starting PostgreSQL", "port", c.port, "log", logPath)
	out, err := c.command(ctx, c.bins.pgCtl, "start", "-D", c.dataDir, "-l", logPath,
		"-w", "-t", strconv.Itoa(startTimeout)).CombinedOutput()
	if err != nil {
		logTail, _ := readTail(logPath, 3000)
		return fmt.Errorf("pg_ctl start on port %d: %w: %s\nserver log %s:\n%s", c.port, err, bytes.TrimSpace(out), logPath, logTail)
	}
	return nil
}

// runningServer reports whether a postmaster runs on the data directory,
// and its port. It removes a postmaster.pid that no live server of this
// data directory owns.
func (c *Cluster) runningServer() (port int, ok bool) {
	pidPath := filepath.Join(c.dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, false // garbage: the server overwrites it
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	killErr := syscall.Kill(pid, 0)
	alive := killErr == nil || errors.Is(killErr, syscall.EPERM)
	if alive {
		// The pid may have been reused by an unrelated process after a
		// reboot or a container restart: a postmaster's working directory
		// is its data directory.
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		switch {
		case err != nil && errors.Is(err, os.ErrNotExist) && !procMounted():
			// No /proc: trust the pid, as pg_ctl does.
		case err != nil:
			alive = false
		case cwd != c.dataDir:
			alive = false
		}
	}
	if alive && port > 0 {
		return port, true
	}
	c.logger.Info("removing stale postmaster.pid", "pid", pid)
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.logger.Warn("could not remove stale postmaster.pid", "err", err)
	}
	return 0, false
}

// waitReady waits until the server accepts TCP connections.
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(startTimeout * time.Second)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port))
	for {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no connection on %s: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// command returns a command running name as the server's user, in Dir, with
// no PG* variables from our environment.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Env = pgEnv(c.run)
	if c.run.switchUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(c.run.uid), Gid: uint32(c.run.gid), Groups: []uint32{}},
		}
	}
	return cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	return port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func readTail(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if off := fi.Size() - n; off > 0 {
		if _, err := f.Seek(off, 0); err != nil {
			return "", err
		}
	}
	var sb strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sb.WriteString(sc.Text())
		sb.WriteByte('\n')
	}
	return sb.String(), sc.Err()
}
