package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/mailin"
	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/threads"
)

// Config is the whole typed configuration of `postern serve` (and of
// `postern dev`, which fills some fields itself). Every field has a flag
// and a POSTERN_* environment variable; defaults live in defaultConfig.
type Config struct {
	DatabaseURL string        // POSTERN_DATABASE_URL: PostgreSQL connection URL (required for serve)
	Domain      string        // POSTERN_DOMAIN: the forum's mail domain (required)
	ForumName   string        // POSTERN_FORUM_NAME: display name of the forum
	BaseURL     string        // POSTERN_BASE_URL: public web address used in links
	SMTPAddr    string        // POSTERN_SMTP_ADDR: SMTP listen address ("" = off)
	LMTPAddr    string        // POSTERN_LMTP_ADDR: LMTP listen address ("" = off)
	HTTPAddr    string        // POSTERN_HTTP_ADDR: HTTP listen address ("" = off)
	RelayURL    string        // POSTERN_RELAY_URL: smtp:// or smtps:// relay; "" = write to Maildir
	Maildir     string        // POSTERN_MAILDIR: Maildir for outgoing mail when no relay is set
	SecretFile  string        // POSTERN_SECRET_FILE: file with the server secret (>= 32 bytes)
	MaxMessage  int64         // POSTERN_MAX_MESSAGE_BYTES: largest accepted message
	MaxRcpt     int           // POSTERN_MAX_RECIPIENTS: recipients per message
	MaxConns    int           // POSTERN_MAX_CONNECTIONS: concurrent connections per listener
	Workers     int           // POSTERN_WORKERS: concurrent jobs processing mail (2 × cores, at least 4)
	NotifyWkrs  int           // POSTERN_NOTIFY_WORKERS: concurrent jobs sending notifications, each a batch (2 × cores, at least 4)
	ReadTimeout time.Duration // POSTERN_READ_TIMEOUT: wait for each SMTP/LMTP command after MAIL, and longest silence within DATA
	PerIPConns  int           // POSTERN_MAX_CONNECTIONS_PER_IP: SMTP connections one client address may hold
	CmdTimeout  time.Duration // POSTERN_COMMAND_TIMEOUT: wait for each command before MAIL
	SessionMax  time.Duration // POSTERN_MAX_SESSION_TIME: longest SMTP or LMTP connection
	Postmaster  string        // POSTERN_POSTMASTER_ADDRESS: where mail to postmaster@ and abuse@ is forwarded ("" = kept only)
	ProcTries   int           // POSTERN_PROCESS_MAX_ATTEMPTS: processing attempts of one message before it is marked failed
	LogLevel    string        // POSTERN_LOG_LEVEL: debug, info, warn, error
	Transcript  bool          // POSTERN_SMTP_TRANSCRIPT: log SMTP conversations (contain addresses!)
	DataDir     string        // POSTERN_DATA_DIR: `postern dev` state (database, secret, Maildir)
	RateLimits  string        // POSTERN_RATE_LIMITS: "on" (Question2Answer's hourly limits) or "off"
	HeldTTL     time.Duration // POSTERN_HELD_TTL: how long unconfirmed first posts wait
	Retention   time.Duration // POSTERN_RAW_RETENTION: how long raw mail is kept after processing
	DKIMKey     string        // POSTERN_DKIM_KEY_FILE: PEM private key; empty = no DKIM signing
	DKIMSel     string        // POSTERN_DKIM_SELECTOR: DKIM selector
	CloseOnSel  bool          // POSTERN_CLOSE_ON_SELECT: close a question when its best answer is selected
	ModerateLt  int           // POSTERN_MODERATE_BELOW_POINTS: queue posts of people under these points (0 = off)
	Blocked     string        // POSTERN_BLOCKED_WORDS: comma-separated words censored in mail and pages
	AuthTrusted string        // POSTERN_AUTH_TRUSTED_ID: authserv-id of the front MTA whose Authentication-Results are trusted
	AuthVerify  bool          // POSTERN_AUTH_VERIFY_DKIM: verify DKIM, SPF and DMARC with DNS (on: Postern is the MX; ignored with AuthTrusted)
	AuthPolicy  string        // POSTERN_AUTH_POLICY: evidence, dkim or dmarc: what a confirmed member's mail must show to be published
	TrustedNets string        // POSTERN_TRUSTED_NETWORKS: comma-separated CIDRs whose mail is taken as sent by its From ("" = none)
	MaxFile     int           // POSTERN_MAX_ATTACHMENT_BYTES: largest attachment kept
	MaxFiles    int           // POSTERN_MAX_POST_ATTACHMENT_BYTES: attachments kept per post
	PprofAddr   string        // POSTERN_PPROF_ADDR: loopback address serving net/http/pprof ("" = off)
	MemBudget   int64         // POSTERN_MEMORY_BUDGET: bytes of mail held at once by intake, processing and composing
	MemLimit    int64         // POSTERN_MEMORY_LIMIT: Go soft memory limit in bytes (0 = leave GOMEMLIMIT/runtime default)
	SealKeys    string        // POSTERN_SEALING_KEYS_FILE: extra address-encryption keys, "ID BASE64" per line; the highest id seals

	// resolver answers the DNS queries of AuthVerify (tests pass a fake
	// one); nil: the system's. No flag.
	resolver auth.Resolver
	// authTimeout bounds AuthVerify's DNS work per message (0:
	// threads.DefaultAuthTimeout, 5 s); tests shorten it. No flag.
	authTimeout time.Duration
}

