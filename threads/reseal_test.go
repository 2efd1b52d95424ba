package threads

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestKeyRotation: rows sealed under key 1 stay readable once key 2 is
// current, and Reseal moves every sealed value to key 2, after which key
// 1 is no longer needed.
func TestKeyRotation(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	alice := confirmedPerson(t, st, "alice@example.org", "Alice")
	// One sealed value of each kind: the person, their raw message and the
	// client Message-ID of the question it makes (inserted by the store's
	// own insertPost, as processing would).
	raw := "From: <alice@example.org>\r\nTo: ask@forum.test\r\nSubject: Q\r\nMessage-ID: <q1@alice.example>\r\n\r\nHow?\r\n"
	if _, err := st.Accept(ctx, Envelope{MailFrom: "alice@example.org", Rcpt: []string{"ask@forum.test"}, RemoteAddr: "192.0.2.1:25", Source: SourceSMTP}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		_, err := st.insertPost(ctx, tx, NewPost{Kind: KindQuestion, Author: alice, Title: "Q", Body: "How?", ClientMsgID: "q1@alice.example"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	secret := []byte(strings.Repeat("k", 32))
	newKey := []byte(strings.Repeat("n", 32))
	keys2, err := DeriveKeys(secret, map[int][]byte{2: newKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	st2 := NewStore(st.pool, testConfig(secret), keys2, Options{Jobs: st.jobs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r, err := st2.Reseal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.People != 1 || r.Inbound != 1 || r.ClientIDs != 1 {
		t.Fatalf("resealed %+v, want one of each", r)
	}
	var old int
	if err := st.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM people WHERE key_id <> 2 AND address_enc IS NOT NULL)
		+ (SELECT count(*) FROM inbound WHERE key_id <> 2 AND sealed IS NOT NULL)
		+ (SELECT count(*) FROM posts WHERE get_byte(client_msgid, 0) <> 2)`).Scan(&old); err != nil || old != 0 {
		t.Fatalf("%d values still under the old key (%v)", old, err)
	}
	// Only key 2 (and the secret, for hashes and tokens) is needed now.
	keysOnly2, err := DeriveKeys(secret, map[int][]byte{2: newKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	delete(keysOnly2.aeads, 1)
	st3 := NewStore(st.pool, testConfig(secret), keysOnly2, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	err = pgxBegin(ctx, st3, func(addr string) {
		if addr != "alice@example.org" {
			t.Errorf("address after rotation = %q", addr)
		}
	}, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st3.Reseal(ctx); err != nil || n != (Resealed{}) {
		t.Fatalf("second Reseal: %+v %v", n, err)
	}
}

// pgxBegin opens person id's address with st in a transaction.
func pgxBegin(ctx context.Context, st *Store, check func(string), id int64) error {
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var keyID int
	var sealed, hash []byte
	if err := tx.QueryRow(ctx, `SELECT key_id, address_enc, address_hash FROM people WHERE id = $1`, id).Scan(&keyID, &sealed, &hash); err != nil {
		return err
	}
	addr, err := st.keys.Open(keyID, sealed, hash)
	if err != nil {
		return err
	}
	check(addr)
	return nil
}
