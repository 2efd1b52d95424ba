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

// The set-up shared by the store's own tests, which process no mail: the
// processing tests are in threads/pipeline, with a set-up of their own
// (process_test.go) built on the exported API only.

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// testDomain is the forum domain of the stores made by newTestStore.
const testDomain = "forum.test"

// newTestStore returns a Store over a freshly migrated database, with an
// insert-only River client: jobs are enqueued but never worked.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	url := threadstest.NewMigratedDatabase(t, "postern", MigrateURL)
	pool := threadstest.Pool(t, url)
	secret := []byte(strings.Repeat("k", 32))
	keys, err := DeriveKeys(secret, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 192.0.2.0/24 is trusted, as in threads/pipeline's set-up, so a
	// message accepted from there would post as a confirmed member.
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
