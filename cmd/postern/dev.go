package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/pgcluster"
)

// cmdDev runs Postern on its embedded default: a private PostgreSQL
// cluster under the data folder (installed with apt-get first when missing
// and permitted), a generated secret, and a Maildir for outgoing mail.
// Settings given explicitly (a database URL, a relay) are used instead.
//
// The data folder is locked (flock on DATA_DIR/lock) for the life of the
// process: a second `postern dev` on the same folder fails at once, before
// touching the folder's PostgreSQL, secret or Maildir. The private server
// is stopped on return and, should this process be killed, by a watcher
// (pgcluster.Cluster.StopOnExit).
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseNoArgs("dev", args, stderr, nil, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log.Level, stderr)
	dir, err := filepath.Abs(cfg.Dev.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	devDefaults(&cfg, fs, dir)
	logDevTrust(log, cfg, fs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDataDir(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if cfg.Store.DatabaseURL == "" {
		stopPG, url, err := startDevPostgres(ctx, filepath.Join(dir, "pg"), lock, log)
		if err != nil {
			return err
		}
		defer stopPG()
		cfg.Store.DatabaseURL = url
	}
	if cfg.Store.SecretFile == "" {
		cfg.Store.SecretFile = filepath.Join(dir, "secret")
		if err := ensureSecret(cfg.Store.SecretFile); err != nil {
			return err
		}
	}
	if err := migrateURL(ctx, cfg.Store.DatabaseURL); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	printDevBanner(stdout, cfg)
	warnBaseURL(log, cfg.Forum.BaseURL, true)
	return serve(ctx, cfg, log)
}

// startDevPostgres starts (or creates) the private cluster in dir, makes
// sure database "postern" exists and returns its URL and the function
// stopping the server. The server is also stopped should this process die
// without calling it, by a watcher that holds lock open (the data folder
// stays locked) until the server is down.
func startDevPostgres(ctx context.Context, dir string, lock *os.File, log *slog.Logger) (stop func(), url string, err error) {
	if err := pgcluster.EnsureInstalled(ctx, log); err != nil {
		return nil, "", err
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("start private PostgreSQL: %w", err)
	}
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cluster.Stop(sctx); err != nil {
			log.Warn("stopping PostgreSQL", "err", err)
		}
	}
	if err := cluster.StopOnExit(false, lock); err != nil {
		stop()
		return nil, "", err
	}
	if err := ensureDatabase(ctx, cluster.URL("postgres"), "postern"); err != nil {
		stop()
		return nil, "", err
	}
	return stop, cluster.URL("postern"), nil
}

// printDevBanner tells a new user what runs where and how to try it.
func printDevBanner(w io.Writer, cfg Config) {
	out := "outgoing mail: Maildir " + cfg.Notify.Maildir + "/new"
	if cfg.Notify.RelayURL != "" {
		out = "outgoing mail: relay " + redactURL(cfg.Notify.RelayURL)
	}
	fmt.Fprintf(w, `Postern dev is starting.
  forum domain:  %s
  SMTP:          %s   (LMTP %s, HTTP %s, links %s)
  %s
Send a first question:
  curl --url smtp://%s --mail-from you@example.org --mail-rcpt ask@%s \
       --crlf --upload-file - <<'MAIL'
From: You <you@example.org>
To: ask@%s
Subject: How do I sleep better?
Message-ID: <first-question@example.org>

I wake up at 4am every night. What helps?
MAIL
Then list questions:  %s threads --database-url '%s'
Every other command (stats, outbox list, inbound show, export, user forget,
doctor…) reads this forum's settings from the environment; in another shell:
  export POSTERN_DATABASE_URL='%s' POSTERN_DOMAIN=%s POSTERN_SECRET_FILE=%s
Stop with Ctrl-C.
`, cfg.Forum.Domain, cfg.SMTP.Addr, cfg.SMTP.LMTPAddr, cfg.Web.HTTPAddr, cfg.Forum.BaseURL, out, cfg.SMTP.Addr,
		cfg.Forum.Domain, cfg.Forum.Domain, selfCommand(), redactURL(cfg.Store.DatabaseURL),
		redactURL(cfg.Store.DatabaseURL), cfg.Forum.Domain, cfg.Store.SecretFile)
}

// selfCommand is how to run this binary again from the current folder:
// its path (bin/postern after make dev), or `go run ./cmd/postern` for a
// binary built by go run in a temporary folder.
func selfCommand() string {
	self := os.Args[0]
	if strings.Contains(self, "go-build") || strings.HasSuffix(self, ".test") {
		return "go run ./cmd/postern"
	}
	return self
}

// devLockFile is the lock file in the data folder of `postern dev`.
const devLockFile = "lock"

// errDataDirInUse is returned by lockDataDir when another process holds
// the data folder's lock.
var errDataDirInUse = errors.New("is in use by another postern dev")

// lockDataDir takes an exclusive, non-blocking flock on dir/lock and
// writes this process's id into it. The lock is held until the returned
// file is closed or the process exits (the kernel drops it, however the
// process ends), and by every process the file is explicitly handed to
// (child processes do not inherit it otherwise: close-on-exec). When
// another process holds it, the error wraps errDataDirInUse and names the
// folder and that process.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, devLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("the data folder %s %w (pid %s), which owns its PostgreSQL: stop that one first (Ctrl-C in its terminal), or give this one its own folder with --data-dir (POSTERN_DATA_DIR)",
				dir, errDataDirInUse, pid)
		}
		return nil, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// isSet reports whether setting name was given, as a flag or in its
