package threads

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/textproto"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// The intake port: how a received message enters the store, whatever
// received it (Source: the SMTP and LMTP server, the IMAP cursor of
// imapcursor.go and the web form). Its contract:
//
//   - Durable before acknowledged. Accept returns nil only after the
//     transaction holding the message and its processing job has
//     committed: a nil error is the permission to answer 250. AcceptTx
//     writes both in the caller's transaction instead, so that they
//     commit with the caller's own row, or not at all.
//   - Deduplicated. A message with the same Message-ID, envelope sender
//     and recipients as one already stored (a client's retry), or with no
//     Message-ID and the same bytes and recipients, is not stored again:
//     it is reported as Duplicate, with the stored row's id.
//   - Group-committed. Concurrent Accept calls share transactions
//     (groupcommit.go); when a shared transaction fails, each of its rows
//     is tried again alone, so a row the database refuses fails only its
//     own caller.
//   - Sealed. The raw message and the envelope sender (they contain
//     addresses) are stored only sealed with the current key, in place:
//     InboundBuffer holds the room the seal needs, its users never count
//     it.
//   - Processed. Every row stored gets one postern.process job
//     (ProcessArgs), in the same transaction.

// Source is what received a message. Its string is what inbound.source
// stores.
type Source string

// The sources of inbound mail.
const (
	SourceSMTP   Source = "smtp"   // mailin's SMTP server
	SourceLMTP   Source = "lmtp"   // mailin's LMTP server, behind a front MTA
	SourceIMAP   Source = "imap"   // a mailbox read over IMAP
	SourceWeb    Source = "web"    // a message written in the web form
	SourceImport Source = "import" // an archive import
)

// Valid reports whether s is one of the sources above.
func (s Source) Valid() bool {
	switch s {
	case SourceSMTP, SourceLMTP, SourceIMAP, SourceWeb, SourceImport:
		return true
	}
	return false
}

// Envelope is the envelope of a received message.
type Envelope struct {
	MailFrom   string   // reverse path; "" for the null sender
	Rcpt       []string // accepted forum recipients
	RemoteAddr string   // the client's IP:port ("" over LMTP, whose peer is not the sender's client)
	Source     Source
	// PeerAddr is the TCP peer's IP:port when it is not the sending
	// client (over LMTP: the front MTA); it is checked against the
	// trusted networks only.
	PeerAddr string
}

// ProcessArgs is the River job that turns inbound rows into posts: one
// row (InboundID), or the rows an intake transaction stored together
// (Batch, up to MaxProcessBatch), which are processed in one transaction
// (InboundBatchTx).
type ProcessArgs struct {
	InboundID int64 `json:"inbound_id,omitempty"`
	// Size is the raw message's size, so that processing knows whether it
	// needs the memory budget before loading it; 0 (jobs enqueued by older
	// versions, retries) means unknown and costs one more query.
	Size  int64         `json:"size,omitempty"`
	Batch []ProcessItem `json:"batch,omitempty"`
}

// ProcessItem is one inbound row of a batched processing job and its size.
type ProcessItem struct {
	ID   int64 `json:"id"`
	Size int64 `json:"size,omitempty"`
}

// Items returns the rows of the job, in id order.
func (a ProcessArgs) Items() []ProcessItem {
	out := make([]ProcessItem, 0, len(a.Batch)+1)
	if a.InboundID != 0 {
		out = append(out, ProcessItem{ID: a.InboundID, Size: a.Size})
	}
	out = append(out, a.Batch...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Kind implements river.JobArgs.
func (ProcessArgs) Kind() string { return "postern.process" }

// Queues: processing and sending have their own worker pools, so a burst
// of notifications (a fan-out) never starves the processing of new mail.
const (
	QueueProcess = "process"
	QueueNotify  = "notify"
)

// InsertOpts implements river.JobArgsWithInsertOpts. The Store adds
// MaxAttempts (Config.ProcessMaxAttempts) where it enqueues the job.
func (ProcessArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueProcess} }

// processOpts are the options of every processing job the store enqueues.
func (s *Store) processOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: s.cfg.ProcessMaxAttempts}
}

// Accepted is the result of Accept.
type Accepted struct {
	InboundID int64
	Duplicate bool // the same message (Message-ID and sender) was already stored
}

