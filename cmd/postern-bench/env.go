package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/pgcluster"
)

// domain is the forum domain of the Postern under test.
const domain = "bench.test"

// bench is the running test bed: PostgreSQL, the Postern subprocess, the
// sink relay and the state the scenarios share.
type bench struct {
	opts options
	log  *slog.Logger
	dir  string
	root string // module root, where `go build` runs

	pg        *pgcluster.Cluster
	pool      *pgxpool.Pool
	pgVersion string
	pgBuffers string // shared_buffers as the server reports it

	bin        string
	secretFile string
	proc       *posternProc
	sink       *sink
	discard    *discardServer

	gen        *generator
	seq        atomic.Int64 // marker numbers, unique in the run
	asker      string       // address of the person who asks the questions
	replier    string       // address of the follower who answers them
	targets    []string     // replier's reply+TOKEN addresses, one per question
	intake10   float64      // scenario 1: 4 KB intake rate at 10 connections
	discard10  float64      // scenario 1: the discard ceiling of that case
	pprofAddr  string       // Postern's pprof address on loopback, for profiles
	httpAddr   string       // Postern's web pages on loopback (scenario 8)
	profileDir string       // where profiles are written
}

func newBench(ctx context.Context, opts options, log *slog.Logger) (b *bench, err error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "postern-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	// PostgreSQL runs as the postgres user when we are root: it must be
	// able to reach its directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	b = &bench{opts: opts, log: log, dir: dir, root: root, gen: newGenerator(),
		asker: "asker@client.test", replier: "replier@client.test"}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	log.Info("bench directory", "dir", dir)

	if err := b.startDatabase(ctx); err != nil {
		return nil, err
	}
	if err := b.preparePostern(ctx); err != nil {
		return nil, err
	}
	if b.sink, err = startSink(log); err != nil {
		return nil, err
	}
	b.sink.watch(b.asker, b.replier)
	if b.discard, err = startDiscard(log); err != nil {
		return nil, err
	}

	migrate := exec.CommandContext(ctx, b.bin, "migrate")
	migrate.Env = b.posternEnv("127.0.0.1:0")
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postern migrate: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := b.startPostern(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// startDatabase starts the bench's private PostgreSQL cluster under b.dir,
// opens b.pool on it and creates the ceiling table. What it started is
// released by b.close.
func (b *bench) startDatabase(ctx context.Context) (err error) {
	if err := pgcluster.EnsureInstalled(ctx, b.log); err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	pgOpts := pgcluster.Options{Dir: filepath.Join(b.dir, "pg"), Fast: false, Logger: b.log}
	if b.opts.pgStatements {
		pgOpts.Settings = append(pgOpts.Settings, statementSettings...)
	}
	if b.opts.pgBuffers != "" {
		pgOpts.Settings = append(pgOpts.Settings, fmt.Sprintf("shared_buffers = '%s'", b.opts.pgBuffers))
	}
	b.pg, err = pgcluster.Start(ctx, pgOpts)
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(b.pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	pcfg.MaxConns = 160
	b.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := b.pool.QueryRow(ctx, `SHOW server_version`).Scan(&b.pgVersion); err != nil {
		return fmt.Errorf("database version: %w", err)
	}
	if err := b.pool.QueryRow(ctx, `SHOW shared_buffers`).Scan(&b.pgBuffers); err != nil {
		return fmt.Errorf("database shared_buffers: %w", err)
	}
	if _, err := b.pool.Exec(ctx, `CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, payload bytea NOT NULL, done boolean NOT NULL DEFAULT false)`); err != nil {
		return fmt.Errorf("ceiling table: %w", err)
	}
	return nil
}

// preparePostern makes the profile directory, picks the pprof address,
// writes Postern's secret file and builds the postern binary into b.dir.
func (b *bench) preparePostern(ctx context.Context) error {
	b.profileDir = b.opts.profileDir
	if b.profileDir == "" {
		b.profileDir = filepath.Join(b.dir, "profiles")
	}
	if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
		return fmt.Errorf("profile directory: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	b.pprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if port, err = freePort(); err != nil {
		return err
	}
	b.httpAddr = fmt.Sprintf("127.0.0.1:%d", port)
	b.secretFile = filepath.Join(b.dir, "secret")
	if err := os.WriteFile(b.secretFile, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	b.bin = filepath.Join(b.dir, "postern")
	b.log.Info("building postern")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "./cmd/postern")
	build.Dir = b.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/postern: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// close stops everything the bench started, in reverse order.
func (b *bench) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if b.proc != nil {
		b.proc.stop(b.log)
	}
	if b.sink != nil {
		b.sink.close()
	}
	if b.discard != nil {
		b.discard.close()
	}
	if b.pool != nil {
		b.pool.Close()
	}
	if b.pg != nil {
		if err := b.pg.Stop(ctx); err != nil {
			b.log.Warn("stopping PostgreSQL", "err", err)
		}
	}
	if b.dir != "" && !b.opts.keep {
		if err := os.RemoveAll(b.dir); err != nil {
			b.log.Warn("removing the bench directory", "err", err)
		}
	} else if b.dir != "" {
		b.log.Info("bench directory kept", "dir", b.dir)
	}
}

// posternEnv is the environment of a postern subprocess listening for
// SMTP on smtpAddr: the settings of internal/config that differ from their
// defaults (config.Environ), so a renamed setting fails to compile here.
// POSTERN_* variables of the harness's own environment are not passed on,
// except POSTERN_PPROF_ADDR.
func (b *bench) posternEnv(smtpAddr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTERN_") {
			env = append(env, kv)
		}
	}
	c := config.Default()
	c.Store.DatabaseURL, c.Store.SecretFile = b.pg.URL("postgres"), b.secretFile
	c.Forum.Domain = domain
	c.SMTP.Addr, c.SMTP.LMTPAddr, c.Web.HTTPAddr, c.Web.MetricsAddr = smtpAddr, "", b.httpAddr, "127.0.0.1:0"
	c.Notify.RelayURL = "smtp://" + b.sink.addr + "?starttls=no"
	c.Log.Level = slog.LevelWarn
	c.Forum.Rates.Limits = false
	// Every load connection comes from 127.0.0.1.
	c.SMTP.MaxConnectionsPerIP = 100000
	// The harness is the only sender and confirms its members: trust it.
	c.Auth.TrustedNetworks = config.Networks{netip.MustParsePrefix("127.0.0.0/8")}
	// The load comes from loopback, trusted: no DNS for its senders.
	c.Auth.Verify = false
	if b.opts.workers > 0 {
		c.Process.Workers = b.opts.workers
	}
	if a := os.Getenv("POSTERN_PPROF_ADDR"); a != "" {
		// For profiling a run: go tool pprof http://ADDR/debug/pprof/profile
		c.Web.PprofAddr = a
	} else {
		c.Web.PprofAddr = b.pprofAddr
	}
	return append(env, c.Environ()...)
}

