package importer

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// testDomain is the forum domain of the stores made by newTestStore.
const testDomain = "forum.test"

// newTestStore returns a Store over a freshly migrated database, with an
// insert-only River client: jobs are enqueued but never worked, so tests
// call Process themselves. Mail from 192.0.2.0/24 is trusted.
func newTestStore(t *testing.T) *threads.Store {
	t.Helper()
	url := threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL)
	pool := threadstest.Pool(t, url)
	secret := []byte(strings.Repeat("k", 32))
	keys, err := threads.DeriveKeys(secret, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(secret)
	cfg.Auth.TrustedNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return threads.NewStore(pool, cfg, keys, threads.Options{Jobs: rc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// confirmedPerson stores a confirmed person with addr (a test shortcut
// for the confirmation loop).
func confirmedPerson(t *testing.T, st *threads.Store, addr, name string) {
	t.Helper()
	keyID, sealed, err := st.Keys().Seal(addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(context.Background(), `INSERT INTO people (display_name, address_hash, address_enc, key_id, confirmed_at)
		VALUES ($1, $2, $3, $4, now())`, name, st.Keys().AddressHash(addr), sealed, keyID)
	if err != nil {
		t.Fatal(err)
	}
}

// deliver accepts raw for rcpt from mailFrom and processes it, returning
// the inbound id.
func deliver(t *testing.T, st *threads.Store, mailFrom string, rcpt []string, raw string) int64 {
	t.Helper()
	ctx := context.Background()
	acc, err := st.Accept(ctx, threads.Envelope{MailFrom: mailFrom, Rcpt: rcpt, RemoteAddr: "192.0.2.1:25", Source: threads.SourceSMTP}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Process(ctx, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	return acc.InboundID
}

// inboundState returns the state, reason and post id of inbound id.
func inboundState(t *testing.T, st *threads.Store, id int64) (state, reason string, post int64) {
	t.Helper()
	err := st.Pool().QueryRow(context.Background(), `SELECT state, reason, coalesce(post_id, 0) FROM inbound WHERE id = $1`, id).Scan(&state, &reason, &post)
	if err != nil {
		t.Fatal(err)
	}
	return state, reason, post
}

// testConfig is the store configuration of the tests: internal/config's
// defaults (the one place they are written) for testDomain and secret.
func testConfig(secret []byte) threads.Config {
	c := config.Default()
	c.Forum.Domain = testDomain
	return threads.ConfigFrom(c, secret)
}
