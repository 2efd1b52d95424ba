package mailin

import (
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/guesslimit"
	"github.com/postern/postern/internal/metrics"
)

// Config is the server's view of the configuration: its limits, filled
// by ConfigFrom from internal/config (the one place their defaults are
// written; internal/config's Validate checks them), and what the caller
// wires in. Every limit must be set: go-smtp treats zero as "unlimited".
type Config struct {
	// Hostname is announced in the greeting; empty: the forum domain.
	Hostname string
	// MaxMessageBytes caps a message; larger ones get 552 5.3.4.
	MaxMessageBytes int64
	// MaxRecipients caps RCPT commands per message.
	MaxRecipients int
	// MaxLineLength caps a command or message line (RFC 5321 says 1000,
	// real mail exceeds it).
	MaxLineLength int
	// MaxHeaderBytes caps the header block; larger gets 552 5.3.4.
	MaxHeaderBytes int
	// MaxReceived caps Received: headers (a mail loop); more gets 554 5.4.6.
	MaxReceived int
	// ReadTimeout and WriteTimeout bound each network read and write.
	ReadTimeout, WriteTimeout time.Duration
	// MaxConnections caps concurrent connections per listener.
	MaxConnections int
	// MaxConnectionsPerIP caps the SMTP connections one client address
	// holds at once; the excess is answered 421 4.7.0 and closed. Not
	// applied over LMTP, whose only peer is the front MTA.
	MaxConnectionsPerIP int
	// CommandTimeout bounds the wait for each command before MAIL (an idle
	// client, 421 4.4.2); after MAIL, ReadTimeout applies.
	CommandTimeout time.Duration
	// MaxSessionTime caps a whole connection, SMTP or LMTP; past it the
	// client gets 421.
	MaxSessionTime time.Duration
	// CommitTimeout bounds the wait for the database; past it the client
	// gets 451 4.3.0.
	CommitTimeout time.Duration
	// MemoryBudget caps the memory of messages being received and stored
	// at once, over all sessions (each counts twice its buffer: the
	// database driver encodes it once more): past it, sessions wait (TCP
	// slows their clients) and, after CommitTimeout, get 451 4.3.1.
	// ConfigFrom raises it to fit one largest message (MemoryFloor).
	MemoryBudget int64
	// Memory, when set, is the budget's semaphore of MemoryBudget bytes,
	// shared with the processing and composing of mail (threads.Options
	// Memory), so that one budget bounds all three; nil gives the server a
	// budget of its own.
	Memory *semaphore.Weighted
	// Transcript logs the SMTP conversation at debug level (transcripts
	// contain addresses).
	Transcript bool
	// Guesses counts the reply tokens a client network tried that did not
	// verify (shared with the web's links); a blocked network's RCPTs get
	// 450 4.7.1. Nil: no limit. Not applied over LMTP.
	Guesses *guesslimit.Limiter
	// Certs, when set, is the SMTP listeners' certificate: STARTTLS is
	// offered over SMTP (never LMTP, whose peer is the local front MTA),
	// and ServeSMTPS serves TLS from the first byte. TLSMinVersion is the
	// lowest version accepted (crypto/tls's constant).
	Certs         *Certs
	TLSMinVersion uint16
	// Metrics counts sessions, refused RCPTs and messages by outcome,
	// and times the intake (nil: not counted).
	Metrics *metrics.Set
}

// ConfigFrom returns the server's part of c (Hostname and Memory unset).
func ConfigFrom(c config.Config) Config {
	maxMsg := int64(c.Intake.MaxMessage)
	return Config{
		MaxMessageBytes: maxMsg, MaxRecipients: c.SMTP.MaxRecipients, MaxLineLength: c.SMTP.MaxLineLength,
		MaxHeaderBytes: int(c.Intake.MaxHeader), MaxReceived: c.Intake.MaxReceived,
		ReadTimeout: c.SMTP.ReadTimeout, WriteTimeout: c.SMTP.WriteTimeout,
		MaxConnections: c.SMTP.MaxConnections, MaxConnectionsPerIP: c.SMTP.MaxConnectionsPerIP,
		CommandTimeout: c.SMTP.CommandTimeout, MaxSessionTime: c.SMTP.MaxSessionTime,
		CommitTimeout: c.Intake.CommitTimeout, MemoryBudget: MemoryFloor(int64(c.Memory.Budget), maxMsg),
		Transcript: c.SMTP.Transcript, TLSMinVersion: TLSVersion(c.SMTP.TLSMinVersion),
	}
}

// MemoryFloor returns budget, raised when it cannot hold one message of
// maxMessage bytes (charged twice, with its buffer's growth slack).
func MemoryFloor(budget, maxMessage int64) int64 {
	if budget < 4*maxMessage {
		return 4*maxMessage + 1<<20
	}
	return budget
}
