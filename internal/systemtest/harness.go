package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	server "github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/drain"
	"github.com/postern/postern/internal/smtptest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/threads"
)

// This file is the harness: the helpers the system tests share, exported
// for the tests of cmd/postern that run a command against a running forum.
// Test binaries only import it (it imports testing).

// Config is the configuration Start gives the app: every setting, and the
// DNS resolver of Auth.Verify, which has no setting (the tests of this
// package set it; nil: a DNS that knows no name).
type Config struct {
	config.Config

	resolver auth.Resolver
}

// App is a running Postern (an app.App) started by Start, with the
// configuration it was started with and its listeners' addresses.
type App struct {
	*server.App

	cfg   Config
	pool  *pgxpool.Pool
	store *threads.Store
	river *river.Client[pgx.Tx]

	smtpAddr, lmtpAddr, httpAddr net.Addr
}

// Config is the configuration the app runs with.
func (a *App) Config() Config { return a.cfg }

// Sink is the outgoing relay the app sends through: an smtptest.Sink with
// the notification helpers the tests share.
type Sink struct{ *smtptest.Sink }

// StartSink starts the relay: 10 MiB messages, 10 recipients.
func StartSink(t *testing.T) *Sink {
	t.Helper()
	return &Sink{smtptest.Start(t, smtptest.Options{MaxRecipients: 10})}
}

// waitFor returns the first message to rcpt alone that satisfies ok,
// waiting up to smtptest.DefaultWait.
func (s *Sink) waitFor(t *testing.T, rcpt string, ok func(*mail.Reader, []byte) bool) (*mail.Reader, []byte) {
	t.Helper()
	m := s.WaitFor(t, 0, func(m smtptest.Message) bool {
		if len(m.To) != 1 || m.To[0] != rcpt {
			return false
		}
		r, err := mail.CreateReader(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("notification does not parse: %v", err)
		}
		return ok(r, m.Data)
	})
	r, _ := mail.CreateReader(bytes.NewReader(m.Data))
	return r, m.Data
}

// all returns every message the relay accepted, in order.
func (s *Sink) all() []smtptest.Message { return s.Messages() }

func subjectHas(sub string) func(*mail.Reader, []byte) bool {
	return func(r *mail.Reader, _ []byte) bool {
		s, _ := r.Header.Subject()
		return strings.Contains(s, sub)
	}
}

// Start starts a complete Postern (app.New and Start: store, queue, SMTP,
// LMTP, HTTP, all on loopback) against a fresh migrated database and the
// sink relay, with adjust (if not nil) changing the configuration; it
// returns the app and its captured log output. The app is closed when
// the test ends.
func Start(t *testing.T, relay *Sink, adjust func(*Config)) (*App, *Logs) {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Config: config.Default()}
	cfg.Store.DatabaseURL = threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	cfg.Forum.Domain = "forum.test"
	cfg.Forum.ForumName = "Sleep Forum"
	cfg.Forum.BaseURL = "https://forum.test"
	cfg.SMTP.Addr, cfg.SMTP.LMTPAddr, cfg.Web.HTTPAddr, cfg.Web.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Notify.RelayURL = relay.URL()
	cfg.Store.SecretFile = secret
	cfg.Process.Workers = 4
	// These tests send as members from loopback and are about other
	// things than who may post as whom: trust loopback here, as `postern
	// dev` does. The trust tests (trust_test.go) clear it: serve's
	// default trusts no network.
	cfg.Auth.TrustedNetworks = mustNetworks(t, "127.0.0.0/8")
	// serve verifies DKIM/SPF by default: with a DNS that knows no name,
	// so no test depends on the network.
	cfg.resolver = fakeDNS{}
	if adjust != nil {
		adjust(&cfg)
	}
	// What `postern serve` checks before it starts.
	if err := cfg.Require("database-url", "domain", "secret-file"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &Logs{}
	t.Cleanup(func() { logs.report(t) })
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	a, err := server.New(ctx, cfg.Config, server.Options{Log: log, Resolver: cfg.resolver})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		a.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Close(sctx)
	})
	return &App{App: a, cfg: cfg, pool: a.Pool(), store: a.Store(), river: a.River(),
		smtpAddr: a.SMTPAddr(), lmtpAddr: a.LMTPAddr(), httpAddr: a.HTTPAddr()}, logs
}

