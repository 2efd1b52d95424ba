package threads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/web/links"
)

// Store is the forum's PostgreSQL store. It owns no connections: the pool
// and the job inserter are the caller's, and must outlive the Store.
type Store struct {
	pool  *pgxpool.Pool
	jobs  Jobs
	cfg   Config
	keys  *Keys
	addrs *Addresses
	log   *slog.Logger

	procMem    *semaphore.Weighted // Options.Memory, or Config.ProcessMemory of its own
	procMemCap int64
	onCommit   func(rows int) // Options.OnCommit

	group groupCommit // intake transactions shared by concurrent Accept calls

	readyChecks []func() error // AddReadyCheck (ready.go)
}

// Jobs enqueues River jobs inside the caller's transaction, so that a job
// exists exactly when its row commits. An insert-only *river.Client
// (river.NewClient with no Queues or Workers) satisfies it: the Store never
// works jobs, so it needs no client that knows the workers, and nothing
// has to be built in a particular order.
type Jobs interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Options are what a Store uses without owning.
type Options struct {
	// Jobs enqueues the jobs of intake, processing and notification. nil
	// makes a store that only reads and writes rows: Accept and anything
	// that enqueues fail.
	Jobs Jobs
	// Memory, when set, is the budget of MemorySize bytes that processing
	// counts against (see Config.ProcessMemory for what a message
	// counts), shared with the SMTP intake and the composing of
	// notifications; nil gives the store a budget of its own of
	// Config.ProcessMemory bytes.
	Memory     *semaphore.Weighted
	MemorySize int64
	// Log receives the store's log lines; nil is slog.Default().
	Log *slog.Logger
	// OnCommit, when set, is told the rows of each group-commit
	// transaction of the intake that committed (for the metrics).
	OnCommit func(rows int)
}

// NewStore returns a Store over pool with cfg (see ConfigFrom) and keys.
func NewStore(pool *pgxpool.Pool, cfg Config, keys *Keys, opts Options) *Store {
	cfg = cfg.normalized()
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Store{pool: pool, jobs: opts.Jobs, cfg: cfg, keys: keys, addrs: NewAddresses(cfg, keys), log: log,
		procMem: opts.Memory, procMemCap: opts.MemorySize, onCommit: opts.OnCommit}
	if s.procMem == nil {
		s.procMem, s.procMemCap = semaphore.NewWeighted(cfg.ProcessMemory), cfg.ProcessMemory
	}
	return s
}

// Memory returns the memory budget processing counts against and its
// size in bytes, for the other steps that share it.
func (s *Store) Memory() (*semaphore.Weighted, int64) { return s.procMem, s.procMemCap }

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Addresses returns the forum address parser/builder.
func (s *Store) Addresses() *Addresses { return s.addrs }

// Keys returns the derived keys.
func (s *Store) Keys() *Keys { return s.keys }

// Config returns the store's configuration (normalized).
func (s *Store) Config() Config { return s.cfg }

// Links returns the builder of the forum's web addresses (Config.BaseURL).
func (s *Store) Links() links.Links { return links.New(s.cfg.BaseURL) }

// Person is a forum member as the store knows them. Address is only filled
// by the functions documented to decrypt it.
type Person struct {
	ID          int64
	DisplayName string
	Epoch       int64
	Confirmed   bool
	Suppressed  bool

	commandConfirm bool // wants one-line confirmations of commands
	// unproven: a confirmed member (Confirmed cleared for this message)
	// whose message carries no evidence that they sent it.
	unproven bool
	// stoppedAll: the person has stopped all mail (people.unsubscribed_at).
	stoppedAll bool
}

// ensurePerson returns the person with addr, creating them (with display
// name name) when unknown. It runs inside tx.
func (s *Store) ensurePerson(ctx context.Context, tx pgx.Tx, addr, name string) (Person, error) {
	hash := s.keys.AddressHash(addr)
	var p Person
	// No row lock here: a person's messages are processed in parallel.
	// Paths that count per-person limits lock the row themselves (FOR NO
	// KEY UPDATE, which foreign keys' KEY SHARE locks do not conflict
	// with, so inserting posts and notifications never deadlocks on it).
	err := tx.QueryRow(ctx, `SELECT id, display_name, token_epoch, confirmed_at IS NOT NULL, suppressed_at IS NOT NULL, command_confirmations, unsubscribed_at IS NOT NULL
		FROM people WHERE address_hash = $1`, hash).Scan(&p.ID, &p.DisplayName, &p.Epoch, &p.Confirmed, &p.Suppressed, &p.commandConfirm, &p.stoppedAll)
	if err == nil {
		if p.DisplayName == "" && name != "" {
			if _, err := tx.Exec(ctx, `UPDATE people SET display_name = $2 WHERE id = $1`, p.ID, name); err != nil {
				return Person{}, fmt.Errorf("update display name: %w", err)
			}
			p.DisplayName = name
		}
		return p, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Person{}, fmt.Errorf("look up person: %w", err)
	}
	keyID, sealed, err := s.keys.Seal(addr)
	if err != nil {
		return Person{}, err
	}
	// A new address starts unconfirmed: its first post is held until the
	// person answers a confirmation request.
	err = tx.QueryRow(ctx, `INSERT INTO people (display_name, address_hash, address_enc, key_id)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (address_hash) DO NOTHING
		RETURNING id, display_name, token_epoch, confirmed_at IS NOT NULL, suppressed_at IS NOT NULL`,
		name, hash, sealed, keyID).Scan(&p.ID, &p.DisplayName, &p.Epoch, &p.Confirmed, &p.Suppressed)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another transaction created them meanwhile (and has committed,
		// since the insert waited for it): use that row.
		err = tx.QueryRow(ctx, `SELECT id, display_name, token_epoch, confirmed_at IS NOT NULL, suppressed_at IS NOT NULL, command_confirmations
			FROM people WHERE address_hash = $1`, hash).Scan(&p.ID, &p.DisplayName, &p.Epoch, &p.Confirmed, &p.Suppressed, &p.commandConfirm)
		if err != nil {
			return Person{}, fmt.Errorf("load person: %w", err)
		}
		return p, nil
	}
	if err != nil {
		return Person{}, fmt.Errorf("insert person: %w", err)
	}
	if p.DisplayName == "" {
		p.DisplayName = fmt.Sprintf("Member %d", p.ID)
		if _, err := tx.Exec(ctx, `UPDATE people SET display_name = $2 WHERE id = $1`, p.ID, p.DisplayName); err != nil {
			return Person{}, fmt.Errorf("set display name: %w", err)
		}
	}
	return p, nil
}

// cleanDisplayName makes a From display name safe to show: it drops
// anything that looks like an address and control characters.
func cleanDisplayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(strings.TrimSpace(name), `"'`)
	if strings.Contains(name, "@") {
		return ""
	}
	if r := []rune(name); len(r) > 80 {
		name = string(r[:80])
	}
	return strings.TrimSpace(name)
}

// TokenEpoch returns person id's current token epoch; ok is false when the
// person does not exist (or was forgotten).
func (s *Store) TokenEpoch(ctx context.Context, id int64) (epoch int64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT token_epoch FROM people WHERE id = $1 AND address_hash IS NOT NULL`, id).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("load token epoch: %w", err)
	}
	return epoch, true, nil
}
