package threads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
)

// Inbound states.
const (
	StateAccepted  = "accepted"
	StateProcessed = "processed"
	StateIgnored   = "ignored"
	StateFailed    = "failed"
)

// FailInbound marks the accepted message id failed after attempts failed
// processing attempts, with reason, shown by `postern inbound list`: the
// caller makes sure it holds no address. A message no longer accepted is
// left alone.
func (s *Store) FailInbound(ctx context.Context, id int64, attempts int, reason string) error {
	tag, uerr := s.pool.Exec(ctx, sqlFailInbound, id, reason)
	if uerr != nil {
		return fmt.Errorf("mark inbound %d failed: %w", id, uerr)
	}
	if tag.RowsAffected() == 1 {
		s.log.Warn("inbound message failed after its last processing attempt", "inbound_id", id, "attempts", attempts)
	}
	return nil
}

// DatabaseUnreachable reports whether err says the database could not be
// reached (no connection, a connection lost or timed out, the server
// shutting down or refusing connections) rather than that it answered a
// statement with an error.
func DatabaseUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down or starting; 53300: too many connections.
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET)
}

// outcome is what processing decided for an inbound message.
type outcome struct {
	state    string
	reason   string
	postID   int64
	senderID int64
	auth     auth.Result
	evidence string
}

type inboundRow struct {
	id       int64
	raw      []byte
	mailFrom string
	rcpt     []string
	state    string
	remoteIP string
	peerIP   string // the front MTA over LMTP, else ""
	purged   bool
}

// Process turns inbound message id into a post (or marks it ignored or
// failed with a reason). It is idempotent: a message no longer in state
// accepted is left alone, and every write happens in one transaction that
// also marks the message processed.
func (s *Store) Process(ctx context.Context, id int64) error {
	return s.ProcessInbound(ctx, id, 0)
}

// ProcessWeight is how many times its size a message counts against the
// memory budget while it is processed: the copies alive at once (the
// database driver's buffer and the sealed, opened and decoded message, its
// text as it is trimmed and redacted, the kept files as the driver encodes
// them; the driver reads a row into a buffer of the next power of two), as
// measured by TestConcurrentLargeMessagesStayInBudget.
const ProcessWeight = 7

// processOverhead is what processing any message counts besides its size.
const processOverhead = 256 << 10

// ProcessInbound is Process for a message of size bytes (0: unknown), as
// the postern.process job knows it.
func (s *Store) ProcessInbound(ctx context.Context, id, size int64) error {
	// Messages are processed within a memory budget, which a server
	// shares with its intake and its notifications, so that a burst of
	// large messages cannot multiply the process's memory.
	if size <= 0 {
		if err := s.pool.QueryRow(ctx, sqlInboundSize, id).Scan(&size); errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("load inbound %d: %w", id, err)
		}
	}
	w := min(ProcessWeight*size+processOverhead, s.procMemCap)
	if err := s.procMem.Acquire(ctx, w); err != nil {
		return fmt.Errorf("process inbound %d: %w", id, err)
	}
	defer s.procMem.Release(w)
	if size >= 1<<20 {
		// Its copies (sealed, opened, parsed) are garbage once it is
		// processed: collect them at once rather than let the next large
		// message's copies pile on top of them.
		defer runtime.GC()
	}
	var out outcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Load and lock in one statement: a second worker given the same
		// job waits here, then finds the message no longer accepted.
		var in inboundRow
		var keyID int
		var sealed, dedup []byte
		err := tx.QueryRow(ctx, sqlLockInbound, id).
			Scan(&in.id, &keyID, &sealed, &dedup, &in.rcpt, &in.state, &in.remoteIP, &in.peerIP)
		if err != nil {
			return fmt.Errorf("lock inbound: %w", err)
		}
		if in.state != StateAccepted {
			out = outcome{state: in.state}
			return nil
		}
		if sealed == nil {
			in.purged = true
		} else if plain, err := s.keys.OpenBytes(keyID, sealed, dedup); err != nil {
			// Wrong or missing key: keep the message, say why.
			in.purged = true
			s.log.Error("inbound message cannot be decrypted", "inbound_id", id, "key_id", keyID, "err", err)
		} else {
			in.mailFrom, in.raw = openInbound(plain)
		}
		out, err = s.process(ctx, tx, &in)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlMarkInbound,
			id, out.state, out.reason, out.postID, out.senderID, out.auth.DKIM, out.auth.DMARC, out.auth.SPF, out.evidence)
		if err != nil {
			return fmt.Errorf("mark inbound: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("process inbound %d: %w", id, err)
	}
	s.log.Info("inbound processed", "inbound_id", id, "state", out.state, "reason", out.reason, "post_id", out.postID)
	return nil
}

