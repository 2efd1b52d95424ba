// Package config is Postern's one configuration: the typed struct Config,
// whose every leaf field is a setting described once, beside the field, by
// its tags:
//
//	flag     the command-line flag (--name)
//	env      the environment variable (POSTERN_*)
//	toml     the key in a configuration file (the variable without
//	         POSTERN_, in lower case)
//	default  the default, in the syntax of the flag (absent: the zero value)
//	doc      one line for --help and the README
//	secret   "true": the value is never printed (help, errors, Environ)
//
// Values are typed: durations, byte sizes (Bytes), on/off switches (OnOff),
// comma-separated lists (List, Networks), the log level (slog.Level) and the
// authentication policy (auth.Policy).
//
// Precedence, highest first: a flag given on the command line, then the
// environment variable, then the TOML configuration file (file.go:
// LoadFile, --config or POSTERN_CONFIG), then the default (Default).
//
// Each package that needs settings receives its part (mailin.ConfigFrom,
// threads.ConfigFrom); no package holds defaults of its own. Validate is
// the one check of the values; its messages name the flag and the variable.
package config

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/postern/postern/mailin/auth"
)

// Config is every setting of Postern, grouped by concern. The zero value
// is not useful: start from Default.
type Config struct {
	Store    Store
	Forum    Forum
	SMTP     SMTP
	IMAP     IMAP
	Intake   Intake
	Process  Process
	Notify   Notify
	Web      Web
	Auth     Auth
	Memory   Memory
	Log      Log
	Shutdown Shutdown
	Dev      Dev
}

// Store says where the data lives and how it is sealed.
type Store struct {
	DatabaseURL     string `flag:"database-url" env:"POSTERN_DATABASE_URL" toml:"database_url" secret:"true" doc:"PostgreSQL URL (postgres://user@host/db); never printed, it may hold a password"`
	SecretFile      string `flag:"secret-file" env:"POSTERN_SECRET_FILE" toml:"secret_file" doc:"file holding the server secret (at least 32 bytes)"`
	SealingKeysFile string `flag:"sealing-keys-file" env:"POSTERN_SEALING_KEYS_FILE" toml:"sealing_keys_file" doc:"extra keys encrypting addresses and raw mail, one 'ID BASE64-32-BYTES' per line (ids from 2; the highest seals new data; postern keys reseal moves old rows to it)"`
}

// Forum is what the forum is called, where it lives and its rules.
type Forum struct {
	Domain              string        `flag:"domain" env:"POSTERN_DOMAIN" toml:"domain" doc:"the forum's mail domain, e.g. forum.example.org"`
	ForumName           string        `flag:"forum-name" env:"POSTERN_FORUM_NAME" toml:"forum_name" default:"Postern" doc:"display name of the forum"`
	BaseURL             string        `flag:"base-url" env:"POSTERN_BASE_URL" toml:"base_url" default:"http://localhost:8080" doc:"public web address used in links"`
	PostmasterAddress   string        `flag:"postmaster-address" env:"POSTERN_POSTMASTER_ADDRESS" toml:"postmaster_address" doc:"operator address receiving mail sent to postmaster@ and abuse@ the forum domain (empty: kept for postern inbound list only)"`
	CloseOnSelect       bool          `flag:"close-on-select" env:"POSTERN_CLOSE_ON_SELECT" toml:"close_on_select" doc:"close a question when its asker selects a best answer"`
	WebGuests           bool          `flag:"web-guests" env:"POSTERN_WEB_GUESTS" toml:"web_guests" doc:"publish a web form post without an address at once, as a guest's (off: the forms ask for an address)"`
	ModeratePointsBelow int           `flag:"moderate-below-points" env:"POSTERN_MODERATE_BELOW_POINTS" toml:"moderate_below_points" doc:"queue posts of people with fewer points for a moderator (everyone starts at 100; 0 = off)"`
	BlockedWords        List          `flag:"blocked-words" env:"POSTERN_BLOCKED_WORDS" toml:"blocked_words" doc:"comma-separated words censored in notifications and pages"`
	HeldTTL             time.Duration `flag:"held-ttl" env:"POSTERN_HELD_TTL" toml:"held_ttl" default:"168h" doc:"how long a first post waits for its author's confirmation"`
	RawRetention        time.Duration `flag:"raw-retention" env:"POSTERN_RAW_RETENTION" toml:"raw_retention" default:"720h" doc:"how long raw received mail is kept after processing"`
	ConfirmPerAddress   int           `flag:"confirm-per-address" env:"POSTERN_CONFIRM_PER_ADDRESS" toml:"confirm_per_address" default:"3" doc:"confirmation requests sent to one address per 24 hours"`
	ConfirmPerIP        int           `flag:"confirm-per-ip" env:"POSTERN_CONFIRM_PER_IP" toml:"confirm_per_ip" default:"20" doc:"confirmation requests caused by mail from one client IP per hour"`
	Rates               Rates
	MaxAttachment       Bytes `flag:"max-attachment-bytes" env:"POSTERN_MAX_ATTACHMENT_BYTES" toml:"max_attachment_bytes" default:"10MiB" doc:"largest attachment kept with a post (larger ones are dropped with a note)"`
	MaxPostAttachments  Bytes `flag:"max-post-attachment-bytes" env:"POSTERN_MAX_POST_ATTACHMENT_BYTES" toml:"max_post_attachment_bytes" default:"25MiB" doc:"total attachments kept with one post"`
}