// mustNetworks parses a POSTERN_TRUSTED_NETWORKS value.
func mustNetworks(t *testing.T, s string) config.Networks {
	t.Helper()
	var n config.Networks
	if err := n.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return n
}

// Logs collects the app's log lines so tests can check them for
// addresses. With POSTERN_TEST_LOG set they are written to that file when
// the test ends; when it fails its warnings and errors are logged.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns every line logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// report writes the log to POSTERN_TEST_LOG, and its warnings and errors
// to the test's log when it failed.
func (l *Logs) report(t *testing.T) {
	if f := os.Getenv("POSTERN_TEST_LOG"); f != "" {
		l.mu.Lock()
		_ = os.WriteFile(f, l.buf.Bytes(), 0o600)
		l.mu.Unlock()
	}
	if !t.Failed() {
		return
	}
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			t.Log(line)
		}
	}
}

// SendMail delivers raw over SMTP to the app, as a sending MTA would.
func SendMail(t *testing.T, a *App, from string, to []string, raw string) {
	t.Helper()
	if err := smtptest.Send(a.smtpAddr.String(), smtptest.Mail{From: from, To: to, Data: smtptest.CRLF(raw)}); err != nil {
		t.Fatalf("SMTP send: %v", err)
	}
}

// WaitProcessed waits until every inbound message is processed (and its
// process job is done).
func WaitProcessed(t *testing.T, a *App) {
	t.Helper()
	drain.Wait(t, a.pool, 0, threads.ProcessArgs{}.Kind())
}

// workKinds are the River jobs that process mail and send it; the
// periodic maintenance sends nothing.
var workKinds = []string{threads.ProcessArgs{}.Kind(), threads.NotifyArgs{}.Kind(), threads.ForwardArgs{}.Kind()}

// WaitDrained waits until every inbound message is processed and every
// mail it caused is sent (or given up): then "no mail was sent" can be
// checked on the relay.
func WaitDrained(t *testing.T, a *App) {
	t.Helper()
	drain.Wait(t, a.pool, 0, workKinds...)
}

func header(r *mail.Reader, k string) string { return r.Header.Get(k) }

// Member makes addr a confirmed person by asking a question titled title
// and confirming it, as a newcomer would.
func Member(t *testing.T, a *App, relay *Sink, addr, name, title string) {
	t.Helper()
	id := fmt.Sprintf("<%d.%s@client.example>", time.Now().UnixNano(), strings.ReplaceAll(name, " ", ""))
	SendMail(t, a, addr, []string{"ask@forum.test"}, fmt.Sprintf("From: %s <%s>\nTo: ask@forum.test\nSubject: %s\nMessage-ID: %s\n\nA question about %s.\n", name, addr, title, id, title))
	req, _ := relay.waitFor(t, addr, subjectHas("Please confirm your message: "+title))
	confirmByReply(t, a, addr, req)
	relay.waitFor(t, addr, subjectHas("] "+title))
}

// confirmByReply answers a confirmation request by replying to it.
func confirmByReply(t *testing.T, a *App, addr string, req *mail.Reader) {
	t.Helper()
	SendMail(t, a, addr, []string{strings.Trim(header(req, "Reply-To"), "<>")}, fmt.Sprintf(
		"From: <%s>\nTo: x\nSubject: Re: confirm\nMessage-ID: <c%d@client.example>\nIn-Reply-To: %s\n\nyes\n", addr, time.Now().UnixNano(), header(req, "Message-Id")))
	WaitProcessed(t, a)
}

// Count returns the one number the query sql selects from the app's
// database.
func Count(t *testing.T, a *App, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := a.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// PgDump dumps the database at dbURL with the pg_dump of the installed
// PostgreSQL.
func PgDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	sort.Strings(bins)
	bin := "pg_dump"
	if len(bins) > 0 {
		bin = bins[len(bins)-1]
	}
	cmd := exec.Command(bin, "--no-owner", "--dbname="+dbURL)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, errb.String())
	}
	return out.Bytes()
}

// fakeDNS answers TXT queries from a map; every other name does not exist.
type fakeDNS map[string][]string

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (z fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if r, ok := z[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return r, nil
	}
	return nil, notFound(name)
}
func (z fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, notFound(name)
}
func (z fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, notFound(host)
}
func (z fakeDNS) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, notFound(addr)
}
