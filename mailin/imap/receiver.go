package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailin/imap/imapurl"
	"github.com/postern/postern/threads"
)

// Store is what the receiver needs of threads.Store.
type Store interface {
	IMAPCursor(ctx context.Context, key string) (threads.IMAPCursor, error)
	TakeIMAP(ctx context.Context, key string, uidValidity uint32, msgs []threads.IMAPMessage) ([]threads.IMAPTaken, error)
}

// Config is how the receiver reads its mailboxes.
type Config struct {
	// Domain is the forum's mail domain: the recipient is the first
	// address of it in the headers (see envelopeOf).
	Domain string
	// MaxMessage is the largest message stored; larger ones are refused
	// (kept in the mailbox with $PosternFailed).
	MaxMessage int64
	// CommitTimeout bounds each transaction storing a batch.
	CommitTimeout time.Duration
	// TLSConfig is used for TLS and STARTTLS (nil: the system's roots,
	// the URL's host as the server name).
	TLSConfig *tls.Config
	// IdleRefresh is how long one IDLE lasts before it is ended and the
	// mailbox read again (0: 10 minutes; RFC 2177 servers may drop an
	// IDLE after 29).
	IdleRefresh time.Duration
	// NoIdle polls even a server offering IDLE (go-imap's server always
	// offers it: the tests of polling need this).
	NoIdle bool
	// NotReadyAfter is how long a mailbox may go without a working
	// session before Ready fails and an error is logged (0: 5 minutes).
	NotReadyAfter time.Duration
	// BackoffMin and BackoffMax bound the wait before reconnecting,
	// doubled after each failure (0: 1s and 5m).
	BackoffMin, BackoffMax time.Duration
	// BatchBytes is how much mail one transaction stores at most, besides
	// one message of any size (0: 8 MiB, at most a quarter of
	// MemoryBudget); a batch holds at most batchMessages messages.
	BatchBytes int64
	// Memory, when set, is the memory budget (a semaphore of MemoryBudget
	// bytes) shared with the SMTP server and processing: a batch is
	// fetched only once its bytes are charged, and released after its
	// commit.
	Memory       *semaphore.Weighted
	MemoryBudget int64
}

// ConfigFrom is the receiver's part of the configuration and the
// mailboxes of POSTERN_IMAP_URL (none when it is empty); a password_env
// variable not set is an error at once. Its error, from imapurl, holds
// no password.
func ConfigFrom(c config.Config) (Config, []imapurl.Mailbox, error) {
	ms, err := imapurl.ParseList(c.IMAP.URLs)
	if err != nil {
		return Config{}, nil, fmt.Errorf("POSTERN_IMAP_URL: %w", err)
	}
	for i, m := range ms {
		if m.PasswordEnv != "" && os.Getenv(m.PasswordEnv) == "" {
			return Config{}, nil, fmt.Errorf("POSTERN_IMAP_URL: mailbox URL %d: password_env: %s is not set or empty", i+1, m.PasswordEnv)
		}
	}
	return Config{Domain: c.Forum.Domain, MaxMessage: int64(c.Intake.MaxMessage), CommitTimeout: c.Intake.CommitTimeout}.withDefaults(), ms, nil
}

// batchMessages is the most messages one transaction stores.
const batchMessages = 50

// failedKeyword marks a message that was not stored.
const failedKeyword = "$PosternFailed"

func (c Config) withDefaults() Config {
	if c.IdleRefresh <= 0 {
		c.IdleRefresh = 10 * time.Minute
	}
	if c.NotReadyAfter <= 0 {
		c.NotReadyAfter = 5 * time.Minute
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 8 << 20
	}
	if c.MemoryBudget > 0 {
		c.BatchBytes = max(1, min(c.BatchBytes, c.MemoryBudget/4))
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = 30 * time.Second
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 25 << 20
	}
	return c
}

// Receiver reads mailboxes into the store, one goroutine per mailbox,
// from Start to Close.
type Receiver struct {
	cfg       Config
	mailboxes []imapurl.Mailbox
	store     Store
	log       *slog.Logger
	health    *health

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a receiver of mailboxes; nothing runs until Start.
func New(cfg Config, mailboxes []imapurl.Mailbox, store Store, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{cfg: cfg.withDefaults(), mailboxes: mailboxes, store: store, log: log, health: newHealth(mailboxes, time.Now())}
}

// Start begins reading every mailbox; it returns at once.
func (r *Receiver) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	for _, m := range r.mailboxes {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.run(ctx, m)
		}()
	}
}

// Close stops reading and returns once every mailbox's goroutine has
// ended. A batch being stored commits first (within CommitTimeout); its
// move to the done folder may be left to the next start. Safe without
// Start.
func (r *Receiver) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

// run reads mailbox m until ctx ends, reconnecting after each failure
// with exponential backoff, reset by a session that read the folder
// through once (a mailbox that fails at every pass backs off).
func (r *Receiver) run(ctx context.Context, m imapurl.Mailbox) {
	log := r.log.With("mailbox", m.Label())
	wait := r.cfg.BackoffMin
	for {
		s := &session{r: r, m: m, log: log}
		err := s.run(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.readOnce {
			wait = r.cfg.BackoffMin
		}
		r.health.down(m, s.step, r.cfg.NotReadyAfter, log)
		log.Warn("mailbox connection ended, reconnecting", "step", s.step, "err", describe(err), "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, r.cfg.BackoffMax)
	}
}

// errRefused is a session ended by a refusal of ours (plain-text login).
var errRefused = errors.New("refused")
