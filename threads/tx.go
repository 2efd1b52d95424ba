package threads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/token"
)

// Tx is the store's side of processing one inbound message: a
// transaction (owned by InboundTx, which commits or rolls it back) and
// the inbound row it locked. The processing pipeline (threads/pipeline)
// reads the message and decides; each method of Tx is one step it asks
// of the store, run inside that transaction. A Tx lives only as long as
// the function given to InboundTx.
type Tx struct {
	s  *Store
	tx pgx.Tx
	in inboundRow
}

// TokenRef is a token (reply, confirm, unsubscribe, bounce) named by a
// recipient address or by the confirmation request a reply answers.
// Present is false for a bare address without a token.
type TokenRef struct {
	Purpose                token.Purpose
	Subject, Person, Epoch int64
	Present                bool
}

type tokenRef = TokenRef

// Inbound is what processing reads of a locked inbound message.
type Inbound struct {
	ID       int64
	Raw      []byte // the message as received (nil when Purged)
	MailFrom string // the envelope sender ("" for a null return path)
	Rcpt     []string
	State    string
	RemoteIP string // the client's IP
	PeerIP   string // over LMTP, the front MTA's IP; else ""
	// Source is what received it. Mail from SourceWeb was written in a
	// form by anyone: it is never evidence of its From address.
	Source Source
	// WebPerson is, for a form a signed-in member posted, that member
	// (AcceptAsMember); 0 otherwise.
	WebPerson int64
	// Purged: the raw message is gone or cannot be decrypted.
	Purged bool
}

// Outcome is what processing decided for an inbound message, recorded
// on its row by MarkInbound. Reason is a rendered sentence that holds no
// address.
type Outcome struct {
	State, Reason    string
	PostID, SenderID int64
	DKIM, DMARC, SPF string // the authentication results
	Evidence         string // see the Evidence* constants
}

// InboundSize returns the size of accepted inbound message id; ok is false
// when it is no longer accepted (or gone).
func (s *Store) InboundSize(ctx context.Context, id int64) (size int64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, sqlInboundSize, id).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("load inbound %d: %w", id, err)
	}
	return size, true, nil
}

// InboundTx locks inbound message id and runs fn with it in one
// transaction, committed when fn returns nil. Loading and locking are one
// statement: a second worker given the same message waits, then finds it
// no longer accepted. A message whose key is wrong or missing is given
// to fn as Purged (and the cause logged).
func (s *Store) InboundTx(ctx context.Context, id int64, fn func(*Tx, Inbound) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t := &Tx{s: s, tx: tx}
		var keyID int
		var sealedLen *int64
		var chunks *int
		var sealed, dedup []byte
		in := &t.in
		err := tx.QueryRow(ctx, sqlLockInbound, id, sliceFrom).
			Scan(&in.id, &keyID, &sealed, &sealedLen, &dedup, &chunks, &in.rcpt, &in.state, &in.remoteIP, &in.peerIP, &in.source, &in.webPerson)
		if err != nil {
			return fmt.Errorf("lock inbound: %w", err)
		}
		if sealed == nil && sealedLen != nil && in.state == StateAccepted {
			if sealed, err = readSealedSlices(ctx, tx, id, *sealedLen); err != nil {
				return err
			}
		}
		if chunks != nil {
			if err := s.openChunked(ctx, tx, in, *chunks); err != nil {
				return err
			}
		} else {
			s.openLocked(in, keyID, sealed, dedup)
		}
		return fn(t, in.public())
	})
}

// sliceFrom is the size from which InboundTx reads a sealed message in
// slices of sliceSize into a buffer of its exact size, instead of as one
// value: the driver would read that into a buffer of the next power of
// two (32 MiB for a 25 MB message) and scanning would copy it once more.
const (
	sliceFrom = 1 << 20
	sliceSize = 1 << 20
)