// POSTERN_* environment variable.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if set {
		return true
	}
	s, ok := (&config.Config{}).Lookup(name)
	if !ok {
		return false
	}
	_, ok = os.LookupEnv(s.Env)
	return ok
}

// devBaseURL derives the base URL of links from the HTTP address in dev,
// so that moving POSTERN_HTTP_ADDR moves the links too: http://HOST:PORT,
// with localhost for 127.0.0.1, ::1 and an unspecified or empty host. An
// address without a fixed port (empty, :0) keeps def.
func devBaseURL(httpAddr, def string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || port == "" || port == "0" {
		return def
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback) || ip.IsUnspecified())) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ensureDatabase creates database name on the server at adminURL if it
// does not exist.
func ensureDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("check database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// ensureSecret writes a new random secret to path unless it exists.
func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("secret file: %w", err)
	}
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generate secret: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret file: %w", err)
	}
	return nil
}

// redactURL hides a password in a relay URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// devDefaults sets dev's defaults where the settings are not given on
// fs's command line or in the environment: the domain forum.localhost, a
// base URL on the HTTP address (devBaseURL), mail from loopback trusted,
// DKIM/SPF not verified (mail to dev comes from loopback and DNS lookups
// for its senders' domains would only slow it down, or time out offline),
// without a relay, the Maildir dir/maildir (dir: the data folder), and
// no metrics listener unless one is given.
// cmdDev runs on these, and `postern dev --help` shows them (helpDefaults).
func devDefaults(cfg *Config, fs *flag.FlagSet, dir string) {
	if cfg.Forum.Domain == "" {
		cfg.Forum.Domain = "forum.localhost"
	}
	if !isSet(fs, "base-url") {
		cfg.Forum.BaseURL = devBaseURL(cfg.Web.HTTPAddr, cfg.Forum.BaseURL)
	}
	if !isSet(fs, "trusted-networks") {
		cfg.Auth.TrustedNetworks = devTrustedNetworks()
	}
	if !isSet(fs, "auth-verify-dkim") {
		cfg.Auth.Verify = false
	}
	if cfg.Notify.RelayURL == "" && cfg.Notify.Maildir == config.Default().Notify.Maildir {
		cfg.Notify.Maildir = filepath.Join(dir, "maildir")
	}
	if _, inEnv := os.LookupEnv("POSTERN_METRICS_ADDR"); !isSet(fs, "metrics-addr") && !inEnv && cfg.Web.MetricsAddr == config.Default().Web.MetricsAddr {
		// A trial serves no metrics unless asked (two trials, or a trial
		// beside a server, would fight over the port).
		cfg.Web.MetricsAddr = ""
	}
}

// devHelpDefaults is devDefaults for `postern dev --help`, with the data
// folder as given (relative, as the help names it).
func devHelpDefaults(cfg *Config, fs *flag.FlagSet) { devDefaults(cfg, fs, cfg.Dev.DataDir) }

// logDevTrust says at start which of dev's trust defaults are in force.
func logDevTrust(log *slog.Logger, cfg Config, fs *flag.FlagSet) {
	if !isSet(fs, "trusted-networks") {
		log.Warn("dev: mail from loopback is trusted as sent by its From address (set POSTERN_TRUSTED_NETWORKS to change)", "trusted_networks", cfg.Auth.TrustedNetworks.String())
	}
	if !isSet(fs, "auth-verify-dkim") {
		log.Info("dev: DKIM/SPF verification off (set POSTERN_AUTH_VERIFY_DKIM=true to turn it on)")
	}
}

// devTrustedNetworks are the networks dev trusts unless told otherwise:
// loopback, IPv4 and IPv6.
func devTrustedNetworks() config.Networks {
	return config.Networks{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}