func ignored(reason string) outcome { return outcome{state: StateIgnored, reason: reason} }
func failed(reason string) outcome  { return outcome{state: StateFailed, reason: reason} }

// process decides what in becomes, writing the result inside tx: Screen,
// then the sender and the evidence they sent it, then loadFacts, Decide
// and apply.
func (s *Store) process(ctx context.Context, tx pgx.Tx, in *inboundRow) (outcome, error) {
	sf := ScreenFacts{Purged: in.purged, Domain: s.cfg.Domain}
	var m *parse.Message
	var rcpts rcptSet
	if !in.purged {
		sf.ForPostmaster = s.forPostmaster(in.rcpt)
	}
	if !in.purged && !sf.ForPostmaster {
		var err error
		if m, err = parse.Parse(in.raw, parse.Limits{}); err != nil {
			sf.ParseError = err.Error()
		} else {
			rcpts = s.recipients(in.rcpt)
			screenMessage(&sf, m, in.mailFrom, rcpts)
		}
	}
	switch act := Screen(sf); act.Kind {
	case ActFail:
		return failed(act.Text), nil
	case ActIgnore:
		return ignored(act.Text), nil
	case ActPostmaster:
		return s.keepForPostmaster(ctx, tx, in)
	case ActBounce:
		return s.recordBounce(ctx, tx, in, m, rcpts.bounce)
	}
	author, err := s.ensurePerson(ctx, tx, sf.From, cleanDisplayName(m.From.Name))
	if err != nil {
		return outcome{}, err
	}
	res := s.authenticate(ctx, in)
	ev, err := s.evidence(ctx, tx, in, res, author, sf.From, rcpts, CandidateIDs(m.InReplyTo, m.References))
	if err != nil {
		return outcome{}, err
	}
	if author.Confirmed && ev == EvidenceNone {
		// The address is confirmed, but nothing shows this message comes
		// from there (anyone can write it in From): hold it and ask the
		// member, as for an unknown address.
		author.Confirmed, author.unproven = false, true
	}
	out, err := s.route(ctx, tx, in, m, rcpts, author, sf.From)
	out.senderID, out.auth, out.evidence = author.ID, res, ev
	if err == nil && author.unproven && res.Temporary() {
		out.reason += templates.InboundNoEvidenceDNS
	}
	if err == nil && out.state == StateProcessed && author.Confirmed {
		// Say why it was taken as the member's: "published (evidence:
		// dkim)", "queued for a moderator (evidence: reply-token)".
		if out.reason == "" {
			out.reason = templates.InboundPublished
		}
		out.reason = templates.InboundWithEvidence(out.reason, ev)
	}
	return out, err
}

// route handles a message from a human sender (author): it loads the
// facts, decides, and applies the action.
func (s *Store) route(ctx context.Context, tx pgx.Tx, in *inboundRow, m *parse.Message, rcpts rcptSet, author Person, from string) (outcome, error) {
	f, err := s.loadFacts(ctx, tx, m, rcpts, author, from)
	if err != nil {
		return outcome{}, err
	}
	return s.apply(ctx, tx, in, author, Decide(f))
}
