// Package storetest gives the tests of packages built on threads (the
// processing pipeline, the importer) a threads.Store over a fresh,
// migrated PostgreSQL database, and the shortcuts they share: deliver a
// message and process it, read an inbound row's state.
//
// The store's configuration is internal/config's defaults (the one place
// they are written) for the domain forum.test, with 192.0.2.0/24 trusted
// (Deliver sends from 192.0.2.1); its River client only inserts jobs, so
// tests process messages themselves. Callers run their tests through
// threadstest.Main (or MainVerifyNoLeaks). Package threads' own tests
// cannot use it (it imports threads).
package storetest

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

// Domain is the forum domain of the stores made here.
const Domain = "forum.test"

// Config is the store configuration of the tests for secret: the
// defaults of internal/config for Domain.
func Config(secret []byte) threads.Config {
	c := config.Default()
	c.Forum.Domain = Domain
	return threads.ConfigFrom(c, secret)
}

// New returns a Store over a freshly migrated database, with Config,
// 192.0.2.0/24 trusted, and its configuration then changed by change
// (nil: none).
func New(t testing.TB, change func(*threads.Config)) *threads.Store {
	t.Helper()
	url := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	pool := threadstest.Pool(t, url)
	secret := []byte(strings.Repeat("k", 32))
	keys, err := threads.DeriveKeys(secret, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config(secret)
	cfg.Auth.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	if change != nil {
		change(&cfg)
	}
	return Over(t, pool, cfg, keys)
}

// Over returns a Store over pool with cfg and keys and an insert-only
// River client.
func Over(t testing.TB, pool *pgxpool.Pool, cfg threads.Config, keys *threads.Keys) *threads.Store {
	t.Helper()
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return threads.NewStore(pool, cfg, keys, threads.Options{Jobs: rc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// ProcessFunc processes inbound message id through st: pipeline.Process
// (which this package cannot import, as the pipeline's tests import it).
type ProcessFunc func(ctx context.Context, st *threads.Store, id int64) error

// Deliver accepts raw for rcpt from mailFrom, sent from 192.0.2.1 over
// SMTP, and processes it with process, returning the inbound id.
func Deliver(t testing.TB, st *threads.Store, process ProcessFunc, mailFrom string, rcpt []string, raw string) int64 {
	t.Helper()
	ctx := context.Background()
	acc, err := st.Accept(ctx, threads.Envelope{MailFrom: mailFrom, Rcpt: rcpt, RemoteAddr: "192.0.2.1:25", Source: threads.SourceSMTP}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := process(ctx, st, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	return acc.InboundID
}

// InboundState returns the state, reason and post id of inbound id.
func InboundState(t testing.TB, st *threads.Store, id int64) (state, reason string, post int64) {
	t.Helper()
	err := st.Pool().QueryRow(context.Background(), `SELECT state, reason, coalesce(post_id, 0) FROM inbound WHERE id = $1`, id).Scan(&state, &reason, &post)
	if err != nil {
		t.Fatal(err)
	}
	return state, reason, post
}
