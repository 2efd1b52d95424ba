package main

import (
	"context"
	"io"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/threads"
)

// storeOptions say how a command opens the store (app.StoreOptions).
type storeOptions struct {
	// secret: read the server secret and the sealing keys, for the
	// commands that look people up by address, decrypt or mint tokens
	// (user, keys, import). Without it the store gets a throwaway key.
	secret bool
	// logTo receives the store's log lines at the configured level;
	// nil: none are written.
	logTo io.Writer
}

var (
	readOnly   = storeOptions{}             // read commands
	withSecret = storeOptions{secret: true} // commands using addresses
)

// openStore opens the store for a command with app.OpenStore, the one
// way every command opens it. done closes the pool.
func openStore(ctx context.Context, cfg Config, opts storeOptions) (st *threads.Store, done func(), err error) {
	return app.OpenStore(ctx, cfg.Config, app.StoreOptions{Secret: opts.secret, LogTo: opts.logTo})
}