// Rates are Question2Answer's per-hour posting limits, per person and per
// client IP, checked at RCPT time and again when a post is processed.
type Rates struct {
	Limits             OnOff `flag:"rate-limits" env:"POSTERN_RATE_LIMITS" toml:"rate_limits" default:"on" doc:"per-hour posting limits at RCPT time and processing: on or off"`
	QuestionsPerPerson int   `flag:"rate-questions-per-person" env:"POSTERN_RATE_QUESTIONS_PER_PERSON" toml:"rate_questions_per_person" default:"10" doc:"questions one person may post per hour"`
	RepliesPerPerson   int   `flag:"rate-replies-per-person" env:"POSTERN_RATE_REPLIES_PER_PERSON" toml:"rate_replies_per_person" default:"45" doc:"answers and comments one person may post per hour"`
	QuestionsPerIP     int   `flag:"rate-questions-per-ip" env:"POSTERN_RATE_QUESTIONS_PER_IP" toml:"rate_questions_per_ip" default:"20" doc:"questions per hour from one client IP"`
	RepliesPerIP       int   `flag:"rate-replies-per-ip" env:"POSTERN_RATE_REPLIES_PER_IP" toml:"rate_replies_per_ip" default:"90" doc:"answers and comments per hour from one client IP"`
	BadTokensPerIP     int   `flag:"rate-bad-tokens-per-ip" env:"POSTERN_RATE_BAD_TOKENS_PER_IP" toml:"rate_bad_tokens_per_ip" default:"30" doc:"reply addresses and web links with a token that does not verify one client network may try per hour, per instance; past it SMTP answers 450 and the web 429"`
}

