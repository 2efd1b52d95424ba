package threads

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/postern/postern/internal/threadstest"
)

// The set-up shared by the store's own tests. The processing tests, in
// threads/pipeline, have their own copy (process_test.go) built on the
// exported API only.

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// testDomain is the forum domain of the stores made by newTestStore.
const testDomain = "forum.test"

// newTestStore returns a Store over a freshly migrated database, with an
// insert-only River client: jobs are enqueued but never worked, so tests
// call Process themselves.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	url := threadstest.NewMigratedDatabase(t, "postern", MigrateURL)
	pool := threadstest.Pool(t, url)
	secret := []byte(strings.Repeat("k", 32))
	keys, err := DeriveKeys(secret, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// deliver sends from 192.0.2.1: that network is trusted here, so
	// tests about other things post as confirmed members directly; the
	// trust tests use other addresses or clear the list.
	cfg := testConfig(secret)
	cfg.Auth.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(pool, cfg, keys, Options{Jobs: rc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// confirmedPerson returns the id of the confirmed person with addr,
// creating them when needed (a test shortcut for the confirmation loop).
func confirmedPerson(t *testing.T, st *Store, addr, name string) Person {
	t.Helper()
	ctx := context.Background()
	var p Person
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var err error
		p, err = st.ensurePerson(ctx, tx, NormalizeAddress(addr), name)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE people SET confirmed_at = coalesce(confirmed_at, now()), suppressed_at = NULL, bounce_score = 0 WHERE id = $1`, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Confirmed, p.Suppressed = true, false
	return p
}

// deliver accepts raw for rcpt from mailFrom and processes it, returning
// the inbound id.
func deliver(t *testing.T, st *Store, mailFrom string, rcpt []string, raw string) int64 {
	t.Helper()
	ctx := context.Background()
	acc, err := st.Accept(ctx, Envelope{MailFrom: mailFrom, Rcpt: rcpt, RemoteAddr: "192.0.2.1:25", Source: SourceSMTP}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(ctx, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	return acc.InboundID
}

// inboundState returns the state, reason and post id of inbound id.
func inboundState(t *testing.T, st *Store, id int64) (state, reason string, post int64) {
	t.Helper()
	err := st.pool.QueryRow(context.Background(), `SELECT state, reason, coalesce(post_id, 0) FROM inbound WHERE id = $1`, id).Scan(&state, &reason, &post)
	if err != nil {
		t.Fatal(err)
	}
	return state, reason, post
}