// Accept durably stores a received message and enqueues its processing,
// in a transaction shared with concurrent calls, and returns once it has
// committed (see the contract above). raw is not retained after return.
func (s *Store) Accept(ctx context.Context, env Envelope, raw []byte) (Accepted, error) {
	return s.AcceptBuffer(ctx, env, s.bufferWith(env.MailFrom, raw))
}

// AcceptBuffer is Accept for a message read into buf (see NewBuffer): it
// is sealed where it lies, never copied. AcceptBuffer takes buf: it is
// empty after the call, whatever the outcome.
func (s *Store) AcceptBuffer(ctx context.Context, env Envelope, buf *InboundBuffer) (Accepted, error) {
	defer buf.Discard()
	row, err := s.sealInbound(env, buf)
	if err != nil {
		return Accepted{}, err
	}
	return s.accept(ctx, row)
}

// AcceptTx stores a received message and enqueues its processing in tx,
// the caller's transaction: both are stored if and only if tx commits,
// and the message is durable only once it has. A Duplicate is one stored
// before, or earlier in tx; a copy being stored by a transaction still
// open makes AcceptTx wait for it to end. tx should be READ COMMITTED
// (PostgreSQL's default): in a stricter one, a copy committed by another
// transaction since tx began fails it with a serialization error. After
// an error from the database, tx is aborted: the caller rolls it back.
// raw is not retained after return.
func (s *Store) AcceptTx(ctx context.Context, tx pgx.Tx, env Envelope, raw []byte) (Accepted, error) {
	buf := s.bufferWith(env.MailFrom, raw)
	defer buf.Discard()
	row, err := s.sealInbound(env, buf)
	if err != nil {
		return Accepted{}, err
	}
	res, err := s.insertInboundTx(ctx, tx, []inboundInsert{row})
	if err != nil {
		return Accepted{}, fmt.Errorf("accept message: %w", err)
	}
	return res[0], nil
}

// Inbound rows are inserted many at once (group commit): the columns
// travel as arrays, recipients joined by newlines (which no address
// holds), since unnest cannot take an array of arrays of different
// lengths. A row whose dedup key is stored already is skipped; the rows
// inserted come back with their dedup keys, in the order given.
const insertInboundSQL = `INSERT INTO inbound (dedup_key, message_id, mail_from_hash, rcpt, remote_ip, source, key_id, sealed, size, peer_ip)
	SELECT u.dedup, u.mid, u.fh, CASE WHEN u.rc = '' THEN '{}'::text[] ELSE string_to_array(u.rc, E'\n') END, u.ip, u.src, u.kid, u.sealed, u.size, u.peer
	FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bytea[], $9::int[], $10::text[])
		WITH ORDINALITY AS u(dedup, mid, fh, rc, ip, src, kid, sealed, size, peer, ord)
	ORDER BY u.ord
	ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key`

// storedInboundSQL finds the rows stored before under the dedup keys
// that insertInboundSQL skipped (client retries).
const storedInboundSQL = `SELECT id, dedup_key FROM inbound WHERE dedup_key = ANY($1)`

// insertInboundTx inserts rows and enqueues the processing of each new
// one in tx. A row whose dedup key is already stored, or repeated in
// rows, is reported as a Duplicate of the stored one.
func (s *Store) insertInboundTx(ctx context.Context, tx pgx.Tx, rows []inboundInsert) ([]Accepted, error) {
	if s.jobs == nil {
		return nil, errors.New("store has no job inserter (threads.Options.Jobs)")
	}
	ids := make(map[string]int64, len(rows)) // by dedup key; negative: stored before
	sizeOf := make(map[string]int64, len(rows))
	for _, r := range rows {
		sizeOf[string(r.dedup)] = int64(r.size)
	}
	res, err := tx.Query(ctx, insertInboundSQL, inboundColumns(rows)...)
	if err != nil {
		return nil, fmt.Errorf("insert inbound: %w", err)
	}
	var items []ProcessItem
	var id int64
	var key []byte
	if _, err := pgx.ForEachRow(res, []any{&id, &key}, func() error {
		ids[string(key)] = id
		items = append(items, ProcessItem{ID: id, Size: sizeOf[string(key)]})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("insert inbound: %w", err)
	}
	if len(items) < len(rows) {
		if err := findStoredInbound(ctx, tx, rows, ids); err != nil {
			return nil, err
		}
	}
	if params := s.processJobs(items); len(params) > 0 {
		// An INSERT, not COPY (InsertManyFastTx): for a few rows COPY's
		// extra round trips cost more than they save.
		if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("enqueue processing: %w", err)
		}
	}
	return acceptedOf(rows, ids)
}

