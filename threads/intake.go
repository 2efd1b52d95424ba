package threads

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"sort"
	"strings"

	"github.com/riverqueue/river"
)

// Envelope is the SMTP envelope of a received message.
type Envelope struct {
	MailFrom   string   // reverse path; "" for the null sender
	Rcpt       []string // accepted forum recipients
	RemoteAddr string   // the client's IP:port ("" over LMTP, whose peer is not the sender's client)
	Source     string   // "smtp", "lmtp", "imap" or "import"
	// PeerAddr is the TCP peer's IP:port when it is not the sending
	// client (over LMTP: the front MTA); it is checked against the
	// trusted networks only.
	PeerAddr string
}

// ProcessArgs is the River job that turns an inbound row into a post.
type ProcessArgs struct {
	InboundID int64 `json:"inbound_id"`
	// Size is the raw message's size, so that processing knows whether it
	// needs the memory budget before loading it; 0 (jobs enqueued by older
	// versions, retries) means unknown and costs one more query.
	Size int64 `json:"size,omitempty"`
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

// Accept durably stores a received message: one transaction inserts the
// raw bytes (sealed: they contain addresses) with the envelope and
// enqueues its processing job. It returns only after that transaction has
// committed, so a nil error is the permission to answer 250. A message
// with the same Message-ID, envelope sender and recipients as one already
// stored (a client retry) is not stored again and is reported as
// Duplicate. raw is not retained after return. Concurrent calls share
// transactions (group commit, see groupcommit.go).
func (s *Store) Accept(ctx context.Context, env Envelope, raw []byte) (Accepted, error) {
	head := s.InboundHeadroom(env.MailFrom)
	buf := make([]byte, head+len(raw), head+len(raw)+s.keys.SealOverhead())
	copy(buf[head:], raw)
	return s.AcceptBuffer(ctx, env, buf, head)
}

// InboundHeadroom is how many bytes AcceptBuffer needs in front of the
// message for the envelope sender and the nonce.
func (s *Store) InboundHeadroom(mailFrom string) int {
	return s.keys.SealOverhead() + len(mailFrom) + 1
}

// AcceptBuffer is Accept for a message already in buf[head:], with
// buf[:head] free (at least InboundHeadroom) and spare capacity for the
// tag (SealOverhead): the message is sealed in place, never copied. buf is
// overwritten and must not be used after the call.
func (s *Store) AcceptBuffer(ctx context.Context, env Envelope, buf []byte, head int) (Accepted, error) {
	if s.jobs == nil {
		return Accepted{}, errors.New("store has no job inserter (threads.Options.Jobs)")
	}
	raw := buf[head:]
	size := len(raw)
	msgID := headerMessageID(raw)
	dedup := dedupKey(msgID, env.MailFrom, env.Rcpt, raw)
	rcpt := env.Rcpt
	if rcpt == nil {
		rcpt = []string{}
	}
	// Shown to operators; PostgreSQL text takes neither NUL nor invalid UTF-8.
	shownID := strings.ReplaceAll(strings.ToValidUTF8(msgID, "?"), "\x00", "?")
	if env.MailFrom != "" && strings.Contains(strings.ToLower(msgID), NormalizeAddress(env.MailFrom)) {
		// Some clients put the sender's address in the Message-ID: keep
		// only its keyed hash.
		shownID = s.keys.MessageIDHash(msgID)
	}
	// The sealed plaintext is "sender NUL raw", built in front of raw.
	start := head - len(env.MailFrom) - 1
	if start < s.keys.SealOverhead()-s.keys.aeads[s.keys.current].Overhead() {
		return Accepted{}, errors.New("accept message: buffer headroom too small")
	}
	copy(buf[start:], env.MailFrom)
	buf[head-1] = 0
	nonce := s.keys.aeads[s.keys.current].NonceSize()
	keyID, sealed, err := s.keys.SealInPlace(buf, start-nonce, dedup)
	if err != nil {
		return Accepted{}, fmt.Errorf("accept message: %w", err)
	}
	var fromHash []byte
	if env.MailFrom != "" {
		fromHash = s.keys.AddressHash(env.MailFrom)
	}
	return s.accept(ctx, inboundInsert{dedup: dedup, msgID: shownID, fromHash: fromHash, rcpt: rcpt,
		ip: remoteIP(env.RemoteAddr), peer: remoteIP(env.PeerAddr), source: env.Source, keyID: keyID, sealed: sealed, size: size})
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
	h := sha256.New()
	if msgID == "" {
		h.Write([]byte("raw\x00"))
		h.Write(raw)
	} else {
		h.Write([]byte("mid\x00" + msgID + "\x00" + NormalizeAddress(mailFrom)))
	}
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