// defaultConfig is the one place defaults are set.
func defaultConfig() Config {
	return Config{
		ForumName:   "Postern",
		BaseURL:     "http://localhost:8080",
		SMTPAddr:    "127.0.0.1:2525",
		LMTPAddr:    "127.0.0.1:2424",
		HTTPAddr:    "127.0.0.1:8080",
		Maildir:     "postern-mail",
		MaxMessage:  25 << 20,
		MaxRcpt:     50,
		MaxConns:    200,
		Workers:     max(4, 2*runtime.NumCPU()),
		NotifyWkrs:  max(4, 2*runtime.NumCPU()),
		ProcTries:   threads.DefaultProcessMaxAttempts,
		ReadTimeout: 5 * time.Minute,
		PerIPConns:  mailin.DefaultMaxConnectionsPerIP,
		CmdTimeout:  mailin.DefaultCommandTimeout,
		SessionMax:  mailin.DefaultMaxSessionTime,
		LogLevel:    "info",
		AuthPolicy:  "evidence",
		AuthVerify:  true,
		MaxFile:     10 << 20,
		MemBudget:   256 << 20,
		MemLimit:    512 << 20,
		MaxFiles:    25 << 20,
		DataDir:     "postern-dev",
		RateLimits:  "on",
		HeldTTL:     7 * 24 * time.Hour,
		Retention:   30 * 24 * time.Hour,
		DKIMSel:     "postern",
	}
}

type setting struct {
	name, env, usage string
	ptr              any
}

