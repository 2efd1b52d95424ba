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
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/web/links"
)

// Store is the forum's PostgreSQL store. It owns no connections: the pool
// and River client are the caller's, and must outlive the Store.
type Store struct {
	pool  *pgxpool.Pool
	river *river.Client[pgx.Tx]
	cfg   Config
	keys  *Keys
	addrs *Addresses
	log   *slog.Logger

	procMem    *semaphore.Weighted // Config.ProcessMemory
	procMemCap int64

	group groupCommit // intake transactions shared by concurrent Accept calls
}

// NewStore returns a Store. SetRiver must be called before Accept or
// Process are used (River's client needs the workers, which need the Store).
func NewStore(pool *pgxpool.Pool, cfg Config, keys *Keys, log *slog.Logger) *Store {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	return &Store{pool: pool, cfg: cfg, keys: keys, addrs: NewAddresses(cfg, keys), log: log,
		procMem: semaphore.NewWeighted(cfg.ProcessMemory), procMemCap: cfg.ProcessMemory}
}

// ShareMemory makes processing count against mem, a budget of size bytes
// that the SMTP intake and the composing of notifications share (see
// ProcessMemory for what a message counts), instead of a budget of its
// own. It must be called before Process is used.
func (s *Store) ShareMemory(mem *semaphore.Weighted, size int64) {
	s.procMem, s.procMemCap = mem, size
}

// Memory returns the memory budget processing counts against and its
// size in bytes, for the other steps that share it.
func (s *Store) Memory() (*semaphore.Weighted, int64) { return s.procMem, s.procMemCap }

// SetRiver sets the River client used to enqueue jobs transactionally.
func (s *Store) SetRiver(c *river.Client[pgx.Tx]) { s.river = c }

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Addresses returns the forum address parser/builder.
func (s *Store) Addresses() *Addresses { return s.addrs }

// Keys returns the derived keys.
func (s *Store) Keys() *Keys { return s.keys }

// Config returns the store's configuration (defaults applied).
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
	err := tx.QueryRow(ctx, `SELECT id, display_name, token_epoch, confirmed_at IS NOT NULL, suppressed_at IS NOT NULL, command_confirmations
		FROM people WHERE address_hash = $1`, hash).Scan(&p.ID, &p.DisplayName, &p.Epoch, &p.Confirmed, &p.Suppressed, &p.commandConfirm)
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
