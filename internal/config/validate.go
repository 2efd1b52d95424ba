package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/postern/postern/mailin/imap/imapurl"
)

// Require reports the first of the settings named (by flag) that is not
// set, as "--flag (ENV) is required".
func (c *Config) Require(flags ...string) error {
	for _, name := range flags {
		s, ok := c.Lookup(name)
		if !ok {
			panic("config: Require of unknown setting " + name)
		}
		if s.IsZero() {
			return errors.New(s.named() + " is required")
		}
	}
	return nil
}

// check is one rule of Validate: when bad, setting flag is reported with
// msg.
type check struct {
	flag string
	bad  bool
	msg  string
}

// Validate reports the first setting whose value is out of range, naming
// its flag and variable (never a secret's value). Whether the settings a
// command needs are given at all is Require's job.
func (c *Config) Validate() error {
	smtp, in, f := c.SMTP, c.Intake, c.Forum
	_, imapErr := imapurl.ParseList(c.IMAP.URLs)
	checks := []check{
		{"smtp-addr", smtp.Addr == "" && smtp.LMTPAddr == "" && smtp.SMTPSAddr == "" && strings.TrimSpace(c.IMAP.URLs) == "",
			"is empty and so are --lmtp-addr (POSTERN_LMTP_ADDR), --smtps-addr (POSTERN_SMTPS_ADDR) and --imap (POSTERN_IMAP_URL): set at least one"},
		{"imap", imapErr != nil, errText(imapErr)},
		{"tls-cert-file", (smtp.TLSCertFile == "") != (smtp.TLSKeyFile == ""), "and --tls-key-file (POSTERN_TLS_KEY_FILE) go together: set both or neither"},
		{"smtps-addr", smtp.SMTPSAddr != "" && smtp.TLSCertFile == "", "needs --tls-cert-file (POSTERN_TLS_CERT_FILE) and --tls-key-file"},
		{"tls-min-version", smtp.TLSMinVersion != "1.2" && smtp.TLSMinVersion != "1.3", fmt.Sprintf("%q must be 1.2 or 1.3", smtp.TLSMinVersion)},
		{"domain", f.Domain != "" && !mailDomain(f.Domain), fmt.Sprintf("%q is not a mail domain", f.Domain)},
		{"base-url", !httpURL(f.BaseURL), fmt.Sprintf("%q must be an http(s) URL", f.BaseURL)},
		{"postmaster-address", postmasterProblem(f.PostmasterAddress, f.Domain) != "", postmasterProblem(f.PostmasterAddress, f.Domain)},
		{"held-ttl", f.HeldTTL < time.Minute, "must be at least 1m"},
		{"raw-retention", f.RawRetention < time.Minute, "must be at least 1m"},
		{"confirm-per-address", f.ConfirmPerAddress < 1, "must be at least 1"},
		{"confirm-per-ip", f.ConfirmPerIP < 1, "must be at least 1"},
		{"rate-questions-per-person", f.Rates.QuestionsPerPerson < 1, "must be at least 1 (turn limits off with --rate-limits off)"},
		{"rate-replies-per-person", f.Rates.RepliesPerPerson < 1, "must be at least 1 (turn limits off with --rate-limits off)"},
		{"rate-questions-per-ip", f.Rates.QuestionsPerIP < 1, "must be at least 1 (turn limits off with --rate-limits off)"},
		{"rate-replies-per-ip", f.Rates.RepliesPerIP < 1, "must be at least 1 (turn limits off with --rate-limits off)"},
		{"max-attachment-bytes", f.MaxAttachment < 1, "must be positive"},
		{"max-post-attachment-bytes", f.MaxPostAttachments < f.MaxAttachment, "must be at least --max-attachment-bytes (POSTERN_MAX_ATTACHMENT_BYTES)"},
		{"max-recipients", smtp.MaxRecipients < 1, "must be at least 1"},
		{"max-connections", smtp.MaxConnections < 1, "must be at least 1"},
		{"max-connections-per-ip", smtp.MaxConnectionsPerIP < 1, "must be at least 1"},
		{"max-line-length", smtp.MaxLineLength < 1000, "must be at least RFC 5321's 1000"},
		{"command-timeout", smtp.CommandTimeout < time.Second, "must be at least 1s"},
		{"read-timeout", smtp.ReadTimeout < time.Second, "must be at least 1s"},
		{"write-timeout", smtp.WriteTimeout < time.Second, "must be at least 1s"},
		{"max-session-time", smtp.MaxSessionTime < max(smtp.CommandTimeout, smtp.ReadTimeout), "must be at least the command and read timeouts"},
		{"max-message-bytes", in.MaxMessage < 1024, "must be at least 1KiB"},
		{"max-header-bytes", in.MaxHeader < 1024, "must be at least 1KiB"},
		{"max-received", in.MaxReceived < 1, "must be at least 1"},
		{"commit-timeout", in.CommitTimeout < time.Second, "must be at least 1s"},
		{"workers", c.Process.Workers < 0, "must be at least 0 (0: 2 x cores, at least 4)"},
		{"process-max-attempts", c.Process.MaxAttempts < 1, "must be at least 1"},
		{"notify-workers", c.Notify.Workers < 0, "must be at least 0 (0: 2 x cores, at least 4)"},
		{"maildir", c.Notify.RelayURL == "" && c.Notify.Maildir == "", "is empty and so is --relay-url (POSTERN_RELAY_URL): set one"},
		{"relay-url", c.Notify.RelayURL != "" && !strings.HasPrefix(c.Notify.RelayURL, "smtp://") && !strings.HasPrefix(c.Notify.RelayURL, "smtps://"),
			"must start with smtp:// or smtps://"},
		{"pprof-addr", c.Web.PprofAddr != "" && !loopback(c.Web.PprofAddr), fmt.Sprintf("%q must be a loopback IP and port, e.g. 127.0.0.1:6060", c.Web.PprofAddr)},
		{"auth-dns-timeout", c.Auth.DNSTimeout < 100*time.Millisecond, "must be at least 100ms"},
		{"shutdown-session-grace", c.Shutdown.SessionGrace < time.Second, "must be at least 1s"},
		{"shutdown-worker-grace", c.Shutdown.WorkerGrace < time.Second, "must be at least 1s"},
	}
	for _, k := range checks {
		if k.bad {
			s, ok := c.Lookup(k.flag)
			if !ok {
				panic("config: check of unknown setting " + k.flag)
			}
			return errors.New(s.named() + " " + k.msg)
		}
	}
	return nil
}

// mailDomain reports whether d looks like a mail domain.
func mailDomain(d string) bool {
	return !strings.ContainsAny(d, "@ /") && (strings.Contains(d, ".") || strings.EqualFold(d, "localhost"))
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// postmasterProblem says what is wrong with a postmaster address a for a
// forum on domain ("" when nothing is).
func postmasterProblem(a, domain string) string {
	if a == "" {
		return ""
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " <>\r\n,") {
		return "is not a plain address"
	}
	if strings.EqualFold(a[at+1:], strings.TrimSpace(domain)) {
		return "must be outside the forum domain: mail to it would loop"
	}
	return ""
}

// loopback reports whether addr is a loopback IP and a port.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// errText is err's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
