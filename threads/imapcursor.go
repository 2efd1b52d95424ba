package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The IMAP cursor: exactly-once intake from a mailbox read over IMAP
// (mailin/imap). A mailbox's cursor is its UIDVALIDITY and the highest
// UID taken; TakeIMAP stores messages and moves the cursor past them in
// one transaction, so that after a crash at any moment each message is
// either stored with the cursor past it, or neither. A changed
// UIDVALIDITY resets the cursor (the mailbox is read again from its
// first UID); the intake's de-duplication (same Message-ID, sender and
// recipients) then keeps the messages stored before from being stored
// twice.

// IMAPCursor is where reading one mailbox has got to.
type IMAPCursor struct {
	UIDValidity uint32
	LastUID     uint32 // highest UID taken; 0: none
}

// IMAPMessage is one message fetched from a mailbox, to be taken.
type IMAPMessage struct {
	UID uint32
	// Env is its envelope; Source must be SourceIMAP.
	Env Envelope
	// Raw is the message; nil when it is refused (no forum recipient,
	// too large): the cursor moves past it, nothing is stored but
	// Refused, when set (for `postern inbound list --failed`).
	Raw     []byte
	Refused *IMAPRefusal
}

// IMAPTaken is what TakeIMAP did with one message.
type IMAPTaken struct {
	Accepted
	// Stored: Accepted holds the stored row (new or a Duplicate). False
	// for a refused message and for one taken before (its UID was at or
	// below the cursor: another reader got there first).
	Stored bool
}

// IMAPCursor returns the cursor of the mailbox named by key; the zero
// cursor when the mailbox was never read.
func (s *Store) IMAPCursor(ctx context.Context, key string) (IMAPCursor, error) {
	var c IMAPCursor
	var uv, last int64
	err := s.pool.QueryRow(ctx, `SELECT uidvalidity, last_uid FROM imap_cursors WHERE mailbox_key = $1`, key).Scan(&uv, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read imap cursor: %w", err)
	}
	return IMAPCursor{UIDValidity: uint32(uv), LastUID: uint32(last)}, nil
}

// TakeIMAP, in one transaction, locks the cursor of the mailbox named by
// key, stores each of msgs whose UID is above it (Store.AcceptTx, with
// its processing job) and moves the cursor to uidValidity and the
// highest UID of msgs. When uidValidity differs from the cursor's, the
// cursor is reset first: every UID of msgs is new. With no msgs it only
// records uidValidity (resetting the cursor if it changed). The results
// are in the order of msgs. On an error nothing is stored and the cursor
// has not moved.
func (s *Store) TakeIMAP(ctx context.Context, key string, uidValidity uint32, msgs []IMAPMessage) ([]IMAPTaken, error) {
	for _, m := range msgs {
		if m.Env.Source != SourceIMAP {
			return nil, fmt.Errorf("take imap messages: source %q, want %q", m.Env.Source, SourceIMAP)
		}
	}
	out := make([]IMAPTaken, len(msgs))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		last, err := lockIMAPCursor(ctx, tx, key, uidValidity)
		if err != nil {
			return err
		}
		newLast := last
		for i, m := range msgs {
			if m.UID <= last {
				continue
			}
			newLast = max(newLast, m.UID)
			if m.Raw == nil {
				if m.Refused != nil {
					if err := recordIMAPRefusal(ctx, tx, key, uidValidity, m.UID, *m.Refused); err != nil {
						return err
					}
				}
				continue
			}
			acc, err := s.AcceptTx(ctx, tx, m.Env, m.Raw)
			if err != nil {
				return err
			}
			out[i] = IMAPTaken{Accepted: acc, Stored: true}
		}
		_, err = tx.Exec(ctx, `UPDATE imap_cursors SET uidvalidity = $2, last_uid = $3, updated_at = now() WHERE mailbox_key = $1`,
			key, int64(uidValidity), int64(newLast))
		if err != nil {
			return fmt.Errorf("move imap cursor: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take imap messages: %w", err)
	}
	return out, nil
}

// lockIMAPCursor creates the cursor of key if it is missing and locks it
// in tx until tx ends; it returns its last UID under uidValidity (0 when
// the stored UIDVALIDITY is another).
func lockIMAPCursor(ctx context.Context, tx pgx.Tx, key string, uidValidity uint32) (uint32, error) {
	_, err := tx.Exec(ctx, `INSERT INTO imap_cursors (mailbox_key, uidvalidity) VALUES ($1, $2) ON CONFLICT (mailbox_key) DO NOTHING`,
		key, int64(uidValidity))
	if err != nil {
		return 0, fmt.Errorf("create imap cursor: %w", err)
	}
	var uv, last int64
	err = tx.QueryRow(ctx, `SELECT uidvalidity, last_uid FROM imap_cursors WHERE mailbox_key = $1 FOR UPDATE`, key).Scan(&uv, &last)
	if err != nil {
		return 0, fmt.Errorf("lock imap cursor: %w", err)
	}
	if uint32(uv) != uidValidity {
		return 0, nil
	}
	return uint32(last), nil
}