// processJobs returns the processing jobs of items: one job for each
// MaxProcessBatch rows stored together.
func (s *Store) processJobs(items []ProcessItem) []river.InsertManyParams {
	var params []river.InsertManyParams
	for len(items) > 0 {
		k := min(len(items), MaxProcessBatch)
		args := ProcessArgs{InboundID: items[0].ID, Size: items[0].Size}
		if k > 1 {
			args = ProcessArgs{Batch: items[:k:k]}
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: s.processOpts()})
		items = items[k:]
	}
	return params
}

// inboundColumns returns the arguments of insertInboundSQL for rows.
func inboundColumns(rows []inboundInsert) []any {
	n := len(rows)
	dedup, msgID, fromHash := make([][]byte, n), make([]string, n), make([][]byte, n)
	rcpt, ip, peer, source := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	keyID, sealed, size := make([]int32, n), make([][]byte, n), make([]int32, n)
	for i, r := range rows {
		dedup[i], msgID[i], fromHash[i], ip[i], source[i] = r.dedup, r.msgID, r.fromHash, r.ip, r.source
		rcpt[i], peer[i] = strings.Join(r.rcpt, "\n"), r.peer
		keyID[i], sealed[i], size[i] = int32(r.keyID), r.sealed, int32(r.size)
	}
	return []any{dedup, msgID, fromHash, rcpt, ip, source, keyID, sealed, size, peer}
}

// findStoredInbound adds to ids, negated, the stored rows of the dedup
// keys of rows that ids lacks.
func findStoredInbound(ctx context.Context, tx pgx.Tx, rows []inboundInsert, ids map[string]int64) error {
	var missing [][]byte
	for _, r := range rows {
		if _, ok := ids[string(r.dedup)]; !ok {
			missing = append(missing, r.dedup)
		}
	}
	res, err := tx.Query(ctx, storedInboundSQL, missing)
	if err != nil {
		return fmt.Errorf("find duplicates: %w", err)
	}
	dups := map[string]int64{}
	var id int64
	var key []byte
	if _, err := pgx.ForEachRow(res, []any{&id, &key}, func() error {
		dups[string(key)] = id
		return nil
	}); err != nil {
		return fmt.Errorf("find duplicates: %w", err)
	}
	for k, v := range dups {
		ids[k] = -v
	}
	return nil
}

// acceptedOf returns the result of each of rows from ids (negative: a
// row stored before); the first of rows repeating a new key is the new
// one, the others its Duplicates.
func acceptedOf(rows []inboundInsert, ids map[string]int64) ([]Accepted, error) {
	out := make([]Accepted, len(rows))
	first := make(map[string]bool, len(rows))
	for i, r := range rows {
		d := string(r.dedup)
		id, ok := ids[d]
		switch {
		case !ok:
			return nil, errors.New("stored inbound row not found")
		case id < 0:
			out[i] = Accepted{InboundID: -id, Duplicate: true}
		case first[d]:
			out[i] = Accepted{InboundID: id, Duplicate: true}
		default:
			first[d] = true
			out[i] = Accepted{InboundID: id}
		}
	}
	return out, nil
}

// sealInbound prepares the inbound row of the message in buf: its dedup
// key, shown Message-ID and sender hash, and the sender and message
// sealed in place. The row's sealed value aliases buf.
func (s *Store) sealInbound(env Envelope, buf *InboundBuffer) (inboundInsert, error) {
	if !env.Source.Valid() {
		return inboundInsert{}, fmt.Errorf("accept message: unknown source %q", env.Source)
	}
	aead := s.keys.aeads[s.keys.current]
	// The sealed plaintext is "sender NUL raw", built in front of raw,
	// after the nonce. A buffer made for a shorter sender is copied.
	if buf.head-len(env.MailFrom)-1 < aead.NonceSize() || buf.buf == nil {
		*buf = *s.bufferWith(env.MailFrom, buf.Message())
	}
	raw := buf.Message()
	msgID := headerMessageID(raw)
	dedup := dedupKey(msgID, env.MailFrom, env.Rcpt, raw)
	row := s.envelopeRow(env, msgID, dedup, len(raw))
	start := buf.head - len(env.MailFrom) - 1
	copy(buf.buf[start:], env.MailFrom)
	buf.buf[buf.head-1] = 0
	keyID, sealed, err := s.keys.SealInPlace(buf.buf, start-aead.NonceSize(), dedup)
	if err != nil {
		return inboundInsert{}, fmt.Errorf("accept message: %w", err)
	}
	row.keyID, row.sealed = keyID, sealed
	return row, nil
}