func (c *Config) settings() []setting {
	return []setting{
		{"database-url", "POSTERN_DATABASE_URL", "PostgreSQL URL (postgres://user@host/db)", &c.DatabaseURL},
		{"domain", "POSTERN_DOMAIN", "the forum's mail domain, e.g. forum.example.org", &c.Domain},
		{"forum-name", "POSTERN_FORUM_NAME", "display name of the forum", &c.ForumName},
		{"base-url", "POSTERN_BASE_URL", "public web address used in links", &c.BaseURL},
		{"smtp-addr", "POSTERN_SMTP_ADDR", "SMTP listen address (empty: off)", &c.SMTPAddr},
		{"lmtp-addr", "POSTERN_LMTP_ADDR", "LMTP listen address (empty: off)", &c.LMTPAddr},
		{"http-addr", "POSTERN_HTTP_ADDR", "HTTP listen address (empty: off)", &c.HTTPAddr},
		{"relay-url", "POSTERN_RELAY_URL", "outgoing relay: smtp://[user:pass@]host:port[?starttls=required] or smtps://...; empty writes to the Maildir", &c.RelayURL},
		{"maildir", "POSTERN_MAILDIR", "Maildir receiving outgoing mail when no relay is set", &c.Maildir},
		{"secret-file", "POSTERN_SECRET_FILE", "file holding the server secret (at least 32 bytes)", &c.SecretFile},
		{"max-message-bytes", "POSTERN_MAX_MESSAGE_BYTES", "largest accepted message in bytes", &c.MaxMessage},
		{"max-recipients", "POSTERN_MAX_RECIPIENTS", "recipients per message", &c.MaxRcpt},
		{"max-connections", "POSTERN_MAX_CONNECTIONS", "concurrent connections per listener", &c.MaxConns},
		{"workers", "POSTERN_WORKERS", "concurrent jobs processing mail (each uses database connections)", &c.Workers},
		{"notify-workers", "POSTERN_NOTIFY_WORKERS", "concurrent jobs sending notifications, each a batch of up to 50 over one relay connection (each uses a database connection while loading and marking)", &c.NotifyWkrs},
		{"read-timeout", "POSTERN_READ_TIMEOUT", "wait for each SMTP/LMTP command after MAIL, and longest silence within DATA (reset as bytes arrive)", &c.ReadTimeout},
		{"max-connections-per-ip", "POSTERN_MAX_CONNECTIONS_PER_IP", "SMTP connections one client address may hold at once; more get 421 4.7.0 (not applied to LMTP)", &c.PerIPConns},
		{"command-timeout", "POSTERN_COMMAND_TIMEOUT", "wait for each SMTP/LMTP command before MAIL (after it, the read timeout)", &c.CmdTimeout},
		{"max-session-time", "POSTERN_MAX_SESSION_TIME", "longest SMTP or LMTP connection", &c.SessionMax},
		{"postmaster-address", "POSTERN_POSTMASTER_ADDRESS", "operator address receiving mail sent to postmaster@ and abuse@ the forum domain (empty: kept for postern inbound list only)", &c.Postmaster},
		{"process-max-attempts", "POSTERN_PROCESS_MAX_ATTEMPTS", "processing attempts of one received message before it is marked failed (River waits about n^4 seconds after the nth; 13 span about 17 hours)", &c.ProcTries},
		{"log-level", "POSTERN_LOG_LEVEL", "debug, info, warn or error", &c.LogLevel},
		{"smtp-transcript", "POSTERN_SMTP_TRANSCRIPT", "log SMTP conversations at debug level (they contain addresses)", &c.Transcript},
		{"data-dir", "POSTERN_DATA_DIR", "state folder of postern dev", &c.DataDir},
		{"rate-limits", "POSTERN_RATE_LIMITS", "per-hour posting limits at RCPT time: on or off", &c.RateLimits},
		{"held-ttl", "POSTERN_HELD_TTL", "how long a first post waits for its author's confirmation", &c.HeldTTL},
		{"raw-retention", "POSTERN_RAW_RETENTION", "how long raw received mail is kept after processing", &c.Retention},
		{"dkim-key-file", "POSTERN_DKIM_KEY_FILE", "PEM private key to DKIM-sign outgoing mail (see postern dkim keygen)", &c.DKIMKey},
		{"dkim-selector", "POSTERN_DKIM_SELECTOR", "DKIM selector", &c.DKIMSel},
		{"close-on-select", "POSTERN_CLOSE_ON_SELECT", "close a question when its asker selects a best answer", &c.CloseOnSel},
		{"moderate-below-points", "POSTERN_MODERATE_BELOW_POINTS", "queue posts of people with fewer points for a moderator (everyone starts at 100; 0 = off)", &c.ModerateLt},
		{"blocked-words", "POSTERN_BLOCKED_WORDS", "comma-separated words censored in notifications and pages", &c.Blocked},
		{"auth-trusted-id", "POSTERN_AUTH_TRUSTED_ID", "authserv-id of the front MTA whose Authentication-Results headers are trusted", &c.AuthTrusted},
		{"auth-verify-dkim", "POSTERN_AUTH_VERIFY_DKIM", "verify DKIM, SPF and DMARC with DNS, at most 5 s per message (Postern as the MX); ignored when --auth-trusted-id is set; false: only reply evidence and trusted networks count", &c.AuthVerify},
		{"max-attachment-bytes", "POSTERN_MAX_ATTACHMENT_BYTES", "largest attachment kept with a post (larger ones are dropped with a note)", &c.MaxFile},
		{"max-post-attachment-bytes", "POSTERN_MAX_POST_ATTACHMENT_BYTES", "total attachments kept with one post", &c.MaxFiles},
		{"memory-limit", "POSTERN_MEMORY_LIMIT", "soft memory limit for the Go runtime in bytes: the GC works harder as it nears it (0: GOMEMLIMIT or none)", &c.MemLimit},
		{"sealing-keys-file", "POSTERN_SEALING_KEYS_FILE", "extra keys encrypting addresses and raw mail, one \"ID BASE64-32-BYTES\" per line (ids from 2; the highest seals new data; postern keys reseal moves old rows to it)", &c.SealKeys},
		{"memory-budget", "POSTERN_MEMORY_BUDGET", "bytes of mail held in memory at once, received, being processed or composed into notifications (at least 4x the largest message); past it sessions wait, then get 451", &c.MemBudget},
		{"pprof-addr", "POSTERN_PPROF_ADDR", "loopback address (127.0.0.1:PORT) serving Go profiles under /debug/pprof/; empty: off", &c.PprofAddr},
		{"auth-policy", "POSTERN_AUTH_POLICY", "evidence (aligned DKIM or SPF pass, DMARC pass, own reply token from own address, trusted network), dkim or dmarc: what a confirmed member's mail must show to be published under their name; without it, it is held and the member asked", &c.AuthPolicy},
		{"trusted-networks", "POSTERN_TRUSTED_NETWORKS", "comma-separated CIDRs whose mail is taken as sent by its From address without other evidence (over LMTP the front MTA's address is checked); empty: none", &c.TrustedNets},
	}
}