// posternProc is a running `postern serve`.
type posternProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error
	logf *os.File
}

// startPostern starts `postern serve` on a free loopback port and waits
// until it accepts SMTP connections.
func (b *bench) startPostern(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.OpenFile(filepath.Join(b.dir, "postern.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("postern log: %w", err)
	}
	cmd := exec.Command(b.bin, "serve")
	cmd.Env = b.posternEnv(addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the harness die without cleaning up, Postern goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postern: %w", err)
	}
	p := &posternProc{cmd: cmd, addr: addr, done: make(chan struct{}), logf: logf}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.proc = p
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			b.log.Info("postern serving", "pid", cmd.Process.Pid, "smtp", addr)
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("postern serve exited at start: %v (see %s)", p.err, logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postern serve does not accept connections on %s after 60s", addr)
		}
	}
}

// restartPostern stops and starts the subprocess: its memory figures start
// afresh.
func (b *bench) restartPostern(ctx context.Context) error {
	b.proc.stop(b.log)
	return b.startPostern(ctx)
}

// stop sends SIGTERM and waits (30 s, then SIGKILL) for the process to end.
func (p *posternProc) stop(log *slog.Logger) {
	defer p.logf.Close()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		log.Warn("signal postern", "err", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		log.Warn("postern did not stop in 30s, killing it", "pid", p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// alive reports an error when the subprocess has exited.
func (p *posternProc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("postern serve exited: %v (see %s)", p.err, p.logf.Name())
	default:
		return nil
	}
}

// memory reads the current (VmRSS) and peak (VmHWM) resident set of the
// subprocess, in bytes.
func (p *posternProc) memory() (rss, peak int64, err error) {
	return vmMemory(p.cmd.Process.Pid)
}

// vmMemory reads the current (VmRSS) and peak (VmHWM) resident set of
// process pid, in bytes.
func vmMemory(pid int) (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) < 1 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	return rss, peak, nil
}

// cpu returns the CPU time (user and system) the subprocess has used.
func (p *posternProc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	// Fields after the command name (which ends in ")"): state is the
	// 3rd field of the line, utime the 14th and stime the 15th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("process stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("process stat: bad utime/stime")
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// backlog counts inbound messages not yet processed and notifications not
// yet sent.
func (b *bench) backlog(ctx context.Context) (inbound, pending int64, err error) {
	err = b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inbound WHERE state = 'accepted'),
		(SELECT count(*) FROM notifications WHERE state = 'pending')`).Scan(&inbound, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("count backlog: %w", err)
	}
	return inbound, pending, nil
}

// waitIdle waits until every accepted message is processed and every
// notification sent (or limit passes, which is logged, not an error: the
// next measurement then starts with a backlog, and says so).
func (b *bench) waitIdle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if err := b.proc.alive(); err != nil {
			return err
		}
		in, pend, err := b.backlog(ctx)
		if err != nil {
			return err
		}
		if in == 0 && pend == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			b.log.Warn("backlog not drained", "inbound", in, "notifications", pend, "waited", limit)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// diagnose logs what Postern's tables hold, to explain a stuck run.
func (b *bench) diagnose(ctx context.Context) {
	rows, err := b.pool.Query(ctx, `SELECT 'inbound', state, left(reason, 80), count(*) FROM inbound GROUP BY 2, 3
		UNION ALL SELECT 'notifications', state || ' ' || kind, left(error, 80), count(*) FROM notifications GROUP BY 2, 3
		UNION ALL SELECT 'river_job', state::text || ' ' || kind, '', count(*) FROM river_job GROUP BY 2, 3`)
	if err != nil {
		b.log.Warn("diagnose", "err", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var table, state, reason string
		var n int64
		if err := rows.Scan(&table, &state, &reason, &n); err != nil {
			b.log.Warn("diagnose", "err", err)
			return
		}
		b.log.Info("table state", "table", table, "state", state, "reason", reason, "rows", n)
	}
}

// maxInboundID is the newest inbound row's id (0 when there is none).
func (b *bench) maxInboundID(ctx context.Context) (int64, error) {
	var id int64
	if err := b.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM inbound`).Scan(&id); err != nil {
		return 0, fmt.Errorf("max inbound id: %w", err)
	}
	return id, nil
}

// checkpoint flushes PostgreSQL's dirty buffers so that a measurement does
// not pay for the previous one's writes.
func (b *bench) checkpoint(ctx context.Context) error {
	if _, err := b.pool.Exec(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// settle vacuums and analyses the database and checkpoints it.
func (b *bench) settle(ctx context.Context) error {
	if _, err := b.pool.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return b.checkpoint(ctx)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the Postern repository")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cpuModel is the processor's model name, from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
