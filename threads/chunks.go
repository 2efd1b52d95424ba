package threads

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Chunked storage: a message of StreamFrom bytes or more is not held
// whole. AcceptStream seals it piece by piece as it arrives, each piece
// of up to chunkSize bytes one row of inbound_chunks committed on its
// own, and commits the inbound row (chunks: their count) and its
// processing job last, in one transaction: only that commit makes the
// message visible, and only after it is 250 answered. A chunk's
// associated data (chunkAD) is its inbound row's id, its index and
// whether it is the last: chunks cannot be reordered, dropped from the
// end or moved to another row without failing to open. A message that
// fails before its commit (the session dropped, a read timed out, the
// database refused it) has its chunks deleted at once; those a crash
// leaves behind, by maintenance (DropStrayChunks). Processing, reseal,
// purge, forwarding and forgetting read or remove chunks wherever they
// handle inbound.sealed.

// StreamFrom is the size from which a received message is stored in
// chunks (AcceptStream) instead of whole (AcceptBuffer). Its receiver
// reads at least this much before streaming (mailin: as much as the
// header limit needs, when it is larger), so the Message-ID, looked for
// in the first 256 KiB, is in the buffer.
const StreamFrom = 1 << 20

// chunkSize is the most bytes of the message one chunk holds (the first
// holds the envelope sender too): the InboundBuffer that held the first
// StreamFrom bytes is reused for each.
const chunkSize = StreamFrom

// strayChunkAge is how old chunks with no committed inbound row must be
// before DropStrayChunks deletes them: longer than any session lasts
// (max-session-time, 1 hour by default).
const strayChunkAge = 24 * time.Hour

// ReadError is returned by AcceptStream when reading the message failed
// (a timeout, a lost connection, a limit the reader enforces): Err is the
// reader's error, nothing was stored.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read message: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// ErrSealedDamaged means a stored message's seal does not open: a chunk
// was altered, reordered, moved from another message or is missing.
var ErrSealedDamaged = errors.New("sealed message damaged")

// The statements of chunked storage.
const (
	sqlNextInboundID = `SELECT nextval(pg_get_serial_sequence('inbound', 'id'))`
	sqlInsertChunk   = `INSERT INTO inbound_chunks (inbound_id, idx, final, key_id, sealed) VALUES ($1, $2, $3, $4, $5)`
	sqlDropChunks    = `DELETE FROM inbound_chunks WHERE inbound_id = $1`
	// sqlInsertChunked is insertInboundSQL for one chunked row of a given id.
	sqlInsertChunked = `INSERT INTO inbound (id, dedup_key, message_id, mail_from_hash, rcpt, remote_ip, source, key_id, size, peer_ip, chunks)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedup_key) DO NOTHING`
	sqlStoredByDedup = `SELECT id FROM inbound WHERE dedup_key = $1`
	// sqlChunksSize is the size of a row's chunks, sealed, and their count.
	sqlChunksSize = `SELECT coalesce(sum(octet_length(sealed)), 0), count(*) FROM inbound_chunks WHERE inbound_id = $1`
	sqlReadChunks = `SELECT key_id, final, sealed FROM inbound_chunks WHERE inbound_id = $1 ORDER BY idx`
	// sqlDropStrayChunks deletes the chunks of messages that never
	// committed (or were purged, should a purge have left any).
	sqlDropStrayChunks = `DELETE FROM inbound_chunks c WHERE c.created_at < now() - make_interval(secs => $1)
		AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.id = c.inbound_id AND i.chunks IS NOT NULL)`
	// sqlResealChunks is Reseal's query for chunks: id, key id, sealed
	// value and the associated data chunkAD builds.
	sqlResealChunks = `SELECT id, key_id, sealed,
			'postern/chunk'::bytea || int8send(inbound_id) || int4send(idx) || CASE WHEN final THEN '\x01'::bytea ELSE '\x00'::bytea END
		FROM inbound_chunks WHERE key_id <> $1 LIMIT 4 FOR UPDATE SKIP LOCKED`
)

// chunkAD is the associated data of chunk idx of inbound row id
// (sqlResealChunks builds the same bytes).
func chunkAD(id int64, idx int, final bool) []byte {
	ad := append([]byte("postern/chunk"), make([]byte, 13)...)
	binary.BigEndian.PutUint64(ad[13:], uint64(id))
	binary.BigEndian.PutUint32(ad[21:], uint32(idx))
	if final {
		ad[25] = 1
	}
	return ad
}