// SMTP is the SMTP and LMTP listeners and their protocol limits.
type SMTP struct {
	Addr                string        `flag:"smtp-addr" env:"POSTERN_SMTP_ADDR" toml:"smtp_addr" default:"127.0.0.1:2525" doc:"SMTP listen address (empty: off)"`
	SMTPSAddr           string        `flag:"smtps-addr" env:"POSTERN_SMTPS_ADDR" toml:"smtps_addr" doc:"implicit-TLS SMTP listen address (port 465 style: TLS from the first byte; needs --tls-cert-file); empty: off"`
	TLSCertFile         string        `flag:"tls-cert-file" env:"POSTERN_TLS_CERT_FILE" toml:"tls_cert_file" doc:"PEM certificate chain of the SMTP listeners: STARTTLS is offered on --smtp-addr, and --smtps-addr serves TLS; reloaded on SIGHUP; empty: no TLS"`
	TLSKeyFile          string        `flag:"tls-key-file" env:"POSTERN_TLS_KEY_FILE" toml:"tls_key_file" doc:"PEM private key of --tls-cert-file; reloaded with it on SIGHUP"`
	TLSMinVersion       string        `flag:"tls-min-version" env:"POSTERN_TLS_MIN_VERSION" toml:"tls_min_version" default:"1.2" doc:"lowest TLS version the SMTP listeners accept: 1.2 or 1.3"`
	LMTPAddr            string        `flag:"lmtp-addr" env:"POSTERN_LMTP_ADDR" toml:"lmtp_addr" default:"127.0.0.1:2424" doc:"LMTP listen address (empty: off)"`
	MaxRecipients       int           `flag:"max-recipients" env:"POSTERN_MAX_RECIPIENTS" toml:"max_recipients" default:"50" doc:"recipients per message"`
	MaxConnections      int           `flag:"max-connections" env:"POSTERN_MAX_CONNECTIONS" toml:"max_connections" default:"200" doc:"concurrent connections per listener"`
	MaxConnectionsPerIP int           `flag:"max-connections-per-ip" env:"POSTERN_MAX_CONNECTIONS_PER_IP" toml:"max_connections_per_ip" default:"10" doc:"SMTP connections one client address (IPv6: its /64) may hold at once; more get 421 4.7.0 (not applied to LMTP)"`
	MaxLineLength       int           `flag:"max-line-length" env:"POSTERN_MAX_LINE_LENGTH" toml:"max_line_length" default:"4096" doc:"longest command or message line in bytes (RFC 5321 says 1000, real mail exceeds it)"`
	CommandTimeout      time.Duration `flag:"command-timeout" env:"POSTERN_COMMAND_TIMEOUT" toml:"command_timeout" default:"30s" doc:"wait for each SMTP/LMTP command before MAIL (after it, the read timeout)"`
	ReadTimeout         time.Duration `flag:"read-timeout" env:"POSTERN_READ_TIMEOUT" toml:"read_timeout" default:"5m" doc:"wait for each SMTP/LMTP command after MAIL, and longest silence within DATA (reset as bytes arrive)"`
	WriteTimeout        time.Duration `flag:"write-timeout" env:"POSTERN_WRITE_TIMEOUT" toml:"write_timeout" default:"1m" doc:"longest wait for a client to take a reply (SMTP/LMTP write deadline)"`
	MaxSessionTime      time.Duration `flag:"max-session-time" env:"POSTERN_MAX_SESSION_TIME" toml:"max_session_time" default:"1h" doc:"longest SMTP or LMTP connection"`
	Transcript          bool          `flag:"smtp-transcript" env:"POSTERN_SMTP_TRANSCRIPT" toml:"smtp_transcript" doc:"log SMTP conversations at debug level (they contain addresses)"`
}

// IMAP is the mailboxes read over IMAP (package mailin/imap), for a forum
// whose mail a provider receives.
type IMAP struct {
	URLs string `flag:"imap" env:"POSTERN_IMAP_URL" toml:"imap_url" secret:"true" doc:"mailboxes to read, separated by spaces: imaps://USER:PASS@HOST[:PORT]/MAILBOX or imap://... (STARTTLS), options ?starttls=required, ?password_file=PATH, ?password_env=VAR (the password from that environment variable), ?poll=30s, ?done=FOLDER (empty: flag \\Seen only); empty: none; never printed, it may hold a password"`
}

// Intake is what one received message may be and how long storing it may
// take.
type Intake struct {
	MaxMessage    Bytes         `flag:"max-message-bytes" env:"POSTERN_MAX_MESSAGE_BYTES" toml:"max_message_bytes" default:"25MiB" doc:"largest accepted message in bytes; larger get 552 5.3.4"`
	MaxHeader     Bytes         `flag:"max-header-bytes" env:"POSTERN_MAX_HEADER_BYTES" toml:"max_header_bytes" default:"1MiB" doc:"largest header block of a message; larger get 552 5.3.4"`
	MaxReceived   int           `flag:"max-received" env:"POSTERN_MAX_RECEIVED" toml:"max_received" default:"50" doc:"most Received headers a message may carry (more: a mail loop, 554 5.4.6)"`
	CommitTimeout time.Duration `flag:"commit-timeout" env:"POSTERN_COMMIT_TIMEOUT" toml:"commit_timeout" default:"30s" doc:"longest wait to store a received message (or for memory to hold it); past it the client gets 451"`
}