// readSealedSlices reads the sealed value of inbound row id, n bytes, in
// slices of sliceSize into one buffer of n bytes.
func readSealedSlices(ctx context.Context, tx pgx.Tx, id, n int64) ([]byte, error) {
	buf := make([]byte, 0, n)
	for int64(len(buf)) < n {
		rows, err := tx.Query(ctx, sqlSealedSlice, id, len(buf)+1, min(sliceSize, n-int64(len(buf))))
		if err != nil {
			return nil, fmt.Errorf("read sealed inbound: %w", err)
		}
		before := len(buf)
		for rows.Next() {
			// The raw value aliases the driver's buffer: appended, not kept.
			if v := rows.RawValues(); len(v) == 1 {
				buf = append(buf, v[0]...)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read sealed inbound: %w", err)
		}
		if len(buf) == before {
			return nil, fmt.Errorf("read sealed inbound: %d of %d bytes", len(buf), n)
		}
	}
	return buf, nil
}

// openLocked opens the sealed message of locked row in when it is still
// accepted; a message whose key is wrong or missing is marked purged (and
// the cause logged).
func (s *Store) openLocked(in *inboundRow, keyID int, sealed, dedup []byte) {
	if in.state != StateAccepted {
		return
	}
	if sealed == nil {
		in.purged = true
	} else if plain, err := s.keys.OpenBytes(keyID, sealed, dedup); err != nil {
		// Wrong or missing key: keep the message, say why.
		in.purged = true
		s.log.Error("inbound message cannot be decrypted", "inbound_id", in.id, "key_id", keyID, "err", err)
	} else {
		in.mailFrom, in.raw = openInbound(plain)
	}
}

// openChunked reads and opens the n chunks of locked row in when it is
// still accepted; a message whose chunks do not open is marked purged
// (and the cause logged). Only a failure to read them is returned.
func (s *Store) openChunked(ctx context.Context, q querier, in *inboundRow, n int) error {
	if in.state != StateAccepted {
		return nil
	}
	plain, err := s.readChunks(ctx, q, in.id, n)
	switch {
	case errors.Is(err, ErrSealedDamaged) || errors.Is(err, ErrNoKey):
		in.purged = true
		s.log.Error("inbound message cannot be decrypted", "inbound_id", in.id, "err", err)
	case err != nil:
		return err
	default:
		in.mailFrom, in.raw = openInbound(plain)
	}
	return nil
}

// public is what processing reads of in.
func (in *inboundRow) public() Inbound {
	return Inbound{ID: in.id, Raw: in.raw, MailFrom: in.mailFrom, Rcpt: in.rcpt, State: in.state,
		RemoteIP: in.remoteIP, PeerIP: in.peerIP, Source: Source(in.source), WebPerson: in.webPerson, Purged: in.purged}
}

// MarkInbound records out on the locked inbound row.
func (t *Tx) MarkInbound(ctx context.Context, out Outcome) error {
	if b := t.batch(); b != nil {
		// In a batch, the rows are marked together before it commits.
		b.marks = append(b.marks, markRow{id: t.in.id, out: out})
		return nil
	}
	_, err := t.tx.Exec(ctx, sqlMarkInbound,
		t.in.id, out.State, out.Reason, out.PostID, out.SenderID, out.DKIM, out.DMARC, out.SPF, out.Evidence)
	if err != nil {
		return fmt.Errorf("mark inbound: %w", err)
	}
	return nil
}

// Log is the store's logger (Options.Log).
func (s *Store) Log() *slog.Logger { return s.log }

// ForPostmaster reports whether any of rcpt is the postmaster (the server
// accepts no other recipient beside it in one transaction).
func (s *Store) ForPostmaster(rcpt []string) bool { return s.forPostmaster(rcpt) }

// EnsurePerson is Store.EnsurePerson in t, with From display name name
// made safe to show first (no address, no control characters).
func (t *Tx) EnsurePerson(ctx context.Context, addr, name string) (Person, error) {
	// People only: nothing a batch defers.
	return t.s.ensurePerson(ctx, t.reader(nil), addr, cleanDisplayName(name))
}

// WithoutEvidence returns p as processing treats a confirmed member whose
// message carries no evidence that they sent it: not confirmed for this
// message (it is held and they are asked), and Unproven.
func (p Person) WithoutEvidence() Person {
	p.Confirmed, p.unproven = false, true
	return p
}

// Unproven reports whether p was made WithoutEvidence.
func (p Person) Unproven() bool { return p.unproven }

// NotificationReplied reports whether one of ids (a reply's In-Reply-To
// and References) is the Message-ID of a notification sent to person.
func (t *Tx) NotificationReplied(ctx context.Context, ids []string, person int64) (bool, error) {
	var ok bool
	dep := func(p *pendingRows) bool { return p.hasAnyMsgID(ids) }
	if err := t.reader(dep).QueryRow(ctx, sqlNotificationReplied, ids, person).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up notification replied to: %w", err)
	}
	return ok, nil
}

// RedactKnown replaces, in each text, the address from and the address of
// every person the forum knows with "[address removed]".
func (t *Tx) RedactKnown(ctx context.Context, from string, texts ...*string) error {
	// People only: nothing a batch defers.
	return t.s.redactKnown(ctx, t.reader(nil), from, texts...)
}
