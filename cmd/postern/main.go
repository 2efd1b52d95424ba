// Command postern runs the Postern email-first Q&A forum, and is the
// operator's tool for it: one binary, one command per task (the usage
// text below lists them; `postern COMMAND --help` gives each one's flags).
//
//	postern serve      receive mail (SMTP/LMTP, IMAP), process it, send notifications, serve HTTP
//	postern migrate    apply database migrations
//	postern dev        run on an embedded default: private PostgreSQL, Maildir, local ports
//	postern threads | thread ID | inbound list|show ID|retry ID   read the forum and its intake
//	postern outbox list|retry ID|cancel ID | stats | export   notifications, figures, an archive
//	postern user export|forget|moderator ADDRESS   one person's data and role
//	postern category | question | moderate   curate the forum
//	postern import mbox FILE | import maildir DIR   import a mailing-list archive as threads
//	postern dkim keygen | keys reseal   keys
//	postern imap check [URL...]   log in to a mailbox and say what serve would do, changing nothing
//	postern doctor   check DNS, database, relay, keys and base URL; say what to fix
//
// Every setting is a flag with a POSTERN_* environment equivalent, declared
// once in internal/config; a command accepts only the settings it reads. A
// flag wins over its variable, which wins over the default. A command
// that fails exits non-zero with its error on standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first Ctrl-C (or SIGTERM) shuts down cleanly, exit status 0;
		// a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "postern:", err)
		os.Exit(1)
	}
}

const usage = `usage: postern COMMAND [flags]

commands:
  serve                 run the forum: SMTP/LMTP/IMAP intake, processing, notifications, HTTP
  migrate               apply database migrations and exit
  dev                   run on an embedded default (private PostgreSQL, Maildir) for trying it out
  threads               list questions
  thread ID             show one question with its answers and comments
  inbound list          list received messages (--failed: only failures; --held: posts held for confirmation)
  inbound show ID       one received message: what came, its state and reason, the post it became (no address)
  inbound retry ID      reprocess a failed or ignored message
  outbox list           list notifications (--pending | --failed): recipient by person id, attempts, next try
  outbox retry ID       send a failed, cancelled or waiting notification now
  outbox cancel ID      stop a pending notification from being sent
  stats                 posts, people, queue depths and oldest jobs, the last hour's mail by outcome
  export                write every thread as mbox or JSON (--format, --out), display names only, no address
  user export ADDRESS   print what Postern holds about an address
  user forget ADDRESS   erase an address (posts stay, under the display name or --anonymous)
  dkim keygen           make a DKIM key and print the DNS record to publish
  keys reseal           re-encrypt addresses and raw mail with the newest sealing key
  imap check [URL...]   log in to IMAP mailboxes (default: --imap) and report what serve would do; changes nothing
  import mbox FILE      import a mailing-list archive as threads (senders unconfirmed, nobody notified)
  import maildir DIR    the same from a Maildir (its cur/ and new/ messages)
  category add SLUG "Name" | category list
  question close ID [--duplicate-of ID] | question reopen ID
  moderate list | moderate approve ID | moderate reject ID [REASON]
  user moderator ADDRESS [--off]   make (or unmake) a moderator
  config --print-defaults | config --check   every setting as a TOML file | check a configuration, print its values
  doctor [--json] [--outgoing-ip IP]   check MX, SPF, DKIM, DMARC, reverse DNS, database, relay, keys, base URL;
                        print what to fix (exit status 1 when something must be)

Run 'postern COMMAND --help' for the flags of a command.
`

// command runs one postern command with its arguments.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// commands maps each command name (but help) to what runs it.
var commands = map[string]command{
	"serve": cmdServe, "migrate": cmdMigrate, "dev": cmdDev,
	"threads": cmdThreads, "thread": cmdThread, "inbound": cmdInbound,
	"user": cmdUser, "dkim": cmdDKIM, "keys": cmdKeys,
	"category": cmdCategory, "question": cmdQuestion, "moderate": cmdModerate,
	"import": cmdImport, "config": cmdConfig, "imap": cmdIMAP, "doctor": cmdDoctor,
	"outbox": cmdOutbox, "stats": cmdStats, "export": cmdExport,
}

