package mailin

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/semaphore"
)

// Config holds the server's limits. Every limit is explicit: go-smtp treats
// zero as "unlimited", so WithDefaults fills each one.
type Config struct {
	// Hostname is announced in the greeting. Default: the forum domain.
	Hostname string
	// MaxMessageBytes caps a message; larger ones get 552 5.3.4.
	// Default 25 MiB.
	MaxMessageBytes int64
	// MaxRecipients caps RCPT commands per message. Default 50.
	MaxRecipients int
	// MaxLineLength caps a command or message line. Default 4096 (RFC 5321
	// says 1000, real mail exceeds it).
	MaxLineLength int
	// MaxHeaderBytes caps the header block; larger gets 552 5.3.4.
	// Default 1 MiB.
	MaxHeaderBytes int
	// MaxReceived caps Received: headers (a mail loop); more gets 554 5.4.6.
	// Default 50.
	MaxReceived int
	// ReadTimeout and WriteTimeout bound each network read and write.
	// Defaults 5 minutes and 1 minute.
	ReadTimeout, WriteTimeout time.Duration
	// MaxConnections caps concurrent connections per listener. Default 200.
	MaxConnections int
	// MaxConnectionsPerIP caps the SMTP connections one client address
	// holds at once; the excess is answered 421 4.7.0 and closed. Not
	// applied over LMTP, whose only peer is the front MTA. Default
	// DefaultMaxConnectionsPerIP.
	MaxConnectionsPerIP int
	// CommandTimeout bounds the wait for each command before MAIL (an idle
	// client, 421 4.4.2); after MAIL, ReadTimeout applies. Default
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
	// MaxSessionTime caps a whole connection, SMTP or LMTP; past it the
	// client gets 421. Default DefaultMaxSessionTime.
	MaxSessionTime time.Duration
	// CommitTimeout bounds the wait for the database; past it the client
	// gets 451 4.3.0. Default 30 seconds.
	CommitTimeout time.Duration
	// MemoryBudget caps the memory of messages being received and stored
	// at once, over all sessions (each counts twice its buffer: the
	// database driver encodes it once more): past it, sessions wait (TCP
	// slows their clients) and, after CommitTimeout, get 451 4.3.1.
	// Default 256 MiB, raised to fit one largest message.
	MemoryBudget int64
	// Memory, when set, is the budget's semaphore of MemoryBudget bytes,
	// shared with the processing and composing of mail (threads.Store
	// ShareMemory), so that one budget bounds all three; nil gives the
	// server a budget of its own.
	Memory *semaphore.Weighted
	// Transcript logs the SMTP conversation at debug level. Off by default:
	// transcripts contain addresses.
	Transcript bool
}

// Defaults of the connection limits (written once: the command line uses
// them too).
const (
	DefaultMaxConnectionsPerIP = 10
	DefaultCommandTimeout      = 30 * time.Second
	DefaultMaxSessionTime      = time.Hour
)

// WithDefaults returns c with every zero limit set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 25 << 20
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 50
	}
	if c.MaxLineLength == 0 {
		c.MaxLineLength = 4096
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 1 << 20
	}
	if c.MaxReceived == 0 {
		c.MaxReceived = 50
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Minute
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 200
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.MaxSessionTime == 0 {
		c.MaxSessionTime = DefaultMaxSessionTime
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = 256 << 20
	}
	if c.MemoryBudget < 4*c.MaxMessageBytes {
		// One largest message (charged twice, with its buffer's growth
		// slack) must fit.
		c.MemoryBudget = 4*c.MaxMessageBytes + 1<<20
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 30 * time.Second
	}
	return c
}

// Validate reports the first invalid limit.
func (c Config) Validate() error {
	switch {
	case c.MaxMessageBytes < 1024:
		return fmt.Errorf("max message size %d is below 1 KiB", c.MaxMessageBytes)
	case c.MaxRecipients < 1:
		return errors.New("max recipients must be at least 1")
	case c.MaxLineLength < 1000:
		return fmt.Errorf("max line length %d is below RFC 5321's 1000", c.MaxLineLength)
	case c.MaxHeaderBytes < 1024:
		return fmt.Errorf("max header size %d is below 1 KiB", c.MaxHeaderBytes)
	case c.ReadTimeout < time.Second || c.WriteTimeout < time.Second:
		return errors.New("read and write timeouts must be at least 1s")
	case c.MaxConnections < 1:
		return errors.New("max connections must be at least 1")
	case c.MaxConnectionsPerIP < 1:
		return errors.New("max connections per client address must be at least 1")
	case c.CommandTimeout < time.Second:
		return errors.New("command timeout must be at least 1s")
	case c.MaxSessionTime < c.CommandTimeout || c.MaxSessionTime < c.ReadTimeout:
		return errors.New("max session time must be at least the command and read timeouts")
	}
	return nil
}