// register adds the settings named in only (nil: every setting) to fs as
// flags whose default is the environment variable when set, else the
// built-in default.
func (c *Config) register(fs *flag.FlagSet, only []string) error {
	for _, s := range c.settings() {
		if only != nil && !slices.Contains(only, s.name) {
			continue
		}
		env, hasEnv := os.LookupEnv(s.env)
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		switch p := s.ptr.(type) {
		case *string:
			if hasEnv {
				*p = env
			}
			fs.StringVar(p, s.name, *p, usage)
		case *int:
			if hasEnv {
				v, err := strconv.Atoi(env)
				if err != nil {
					return fmt.Errorf("%s=%q: not an integer", s.env, env)
				}
				*p = v
			}
			fs.IntVar(p, s.name, *p, usage)
		case *int64:
			if hasEnv {
				v, err := strconv.ParseInt(env, 10, 64)
				if err != nil {
					return fmt.Errorf("%s=%q: not an integer", s.env, env)
				}
				*p = v
			}
			fs.Int64Var(p, s.name, *p, usage)
		case *bool:
			if hasEnv {
				v, err := strconv.ParseBool(env)
				if err != nil {
					return fmt.Errorf("%s=%q: not a boolean", s.env, env)
				}
				*p = v
			}
			fs.BoolVar(p, s.name, *p, usage)
		case *time.Duration:
			if hasEnv {
				v, err := time.ParseDuration(env)
				if err != nil {
					return fmt.Errorf("%s=%q: not a duration (e.g. 30s, 5m)", s.env, env)
				}
				*p = v
			}
			fs.DurationVar(p, s.name, *p, usage)
		default:
			return fmt.Errorf("setting %s has unsupported type %T", s.name, p)
		}
	}
	return nil
}

