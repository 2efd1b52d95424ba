package threads

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// bigMessage returns a message of about n bytes with Message-ID id.
func bigMessage(id string, n int) []byte {
	head := "From: Writer <writer@example.org>\r\nTo: ask@forum.test\r\nMessage-ID: <" + id + ">\r\nSubject: Big\r\n\r\n"
	line := "a line of a long message, to be stored in chunks\r\n"
	return append([]byte(head), bytes.Repeat([]byte(line), n/len(line))...)
}

// acceptStream stores raw as mailin does: its first StreamFrom bytes in
// a buffer, the rest from a reader.
func acceptStream(t *testing.T, st *Store, env Envelope, raw []byte) Accepted {
	t.Helper()
	buf := st.NewBuffer(env.MailFrom)
	first := &io.LimitedReader{R: bytes.NewReader(raw), N: StreamFrom}
	if err := buf.Fill(first, StreamFrom, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	acc, err := st.AcceptStream(context.Background(), env, buf, bytes.NewReader(raw[StreamFrom:]), 0)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func countRows(t *testing.T, st *Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := st.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var bigEnv = Envelope{MailFrom: "writer@example.org", Rcpt: []string{"ask@" + testDomain}, RemoteAddr: "192.0.2.1:25", Source: SourceSMTP}

// TestChunkedMessageOpens: a message streamed in chunks is one inbound
// row, with its processing job, and opens (for processing and for the
// postmaster) to the bytes received; the same message again is a
// Duplicate whose chunks are not kept.
func TestChunkedMessageOpens(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	for _, n := range []int{StreamFrom, 3*StreamFrom + 12345, 2 * chunkSize} {
		raw := bigMessage("big-"+strings.Repeat("x", n%7)+string(rune('a'+n%26))+"@example.org", n)
		raw = raw[:max(len(raw), StreamFrom)]
		acc := acceptStream(t, st, bigEnv, raw)
		want := (len(raw) + len(bigEnv.MailFrom) + 1 + chunkSize - 1) / chunkSize
		if got := countRows(t, st, `SELECT count(*) FROM inbound_chunks WHERE inbound_id = $1`, acc.InboundID); got < want-1 || got > want {
			t.Errorf("%d bytes: %d chunks, want about %d", len(raw), got, want)
		}
		err := st.InboundTx(ctx, acc.InboundID, func(_ *Tx, in Inbound) error {
			if in.Purged || !bytes.Equal(in.Raw, raw) || in.MailFrom != bigEnv.MailFrom {
				t.Errorf("opened %d bytes (purged %v, from %q), want the %d accepted", len(in.Raw), in.Purged, in.MailFrom, len(raw))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		st.cfg.PostmasterAddress = "postmaster@example.net"
		if fw, err := st.LoadForward(ctx, acc.InboundID); err != nil || !bytes.Equal(fw.Raw, raw) {
			t.Errorf("forward: %d bytes (%v), want the %d accepted", len(fw.Raw), err, len(raw))
		}
		dup := acceptStream(t, st, bigEnv, raw)
		if !dup.Duplicate || dup.InboundID != acc.InboundID {
			t.Errorf("second copy: %+v, want a Duplicate of %d", dup, acc.InboundID)
		}
	}
	if n := countRows(t, st, `SELECT count(*) FROM inbound_chunks c WHERE NOT EXISTS (SELECT 1 FROM inbound i WHERE i.id = c.inbound_id)`); n != 0 {
		t.Errorf("%d chunks without their row (the duplicates')", n)
	}
	if n := countRows(t, st, `SELECT count(*) FROM river_job WHERE kind = 'postern.process'`); n != 3 {
		t.Errorf("%d processing jobs, want 3", n)
	}
}

// TestChunkedReadFailure: a reader failing mid-message leaves no row and
// no chunk, and its error comes back as a ReadError.
func TestChunkedReadFailure(t *testing.T) {
	st := newTestStore(t)
	raw := bigMessage("cut@example.org", 3*StreamFrom)
	buf := st.NewBuffer(bigEnv.MailFrom)
	if err := buf.Fill(bytes.NewReader(raw[:StreamFrom]), StreamFrom, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cut := errors.New("connection lost")
	rest := io.MultiReader(bytes.NewReader(raw[StreamFrom:2*StreamFrom+100]), iotestErr{cut})
	_, err := st.AcceptStream(context.Background(), bigEnv, buf, rest, time.Second)
	var re *ReadError
	if !errors.As(err, &re) || !errors.Is(err, cut) {
		t.Fatalf("AcceptStream: %v, want a ReadError of the reader's error", err)
	}
	if n := countRows(t, st, `SELECT (SELECT count(*) FROM inbound) + (SELECT count(*) FROM inbound_chunks)`); n != 0 {
		t.Errorf("%d rows left by a message cut off", n)
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// TestChunksTampered: chunks swapped, altered, dropped from the end or
// moved from another message fail to open, with ErrSealedDamaged; the
// message is given to processing as Purged, without a panic.
func TestChunksTampered(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	cases := []struct {
		name string
		sql  string // $1 the message's row, $2 another chunked row
	}{
		{"swapped", `UPDATE inbound_chunks c SET sealed = o.sealed FROM inbound_chunks o
			WHERE c.inbound_id = $1 AND o.inbound_id = $1 AND c.idx IN (1, 2) AND o.idx = 3 - c.idx AND $2 > 0`},
		{"altered", `UPDATE inbound_chunks SET sealed = overlay(sealed PLACING '\xff'::bytea FROM 40) WHERE inbound_id = $1 AND idx = 1 AND $2 > 0`},
		{"truncated", `WITH d AS (DELETE FROM inbound_chunks WHERE inbound_id = $1 AND final AND $2 > 0)
			UPDATE inbound SET chunks = chunks - 1 WHERE id = $1`},
		{"moved", `UPDATE inbound_chunks c SET sealed = o.sealed FROM inbound_chunks o
			WHERE c.inbound_id = $1 AND c.idx = 1 AND o.inbound_id = $2 AND o.idx = 1`},
	}
	other := acceptStream(t, st, bigEnv, bigMessage("other@example.org", 3*StreamFrom))
	for _, tc := range cases {
		acc := acceptStream(t, st, bigEnv, bigMessage(tc.name+"@example.org", 3*StreamFrom))
		if _, err := st.pool.Exec(ctx, tc.sql, acc.InboundID, other.InboundID); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT chunks FROM inbound WHERE id = $1`, acc.InboundID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if _, err := st.readChunks(ctx, st.pool, acc.InboundID, n); !errors.Is(err, ErrSealedDamaged) {
			t.Errorf("%s: read %v, want ErrSealedDamaged", tc.name, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		err := st.InboundTx(ctx, acc.InboundID, func(_ *Tx, in Inbound) error {
			if !in.Purged || in.Raw != nil {
				t.Errorf("%s: given to processing with %d bytes, not as Purged", tc.name, len(in.Raw))
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: InboundTx: %v", tc.name, err)
		}
	}
}

// TestChunksResealed: Reseal moves every chunk to the current key, after
// which the old key is not needed to open the message; purging the raw
// message deletes its chunks.
func TestChunksResealed(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	raw := bigMessage("reseal@example.org", 3*StreamFrom)
	acc := acceptStream(t, st, bigEnv, raw)
	n := countRows(t, st, `SELECT count(*) FROM inbound_chunks`)

	secret := []byte(strings.Repeat("k", 32))
	newKey := []byte(strings.Repeat("n", 32))
	keys2, err := DeriveKeys(secret, map[int][]byte{2: newKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st2 := NewStore(st.pool, testConfig(secret), keys2, Options{Jobs: st.jobs, Log: quiet})
	r, err := st2.Reseal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Chunks != n || r.Inbound != 0 {
		t.Fatalf("resealed %+v, want %d chunks", r, n)
	}
	keysOnly2, err := DeriveKeys(secret, map[int][]byte{2: newKey}, 2)
	if err != nil {
		t.Fatal(err)
	}
	delete(keysOnly2.aeads, 1)
	st3 := NewStore(st.pool, testConfig(secret), keysOnly2, Options{Log: quiet})
	plain, err := st3.readChunks(ctx, st3.pool, acc.InboundID, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, got := openInbound(plain); !bytes.Equal(got, raw) {
		t.Errorf("opened %d bytes after reseal, want the %d accepted", len(got), len(raw))
	}

	if _, err := st.pool.Exec(ctx, `UPDATE inbound SET state = 'processed', processed_at = now() - interval '400 days' WHERE id = $1`, acc.InboundID); err != nil {
		t.Fatal(err)
	}
	if purged, err := st.PurgeRaw(ctx); err != nil || purged != 1 {
		t.Fatalf("PurgeRaw: %d, %v; want 1", purged, err)
	}
	if left := countRows(t, st, `SELECT count(*) FROM inbound_chunks`); left != 0 {
		t.Errorf("%d chunks left after the purge", left)
	}
}