// Process is the processing of received mail.
type Process struct {
	Workers     int `flag:"workers" env:"POSTERN_WORKERS" toml:"workers" doc:"concurrent jobs processing mail, each using database connections (0: 2 x cores, at least 4)"`
	MaxAttempts int `flag:"process-max-attempts" env:"POSTERN_PROCESS_MAX_ATTEMPTS" toml:"process_max_attempts" default:"13" doc:"processing attempts of one received message before it is marked failed (River waits about n^4 seconds after the nth; 13 span about 17 hours)"`
}

// Notify is how outgoing mail leaves.
type Notify struct {
	Workers     int    `flag:"notify-workers" env:"POSTERN_NOTIFY_WORKERS" toml:"notify_workers" doc:"relay connections sending notifications at once, each carrying batches of up to 50; twice as many sending jobs run, so one loads or marks its batch while another sends (0: 2 x cores, at least 4)"`
	RelayCAFile string `flag:"relay-ca-file" env:"POSTERN_RELAY_CA_FILE" toml:"relay_ca_file" doc:"PEM file of the certificate authorities the relay's certificate must chain to, instead of the system's (a private relay's own CA); empty: the system's"`
	RelayURL    string `flag:"relay-url" env:"POSTERN_RELAY_URL" toml:"relay_url" secret:"true" doc:"outgoing relay: smtp://[user:pass@]host:port[?starttls=required] or smtps://...; empty writes to the Maildir; never printed, it may hold a password"`
	Maildir     string `flag:"maildir" env:"POSTERN_MAILDIR" toml:"maildir" default:"postern-mail" doc:"Maildir receiving outgoing mail when no relay is set"`
	DKIMKeyFile string `flag:"dkim-key-file" env:"POSTERN_DKIM_KEY_FILE" toml:"dkim_key_file" doc:"PEM private key to DKIM-sign outgoing mail (see postern dkim keygen)"`
	DKIMSel     string `flag:"dkim-selector" env:"POSTERN_DKIM_SELECTOR" toml:"dkim_selector" default:"postern" doc:"DKIM selector"`
}

// Web is the HTTP listeners.
type Web struct {
	HTTPAddr       string   `flag:"http-addr" env:"POSTERN_HTTP_ADDR" toml:"http_addr" default:"127.0.0.1:8080" doc:"HTTP listen address (empty: off)"`
	MetricsAddr    string   `flag:"metrics-addr" env:"POSTERN_METRICS_ADDR" toml:"metrics_addr" default:"127.0.0.1:9464" doc:"listen address of the Prometheus metrics (/metrics), never the public HTTP listener's (empty: off)"`
	TrustedProxies Networks `flag:"trusted-proxies" env:"POSTERN_TRUSTED_PROXIES" toml:"trusted_proxies" default:"127.0.0.0/8,::1/128" doc:"comma-separated CIDRs of reverse proxies in front of the HTTP listener (nginx, Caddy): for a request from one of them the client is the last X-Forwarded-For address outside them, for the per-network limits; from elsewhere the header is ignored; empty: always ignored"`
	PprofAddr      string   `flag:"pprof-addr" env:"POSTERN_PPROF_ADDR" toml:"pprof_addr" doc:"loopback address (127.0.0.1:PORT) serving Go profiles under /debug/pprof/; empty: off"`
}