// validate reports the first problem, naming the flag and variable.
func (c *Config) validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("--database-url (POSTERN_DATABASE_URL) is required")
	case c.Domain == "":
		return errors.New("--domain (POSTERN_DOMAIN) is required")
	case c.SecretFile == "":
		return errors.New("--secret-file (POSTERN_SECRET_FILE) is required")
	case c.SMTPAddr == "" && c.LMTPAddr == "":
		return errors.New("at least one of --smtp-addr and --lmtp-addr must be set")
	case c.Workers < 1:
		return errors.New("--workers must be at least 1")
	case c.NotifyWkrs < 1:
		return errors.New("--notify-workers (POSTERN_NOTIFY_WORKERS) must be at least 1")
	case c.ProcTries < 1:
		return errors.New("--process-max-attempts (POSTERN_PROCESS_MAX_ATTEMPTS) must be at least 1")
	case c.RelayURL == "" && c.Maildir == "":
		return errors.New("set --relay-url (POSTERN_RELAY_URL) or --maildir (POSTERN_MAILDIR)")
	case c.RelayURL != "" && !strings.HasPrefix(c.RelayURL, "smtp://") && !strings.HasPrefix(c.RelayURL, "smtps://"):
		return fmt.Errorf("--relay-url %q must start with smtp:// or smtps://", c.RelayURL)
	}
	if c.RateLimits != "on" && c.RateLimits != "off" {
		return fmt.Errorf("--rate-limits %q must be on or off", c.RateLimits)
	}
	if c.HeldTTL < time.Minute || c.Retention < time.Minute {
		return errors.New("--held-ttl and --raw-retention must be at least 1m")
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("--pprof-addr %q must be a loopback IP and port, e.g. 127.0.0.1:6060", c.PprofAddr)
		}
	}
	if c.MaxFile < 1 || c.MaxFiles < c.MaxFile {
		return errors.New("--max-attachment-bytes must be positive and at most --max-post-attachment-bytes")
	}
	if _, err := auth.ParsePolicy(c.AuthPolicy); err != nil {
		return fmt.Errorf("--auth-policy (POSTERN_AUTH_POLICY): %w", err)
	}
	if _, err := threads.ParseNetworks(c.TrustedNets); err != nil {
		return fmt.Errorf("--trusted-networks (POSTERN_TRUSTED_NETWORKS) %q: want comma-separated CIDRs such as 10.0.0.0/8 (%v)", c.TrustedNets, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// readSealingKeys loads the extra sealing keys file: one "ID BASE64" per
// line (32-byte keys, ids from 2; id 1 is derived from the secret), blank
// lines and "#" comments ignored. It returns the keys and the highest id.
func readSealingKeys(path string) (map[int][]byte, int, error) {
	if path == "" {
		return nil, 0, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read sealing keys file: %w", err)
	}
	keys, current := map[int][]byte{}, 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		id, err := strconv.Atoi(f[0])
		if len(f) != 2 || err != nil || id < 2 || id > 255 {
			return nil, 0, fmt.Errorf("sealing keys file %s line %d: want \"ID BASE64\" with ID from 2 to 255", path, i+1)
		}
		key, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(key) != 32 {
			return nil, 0, fmt.Errorf("sealing keys file %s line %d: the key must be 32 bytes in base64 (head -c 32 /dev/urandom | base64)", path, i+1)
		}
		keys[id] = key
		current = max(current, id)
	}
	return keys, current, nil
}

// readSecret loads the server secret from path.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) < 32 {
		return nil, fmt.Errorf("secret file %s holds %d bytes, need at least 32 (e.g. `head -c 48 /dev/urandom | base64 > %s`)", path, len(s), path)
	}
	return s, nil
}