// querier is what reading chunks needs: a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// AcceptStream is AcceptBuffer for a message of StreamFrom bytes or more:
// buf holds its first bytes (as Fill read them, StreamFrom or more: they
// are the first chunk) and rest yields the
// remainder, until io.EOF. It is stored in chunks as it is read, so that
// it is never held whole, and AcceptStream returns once the message is
// committed: nil is, as for Accept, the permission to answer 250. When
// reading rest fails, the error is a *ReadError; on any error nothing is
// visible and the chunks written are deleted. AcceptStream takes buf: it
// is empty after the call, whatever the outcome. ctx bounds the whole
// (reading included); wait, when not 0, bounds each wait for the database
// (a chunk's insert, the final commit).
func (s *Store) AcceptStream(ctx context.Context, env Envelope, buf *InboundBuffer, rest io.Reader, wait time.Duration) (Accepted, error) {
	defer buf.Discard()
	if !env.Source.Valid() {
		return Accepted{}, fmt.Errorf("accept message: unknown source %q", env.Source)
	}
	if buf.head-len(env.MailFrom)-1 < s.keys.aeads[s.keys.current].NonceSize() || buf.buf == nil {
		*buf = *s.bufferWith(env.MailFrom, buf.Message())
	}
	db := dbWait{ctx: ctx, wait: wait}
	var id int64
	qctx, cancel := db.context()
	err := s.pool.QueryRow(qctx, sqlNextInboundID).Scan(&id)
	cancel()
	if err != nil {
		return Accepted{}, fmt.Errorf("accept message: inbound id: %w", err)
	}
	msgID := headerMessageID(buf.Message())
	h := dedupStart(msgID, env.MailFrom)
	n, size, err := s.writeChunks(db, id, env.MailFrom, buf, rest, h, msgID == "")
	if err == nil {
		row := s.envelopeRow(env, msgID, dedupEnd(h, env.Rcpt), size)
		var res Accepted
		qctx, cancel := db.context()
		res, err = s.commitChunked(qctx, id, row, n)
		cancel()
		if err == nil {
			return res, nil
		}
	}
	s.dropChunks(ctx, id)
	var re *ReadError
	if errors.As(err, &re) {
		return Accepted{}, err
	}
	return Accepted{}, fmt.Errorf("accept message: %w", err)
}

// writeChunks seals and stores the message of buf and rest as the chunks
// of inbound row id, hashing the raw bytes into h when hashRaw (a message
// without Message-ID is deduplicated by its bytes). It returns the number
// of chunks and the message's size.
func (s *Store) writeChunks(db dbWait, id int64, mailFrom string, buf *InboundBuffer, rest io.Reader,
	h hash.Hash, hashRaw bool) (n, size int, err error) {
	br := bufio.NewReader(rest)
	ns := s.keys.aeads[s.keys.current].NonceSize()
	// The first chunk: "sender NUL" and the bytes read so far, in place.
	raw := buf.Message()
	start := buf.head - len(mailFrom) - 1
	copy(buf.buf[start:], mailFrom)
	buf.buf[buf.head-1] = 0
	sealFrom := start - ns
	final := false
	for {
		if hashRaw {
			h.Write(raw)
		}
		size += len(raw)
		if !final {
			if final, err = atEOF(br); err != nil {
				return 0, 0, err
			}
		}
		keyID, sealed, err := s.keys.SealInPlace(buf.buf, sealFrom, chunkAD(id, n, final))
		if err != nil {
			return 0, 0, err
		}
		qctx, cancel := db.context()
		_, err = s.pool.Exec(qctx, sqlInsertChunk, id, n, final, keyID, sealed)
		cancel()
		if err != nil {
			return 0, 0, fmt.Errorf("store chunk %d: %w", n, err)
		}
		n++
		if final {
			return n, size, nil
		}
		// The next piece, read behind the nonce's room (a buffer made
		// smaller than a piece is replaced).
		if cap(buf.buf) < ns+chunkSize+buf.tag {
			buf.Discard()
			buf.buf = make([]byte, ns, ns+chunkSize+buf.tag)
		}
		got, eof, err := readPiece(br, buf.buf[ns:ns+chunkSize])
		if err != nil {
			return 0, 0, err
		}
		buf.buf, raw, sealFrom, final = buf.buf[:ns+got], buf.buf[ns:ns+got], 0, eof
	}
}

// readPiece reads from r into p until p is full or r ends (eof: r
// returned io.EOF itself; any other error, io.ErrUnexpectedEOF too, is a
// *ReadError, not an end).
func readPiece(r io.Reader, p []byte) (n int, eof bool, err error) {
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err == io.EOF { // io.EOF itself, as readers return it
			return n, true, nil
		}
		if err != nil {
			return n, false, &ReadError{Err: err}
		}
	}
	return n, false, nil
}

// dbWait is the context of AcceptStream and the bound of each of its
// waits for the database (0: none but the context's).
type dbWait struct {
	ctx  context.Context
	wait time.Duration
}

