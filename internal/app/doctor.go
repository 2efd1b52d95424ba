package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/mailout"
	"github.com/postern/postern/threads"
)

// The parts of OpenStore and New that postern doctor checks one by one.

// Connect opens a pool of at most two connections to url and checks
// that it answers within 10 seconds, as OpenStore does (without the
// schema check). Its errors are *DatabaseError, which show no part of
// the URL. The caller closes the pool.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return connect(ctx, url, 2)
}

// LoadKeys reads the server secret (--secret-file) and the sealing keys
// (--sealing-keys-file) and derives the store's keys from them, as
// OpenStore with Secret does; it also returns the id of the key that
// seals new data.
func LoadKeys(cfg config.Config) (*threads.Keys, int, error) {
	if err := cfg.Require("secret-file"); err != nil {
		return nil, 0, err
	}
	s, err := readSecret(cfg.Store.SecretFile)
	if err != nil {
		return nil, 0, err
	}
	extra, current, err := readSealingKeys(cfg.Store.SealingKeysFile)
	if err != nil {
		return nil, 0, err
	}
	keys, err := threads.DeriveKeys(s, extra, current)
	if err != nil {
		return nil, 0, fmt.Errorf("keys: %w", err)
	}
	return keys, max(current, 1), nil
}

// NewRelay is the relay client serve sends through (--relay-url, with
// --relay-ca-file and the forum domain as EHLO name), with at most
// --notify-workers connections open at once; nothing is dialled.
func NewRelay(cfg config.Config) (*mailout.Relay, error) {
	n := cfg.Notify
	_, conns := cfg.Workers()
	opts := mailout.RelayOptions{HeloName: cfg.Forum.Domain, MaxConns: conns}
	if n.RelayCAFile != "" {
		var err error
		if opts.TLSConfig, err = relayTLS(n.RelayCAFile); err != nil {
			return nil, err
		}
	}
	return mailout.NewRelay(n.RelayURL, opts)
}
