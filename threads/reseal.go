package threads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Resealed counts what Reseal re-encrypted.
type Resealed struct {
	People    int `json:"people"`
	Inbound   int `json:"inbound_messages"`
	Chunks    int `json:"inbound_chunks"` // of large messages (chunks.go)
	ClientIDs int `json:"client_message_ids"`
}

// Reseal re-encrypts, with the current sealing key, every sealed value
// still under another key: people's addresses, raw inbound mail and the
// authors' client Message-IDs. After it, an old key can be dropped from
// the configuration. It works in batches, each in its own transaction, so
// it can run while Postern serves.
func (s *Store) Reseal(ctx context.Context) (Resealed, error) {
	var r Resealed
	// Each table: the rows still under another key (id, key id, sealed
	// value, associated data), and how to write a value back.
	tables := []struct {
		count  *int
		query  string
		update func(tx pgx.Tx, id int64, keyID int, sealed []byte) error
	}{
		{&r.People, `SELECT id, key_id, address_enc, address_hash FROM people
			WHERE address_enc IS NOT NULL AND key_id <> $1 LIMIT 200 FOR UPDATE SKIP LOCKED`,
			func(tx pgx.Tx, id int64, k int, out []byte) error {
				_, err := tx.Exec(ctx, `UPDATE people SET address_enc = $2, key_id = $3 WHERE id = $1`, id, out, k)
				return err
			}},
		{&r.Inbound, `SELECT id, key_id, sealed, dedup_key FROM inbound
			WHERE sealed IS NOT NULL AND key_id <> $1 LIMIT 20 FOR UPDATE SKIP LOCKED`,
			func(tx pgx.Tx, id int64, k int, out []byte) error {
				_, err := tx.Exec(ctx, `UPDATE inbound SET sealed = $2, key_id = $3 WHERE id = $1`, id, out, k)
				return err
			}},
		// The chunks of large messages (chunks.go), a few at a time.
		{&r.Chunks, sqlResealChunks,
			func(tx pgx.Tx, id int64, k int, out []byte) error {
				_, err := tx.Exec(ctx, `UPDATE inbound_chunks SET sealed = $2, key_id = $3 WHERE id = $1`, id, out, k)
				return err
			}},
		// client_msgid carries its key id in its first byte.
		{&r.ClientIDs, `SELECT id, get_byte(client_msgid, 0), substring(client_msgid FROM 2), convert_to(message_id, 'UTF8') FROM posts
			WHERE client_msgid IS NOT NULL AND get_byte(client_msgid, 0) <> $1 LIMIT 200 FOR UPDATE SKIP LOCKED`,
			func(tx pgx.Tx, id int64, k int, out []byte) error {
				_, err := tx.Exec(ctx, `UPDATE posts SET client_msgid = $2 WHERE id = $1`, id, append([]byte{byte(k)}, out...))
				return err
			}},
	}
	for _, t := range tables {
		for {
			n, err := s.resealBatch(ctx, t.query, s.keys.current, func(tx pgx.Tx, id int64, keyID int, sealed, ad []byte) error {
				pt, err := s.keys.OpenBytes(keyID, sealed, ad)
				if err != nil {
					return err
				}
				k, out, err := s.keys.SealBytes(pt, ad)
				if err != nil {
					return err
				}
				return t.update(tx, id, k, out)
			})
			if err != nil {
				return r, fmt.Errorf("reseal: %w", err)
			}
			*t.count += n
			if n == 0 {
				break
			}
		}
	}
	return r, nil
}

// resealBatch runs query (rows of id, key id, sealed value, associated
// data) in one transaction and applies fn to each row.
func (s *Store) resealBatch(ctx context.Context, query string, cur int,
	fn func(tx pgx.Tx, id int64, keyID int, sealed, ad []byte) error) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, cur)
		if err != nil {
			return err
		}
		type item struct {
			id        int64
			keyID     int
			sealed, a []byte
		}
		var items []item
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.id, &it.keyID, &it.sealed, &it.a); err != nil {
				rows.Close()
				return err
			}
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(tx, it.id, it.keyID, it.sealed, it.a); err != nil {
				return fmt.Errorf("row %d (key %d): %w", it.id, it.keyID, err)
			}
		}
		n = len(items)
		return nil
	})
	return n, err
}