// run runs the command named by args[0] with the rest of args, printing
// the usage for no command, help or an unknown one.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if c, ok := commands[cmd]; ok {
		if subs := subcommands[cmd]; subs != nil && len(rest) > 0 && isHelp(rest[0]) {
			return groupHelp(ctx, cmd, c, subs, stdout)
		}
		return c(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// subcommands are the subcommands of each command that has some, in the
// order their help lists them.
var subcommands = map[string][]string{
	"inbound": {"list", "show", "retry"}, "category": {"add", "list"},
	"outbox":   {"list", "retry", "cancel"},
	"question": {"close", "reopen"}, "moderate": {"list", "approve", "reject"},
	"user": {"export", "forget", "moderator"}, "dkim": {"keygen"},
	"keys": {"reseal"}, "import": {"mbox", "maildir"}, "imap": {"check"},
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// groupHelp prints to stdout the usage of command name's subcommands subs,
// each with its flags (what `postern NAME SUB --help` prints), by running
// c with SUB --help: a subcommand's flags are parsed before it opens
// anything, so that does nothing else.
func groupHelp(ctx context.Context, name string, c command, subs []string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "postern %s has %d subcommands: %s\n", name, len(subs), strings.Join(subs, ", "))
	for _, sub := range subs {
		fmt.Fprintln(stdout)
		if err := c(ctx, []string{sub, "--help"}, stdout, stdout); !errors.Is(err, flag.ErrHelp) {
			return fmt.Errorf("help of %s %s: %w", name, sub, err)
		}
	}
	return nil
}

// The settings each kind of command reads: only these become its flags
// (and appear in its --help). nil means every setting (serve, dev).
var (
	migrateSettings = []string{"database-url"}
	// readSettings: commands that open the store readOnly.
	readSettings = []string{"database-url", "domain"}
	// secretSettings: commands that open the store withSecret.
	secretSettings = []string{"database-url", "domain", "secret-file", "sealing-keys-file"}
	dkimSettings   = []string{"domain", "dkim-selector"}
	importSettings = append(slices.Clip(secretSettings), "log-level", "max-message-bytes",
		"max-attachment-bytes", "max-post-attachment-bytes", "blocked-words", "memory-limit")
)

// synopses are the arguments of the commands that take some, for --help.
var synopses = map[string]string{
	"thread":           "thread ID",
	"inbound retry":    "inbound retry ID",
	"inbound show":     "inbound show ID",
	"outbox retry":     "outbox retry ID",
	"outbox cancel":    "outbox cancel ID",
	"import maildir":   "import maildir DIR",
	"category add":     `category add SLUG "Name"`,
	"question close":   "question close ID",
	"question reopen":  "question reopen ID",
	"moderate approve": "moderate approve ID",
	"moderate reject":  "moderate reject ID [REASON]",
	"user export":      "user export ADDRESS",
	"user forget":      "user forget ADDRESS",
	"user moderator":   "user moderator ADDRESS",
	"import mbox":      "import mbox FILE",
	"imap check":       "imap check [URL...]",
}

// parseConfig parses the flags of a command into a Config: the settings
// named in only (nil: all of them), from their flag, else their
// environment variable, else the configuration file (--config FILE or
// POSTERN_CONFIG), else their default, and the flags extra adds.
// Flags may come before, between and after positional arguments; fs.Args()
// then holds the positional arguments in order.
func parseConfig(name string, args []string, stderr io.Writer, only []string, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, error) {
	cfg := defaultConfig()
	// config.Precedence: the file under the environment and the flags.
	if path := config.FilePath(args, os.LookupEnv); path != "" {
		if err := cfg.LoadFile(path, only); err != nil {
			return cfg, nil, err
		}
	}
	if err := cfg.LoadEnv(os.LookupEnv, only); err != nil {
		return cfg, nil, err
	}
	fs := flag.NewFlagSet("postern "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		syn := synopses[name]
		if syn == "" {
			syn = name
		}
		fmt.Fprintf(stderr, "usage: postern %s [flags]\n\nflags (before or after the arguments):\n", syn)
		config.PrintDefaults(stderr, helpFlags(name, cfg, fs, only, extra))
	}
	cfg.Register(fs, only)
	registerConfigFlag(fs)
	if extra != nil {
		extra(fs)
	}
	if err := parseInterleaved(fs, args); err != nil {
		return cfg, nil, err
	}
	return cfg, fs, nil
}

// helpDefaults are the commands whose --help shows defaults of their own:
// what the command sets where a setting is not given (a copy of the
// configuration is passed, with the command line parsed so far).
var helpDefaults = map[string]func(*Config, *flag.FlagSet){"dev": devHelpDefaults}

// helpFlags is the flag set whose defaults command name's --help shows:
// fs, or for a command of helpDefaults the same flags registered on cfg
// with the command's own defaults applied.
func helpFlags(name string, cfg Config, fs *flag.FlagSet, only []string, extra func(*flag.FlagSet)) *flag.FlagSet {
	own := helpDefaults[name]
	if own == nil {
		return fs
	}
	own(&cfg, fs)
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	cfg.Register(shown, only)
	if extra != nil {
		extra(shown)
	}
	return shown
}

// parseInterleaved parses args with fs, accepting flags after positional
// arguments too (Go's flag package stops at the first one): it takes that
// argument aside and parses the rest again. Everything after "--" is
// positional. On return fs.Args() are the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseNoArgs is parseConfig for a command that takes no positional
// arguments: it fails on any (noArgs).
func parseNoArgs(name string, args []string, stderr io.Writer, only []string, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, error) {
	cfg, fs, err := parseConfig(name, args, stderr, only, extra)
	if err != nil {
		return cfg, fs, err
	}
	return cfg, fs, noArgs(fs)
}

// noArgs reports positional arguments given to a command that takes none.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments, got %q (flags are --name value)", fs.Name(), fs.Arg(0))
	}
	return nil
}

