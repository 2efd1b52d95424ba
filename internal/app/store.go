package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/threads"
)

// fetchCooldown is River's FetchCooldown for every client: with a backlog,
// River fetches at most MaxWorkers jobs per cooldown, so it caps
// throughput, and an inserting client notifies a queue at most once per
// cooldown, so it bounds how long a new job waits to be seen.
const fetchCooldown = 2 * time.Millisecond

// StoreOptions say how OpenStore opens the store for a command.
type StoreOptions struct {
	// Secret: read the server secret and the sealing keys, for the
	// commands that look people up by address, decrypt or mint tokens
	// (serve, dev, user, keys, import); --domain and --secret-file are
	// then required. Without it the store gets a throwaway key: the read
	// commands never decrypt or mint tokens, and need no secret.
	Secret bool
	// MaxConns caps the connection pool (0: pgxpool's default).
	MaxConns int32
	// Log receives the store's log lines; else LogTo does, as text at the
	// configured level; else none are written.
	Log   *slog.Logger
	LogTo io.Writer
	// Memory, when set, is the budget of MemorySize bytes processing
	// shares with intake and notifications (serve).
	Memory     *semaphore.Weighted
	MemorySize int64
	// Resolver answers the DNS queries of Auth.Verify; nil: the system's.
	Resolver auth.Resolver
	// OnCommit is threads.Options.OnCommit.
	OnCommit func(rows int)
}

// OpenStore is the one way every command (serve, dev, the admin and read
// commands, import) opens the store: it reads the secret (opts.Secret),
// connects, checks the schema and makes an insert-only River client, which
// the store enqueues with (the workers of serve run on a client of their
// own). done closes the pool. An error about the URL or the connection
// is a *DatabaseError, which shows no part of the URL.
func OpenStore(ctx context.Context, cfg config.Config, opts StoreOptions) (st *threads.Store, done func(), err error) {
	if err := cfg.Require("database-url"); err != nil {
		return nil, nil, err
	}
	keys, tcfg, err := storeKeys(cfg, opts.Secret)
	if err != nil {
		return nil, nil, err
	}
	tcfg.Auth.Resolver = opts.Resolver
	if err := tcfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	pool, err := connect(ctx, cfg.Store.DatabaseURL, opts.MaxConns)
	if err != nil {
		return nil, nil, err
	}
	if err := threads.CheckSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	log := opts.Log
	switch {
	case log != nil:
	case opts.LogTo != nil:
		log = slog.New(slog.NewTextHandler(opts.LogTo, &slog.HandlerOptions{Level: cfg.Log.Level}))
	default:
		log = slog.New(slog.DiscardHandler)
	}
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: fetchCooldown, Logger: log.With("component", "river")})
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("job queue: %w", err)
	}
	st = threads.NewStore(pool, tcfg, keys, threads.Options{Jobs: jobs, Memory: opts.Memory, MemorySize: opts.MemorySize, Log: log, OnCommit: opts.OnCommit})
	return st, pool.Close, nil
}

// MigrateDatabase connects to the database at url (POSTERN_DATABASE_URL),
// applies the pending migrations (threads.Migrate) and disconnects. An
// error about the URL or the connection is a *DatabaseError, which shows
// no part of the URL.
func MigrateDatabase(ctx context.Context, url string) error {
	pool, err := connect(ctx, url, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	return threads.Migrate(ctx, pool)
}

// connect opens a pool of at most maxConns connections (0: pgxpool's
// default) to url and checks that it answers within 10 seconds; its
// errors are *DatabaseError.
func connect(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, databaseURLError(err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = maxConns
	}
	// No JIT compilation unless the URL asks for it (?jit=on): Postern's
	// queries are short, but the planner's estimate for a question page
	// (a person's points per author) crosses jit_above_cost, and
	// compiling took 6.1 s of a query that runs in 23 ms.
	if _, set := pcfg.ConnConfig.RuntimeParams["jit"]; !set {
		pcfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, ConnectError(err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, ConnectError(err)
	}
	return pool, nil
}

// storeKeys returns the keys and the store's configuration: from the
// secret file and sealing keys when secret is set, else a throwaway key
// (and the domain "localhost" when none is given).
func storeKeys(cfg config.Config, secret bool) (*threads.Keys, threads.Config, error) {
	if !secret {
		keys, err := threads.DeriveKeys(make([]byte, 32), nil, 0)
		tcfg := threads.ConfigFrom(cfg, make([]byte, 32))
		if tcfg.Domain == "" {
			tcfg.Domain = "localhost"
		}
		return keys, tcfg, err
	}
	if err := cfg.Require("domain", "secret-file"); err != nil {
		return nil, threads.Config{}, err
	}
	s, err := readSecret(cfg.Store.SecretFile)
	if err != nil {
		return nil, threads.Config{}, err
	}
	extra, current, err := readSealingKeys(cfg.Store.SealingKeysFile)
	if err != nil {
		return nil, threads.Config{}, err
	}
	keys, err := threads.DeriveKeys(s, extra, current)
	if err != nil {
		return nil, threads.Config{}, fmt.Errorf("keys: %w", err)
	}
	return keys, threads.ConfigFrom(cfg, s), nil
}