// envelopeRow is the inbound row of a message of size bytes with
// Message-ID msgID and dedup key dedup, received with env, before its
// seal.
func (s *Store) envelopeRow(env Envelope, msgID string, dedup []byte, size int) inboundInsert {
	row := inboundInsert{dedup: dedup, msgID: s.shownMessageID(msgID, env.MailFrom), rcpt: env.Rcpt,
		ip: remoteIP(env.RemoteAddr), peer: remoteIP(env.PeerAddr), source: string(env.Source), size: size}
	if row.rcpt == nil {
		row.rcpt = []string{}
	}
	if env.MailFrom != "" {
		row.fromHash = s.keys.AddressHash(env.MailFrom)
	}
	return row
}

// shownMessageID is the Message-ID stored for operators to see: as
// received, unless it holds the sender's address (some clients put it
// there), in which case only its keyed hash.
func (s *Store) shownMessageID(msgID, mailFrom string) string {
	if mailFrom != "" && strings.Contains(strings.ToLower(msgID), NormalizeAddress(mailFrom)) {
		return s.keys.MessageIDHash(msgID)
	}
	// PostgreSQL text takes neither NUL nor invalid UTF-8.
	return strings.ReplaceAll(strings.ToValidUTF8(msgID, "?"), "\x00", "?")
}

// openInbound splits an opened inbound value into the envelope sender
// and the raw message (the sealed plaintext is "sender NUL raw").
func openInbound(b []byte) (mailFrom string, raw []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", b
	}
	return string(b[:i]), b[i+1:]
}

// remoteIP returns the host part of an IP:port address.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// dedupKey identifies a delivery: Message-ID, envelope sender and
// recipients (so a retry is recognised, but the same message later sent to
// another forum address is not lost), or the whole raw message and
// recipients when it has no Message-ID.
func dedupKey(msgID, mailFrom string, rcpt []string, raw []byte) []byte {
	h := dedupStart(msgID, mailFrom)
	if msgID == "" {
		h.Write(raw)
	}
	return dedupEnd(h, rcpt)
}

// dedupStart begins the hash of dedupKey; without a Message-ID the raw
// message is written to it next, then dedupEnd adds the recipients.
func dedupStart(msgID, mailFrom string) hash.Hash {
	h := sha256.New()
	if msgID == "" {
		h.Write([]byte("raw\x00"))
	} else {
		h.Write([]byte("mid\x00" + msgID + "\x00" + NormalizeAddress(mailFrom)))
	}
	return h
}

// dedupEnd adds the recipients to h (dedupStart) and returns the key.
func dedupEnd(h hash.Hash, rcpt []string) []byte {
	rs := make([]string, len(rcpt))
	for i, r := range rcpt {
		rs[i] = NormalizeAddress(r)
	}
	sort.Strings(rs)
	for _, r := range rs {
		h.Write([]byte("\x00" + r))
	}
	return h.Sum(nil)
}

// headerMessageID returns the Message-ID (without angle brackets) from the
// header block of raw, or "" when there is none. It reads at most the
// first 256 KiB, tolerating malformed header lines.
func headerMessageID(raw []byte) string {
	const max = 256 << 10
	head := raw
	if len(head) > max {
		head = head[:max]
	}
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i+2]
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Buffer(make([]byte, 0, 4096), max)
	var cur string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if cur != "" {
				cur += strings.TrimSpace(line)
			}
			continue
		}
		if cur != "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)) == "Message-Id" {
			cur = strings.TrimSpace(v)
			if cur == "" {
				cur = " "
			}
		}
	}
	return CleanMessageID(cur)
}

// CleanMessageID strips angle brackets, comments and white space from a
// Message-ID; it returns "" for an empty one.
func CleanMessageID(id string) string {
	id = strings.TrimSpace(id)
	if i := strings.IndexByte(id, '<'); i >= 0 {
		if j := strings.IndexByte(id[i:], '>'); j > 0 {
			id = id[i+1 : i+j]
		}
	}
	id = strings.Trim(strings.TrimSpace(id), "<>")
	if i := strings.IndexAny(id, "<> \t\r\n"); i >= 0 {
		// Malformed: keep what comes before the stray delimiter.
		id = id[:i]
	}
	if len(id) > 250 {
		id = id[:250]
	}
	return id
}