// context returns the context of one wait for the database.
func (d dbWait) context() (context.Context, context.CancelFunc) {
	if d.wait <= 0 {
		return context.WithCancel(d.ctx)
	}
	return context.WithTimeout(d.ctx, d.wait)
}

// atEOF reports whether br has nothing more to read.
func atEOF(br *bufio.Reader) (bool, error) {
	_, err := br.Peek(1)
	if err == io.EOF { // io.EOF itself, as readers return it
		return true, nil
	}
	if err != nil {
		return false, &ReadError{Err: err}
	}
	return false, nil
}

// commitChunked commits the inbound row of a message stored in n chunks
// under id, and its processing job; a Duplicate's chunks are deleted in
// the same transaction.
func (s *Store) commitChunked(ctx context.Context, id int64, row inboundInsert, n int) (Accepted, error) {
	if s.jobs == nil {
		return Accepted{}, errors.New("store has no job inserter (threads.Options.Jobs)")
	}
	g := &s.group
	g.active.Add(1)
	defer func() { g.last.Store(time.Now().UnixNano()); g.active.Add(-1) }()
	var res Accepted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlInsertChunked, id, row.dedup, row.msgID, row.fromHash, row.rcpt, row.ip,
			row.source, s.keys.current, row.size, row.peer, n)
		if err != nil {
			return fmt.Errorf("insert inbound: %w", err)
		}
		if tag.RowsAffected() == 0 {
			res.Duplicate = true
			if err := tx.QueryRow(ctx, sqlStoredByDedup, row.dedup).Scan(&res.InboundID); err != nil {
				return fmt.Errorf("find duplicate: %w", err)
			}
			if _, err := tx.Exec(ctx, sqlDropChunks, id); err != nil {
				return fmt.Errorf("drop duplicate's chunks: %w", err)
			}
			return nil
		}
		res.InboundID = id
		if _, err := s.jobs.InsertManyTx(ctx, tx, s.processJobs([]ProcessItem{{ID: id, Size: int64(row.size)}})); err != nil {
			return fmt.Errorf("enqueue processing: %w", err)
		}
		return nil
	})
	return res, err
}

// dropChunks deletes the chunks of a message that was not committed,
// even after ctx has ended; what it cannot delete, DropStrayChunks will.
func (s *Store) dropChunks(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, sqlDropChunks, id); err != nil {
		s.log.Warn("chunks of a message not stored left for maintenance", "inbound_id", id, "err", err)
	}
}

// DropStrayChunks deletes the chunks of messages that never committed
// (their session failed, then so did deleting them, or Postern stopped)
// once they are strayChunkAge old, and returns how many.
func (s *Store) DropStrayChunks(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, sqlDropStrayChunks, strayChunkAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("drop stray chunks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// readChunks reads and opens the chunks of inbound row id, n of them,
// into one buffer of their size: the sealed plaintext ("sender NUL raw").
// A chunk that does not open, or a sequence of chunks that does not end
// with the final one, is an error wrapping ErrSealedDamaged.
func (s *Store) readChunks(ctx context.Context, q querier, id int64, n int) ([]byte, error) {
	var total, count int64
	if err := q.QueryRow(ctx, sqlChunksSize, id).Scan(&total, &count); err != nil {
		return nil, fmt.Errorf("read chunks of inbound %d: %w", id, err)
	}
	if count != int64(n) {
		return nil, fmt.Errorf("inbound %d has %d chunks of %d: %w", id, count, n, ErrSealedDamaged)
	}
	rows, err := q.Query(ctx, sqlReadChunks, id)
	if err != nil {
		return nil, fmt.Errorf("read chunks of inbound %d: %w", id, err)
	}
	defer rows.Close()
	buf := make([]byte, 0, total)
	i, final := 0, false
	for rows.Next() {
		var keyID int
		var sealed pgtype.DriverBytes // the driver's buffer: appended, not kept
		if err := rows.Scan(&keyID, &final, &sealed); err != nil {
			return nil, fmt.Errorf("read chunks of inbound %d: %w", id, err)
		}
		if buf, err = s.keys.openAppend(buf, keyID, sealed, chunkAD(id, i, final)); err != nil {
			return nil, fmt.Errorf("chunk %d of inbound %d: %w: %w", i, id, ErrSealedDamaged, err)
		}
		i++
		if final != (i == n) {
			return nil, fmt.Errorf("chunk %d of inbound %d is final %t: %w", i-1, id, final, ErrSealedDamaged)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chunks of inbound %d: %w", id, err)
	}
	if i != n {
		return nil, fmt.Errorf("inbound %d: %d chunks of %d read: %w", id, i, n, ErrSealedDamaged)
	}
	return buf, nil
}