// Auth says who may post as whom: where DKIM/SPF/DMARC results come from
// and what a confirmed member's mail must show.
type Auth struct {
	TrustedID       string        `flag:"auth-trusted-id" env:"POSTERN_AUTH_TRUSTED_ID" toml:"auth_trusted_id" doc:"authserv-id of the front MTA whose Authentication-Results headers are trusted"`
	Verify          bool          `flag:"auth-verify-dkim" env:"POSTERN_AUTH_VERIFY_DKIM" toml:"auth_verify_dkim" default:"true" doc:"verify DKIM, SPF and DMARC with DNS (Postern as the MX); ignored when --auth-trusted-id is set; false: only reply evidence and trusted networks count"`
	DNSTimeout      time.Duration `flag:"auth-dns-timeout" env:"POSTERN_AUTH_DNS_TIMEOUT" toml:"auth_dns_timeout" default:"5s" doc:"longest DNS work of --auth-verify-dkim for one message; a lookup cut short is no evidence"`
	Policy          auth.Policy   `flag:"auth-policy" env:"POSTERN_AUTH_POLICY" toml:"auth_policy" default:"evidence" doc:"evidence (aligned DKIM or SPF pass, DMARC pass, own reply token from own address, trusted network), dkim or dmarc: what a confirmed member's mail must show to be published under their name; without it, it is held and the member asked"`
	TrustedNetworks Networks      `flag:"trusted-networks" env:"POSTERN_TRUSTED_NETWORKS" toml:"trusted_networks" doc:"comma-separated CIDRs whose mail is taken as sent by its From address without other evidence (over LMTP the front MTA's address is checked); empty: none"`
}

// Memory bounds the memory Postern uses.
type Memory struct {
	Budget Bytes `flag:"memory-budget" env:"POSTERN_MEMORY_BUDGET" toml:"memory_budget" default:"256MiB" doc:"bytes of mail held in memory at once, received, being processed or composed into notifications (raised to fit 4x the largest message); past it sessions wait, then get 451"`
	Limit  Bytes `flag:"memory-limit" env:"POSTERN_MEMORY_LIMIT" toml:"memory_limit" default:"512MiB" doc:"soft memory limit for the Go runtime in bytes: the GC works harder as it nears it (0: GOMEMLIMIT or none)"`
}

// Log is what Postern logs.
type Log struct {
	Level slog.Level `flag:"log-level" env:"POSTERN_LOG_LEVEL" toml:"log_level" default:"info" doc:"debug, info, warn or error"`
}

// Shutdown is how SIGTERM ends serve and dev: listeners close, sessions
// waiting for a command are answered 421 4.3.2 at once, then each stage
// has its own deadline.
type Shutdown struct {
	SessionGrace time.Duration `flag:"shutdown-session-grace" env:"POSTERN_SHUTDOWN_SESSION_GRACE" toml:"shutdown_session_grace" default:"30s" doc:"on SIGTERM, how long SMTP/LMTP sessions in DATA and HTTP requests may take to finish; then they are cut"`
	WorkerGrace  time.Duration `flag:"shutdown-worker-grace" env:"POSTERN_SHUTDOWN_WORKER_GRACE" toml:"shutdown_worker_grace" default:"30s" doc:"on SIGTERM, how long running jobs (processing, sending) may take to finish once the sessions ended; a job cut off is retried after the restart"`
}

// Dev holds the settings of postern dev only.
type Dev struct {
	DataDir string `flag:"data-dir" env:"POSTERN_DATA_DIR" toml:"data_dir" default:"postern-dev" doc:"state folder of postern dev (database, secret, Maildir), locked by the one running on it"`
}

// Default returns the configuration with every setting at its default.
func Default() Config {
	var c Config
	for _, s := range c.Settings() {
		if s.Default == "" {
			continue
		}
		if err := s.set(s.Default); err != nil {
			panic("config: default of " + s.Flag + ": " + err.Error())
		}
	}
	return c
}

// Workers returns the processing and notification worker counts, a 0
// setting resolved to 2 × runtime.NumCPU(), at least 4.
func (c Config) Workers() (process, notify int) {
	auto := max(4, 2*runtime.NumCPU())
	process, notify = c.Process.Workers, c.Notify.Workers
	if process == 0 {
		process = auto
	}
	if notify == 0 {
		notify = auto
	}
	return process, notify
}