func newLogger(level slog.Level, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func cmdServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	cfg, _, err := parseNoArgs("serve", args, stderr, nil, nil)
	if err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log.Level, stderr)
	warnBaseURL(log, cfg.Forum.BaseURL, false)
	return serve(ctx, cfg, log)
}

// warnBaseURL logs a warning when links would not be https: mail clients
// offer RFC 8058 one-click unsubscribe (List-Unsubscribe-Post) only for an
// https List-Unsubscribe URL. In dev a base URL on localhost or a loopback
// address is expected and not warned about.
func warnBaseURL(log *slog.Logger, baseURL string, dev bool) {
	u, err := url.Parse(baseURL)
	if err == nil && u.Scheme == "https" {
		return
	}
	if dev && err == nil {
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || strings.HasSuffix(host, ".localhost") || (ip != nil && ip.IsLoopback()) {
			return
		}
	}
	log.Warn("base URL is not https: RFC 8058 one-click unsubscribe needs https (mail clients show no one-click button for other links); set --base-url (POSTERN_BASE_URL) to an https address", "base_url", baseURL)
}

// serve runs the app until ctx ends. Under a service manager
// ($NOTIFY_SOCKET, systemd's Type=notify) it reports READY=1 once every
// listener is bound and the database answers, and STOPPING=1 when it
// begins to shut down.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.Memory.Limit > 0 {
		// Large messages come and go in bursts: a soft limit keeps the
		// heap from growing to twice its live size between collections.
		debug.SetMemoryLimit(int64(cfg.Memory.Limit))
	}
	// SIGHUP is taken from here on: from the first "listening" line it
	// reloads, never stops, the server.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.New(ctx, cfg.Config, app.Options{Log: log})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.Close(context.Background())
		return err
	}
	if err := notifyReady(ctx, a, log); err != nil {
		a.Close(context.Background())
		return err
	}
	waitReloading(ctx, a, hup, log)
	log.Info("shutting down")
	sdNotify(log, daemon.SdNotifyStopping)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.SessionGrace)
	defer cancel()
	a.Close(sctx)
	log.Info("shut down")
	return nil
}

// waitReloading waits for ctx to end, reloading the TLS certificate on
// each SIGHUP received on hup (a failed reload keeps the old one, and
// says why).
func waitReloading(ctx context.Context, a *app.App, hup <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := a.ReloadTLS(); err != nil {
				log.Error("TLS certificate not reloaded; the old one stays in use", "err", err)
			} else {
				log.Info("TLS certificate reloaded")
			}
		}
	}
}

func cmdMigrate(ctx context.Context, args []string, _, stderr io.Writer) error {
	cfg, _, err := parseNoArgs("migrate", args, stderr, migrateSettings, nil)
	if err != nil {
		return err
	}
	if err := cfg.Require("database-url"); err != nil {
		return err
	}
	if err := migrateURL(ctx, cfg.Store.DatabaseURL); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "postern: database is up to date")
	return nil
}
