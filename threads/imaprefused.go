package threads

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// IMAPRefusal is why a message of an IMAP mailbox was not stored; TakeIMAP
// records it (table imap_refused) for `postern inbound list --failed`.
// It holds no user or address but what a Message-ID may (redacted when
// listed).
type IMAPRefusal struct {
	Mailbox   string // host:port/folder (imapurl.Mailbox.Label)
	MessageID string // "" when not fetched
	Size      int64
	Reason    string
}

// IMAPRefused is one refused message as recorded.
type IMAPRefused struct {
	IMAPRefusal
	UID       uint32
	RefusedAt time.Time
}

// recordIMAPRefusal stores refusal of message uid in tx (once: a second
// record of the same message is ignored).
func recordIMAPRefusal(ctx context.Context, tx pgx.Tx, key string, uidValidity, uid uint32, r IMAPRefusal) error {
	_, err := tx.Exec(ctx, `INSERT INTO imap_refused (mailbox_key, uidvalidity, uid, mailbox, message_id, size, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (mailbox_key, uidvalidity, uid) DO NOTHING`,
		key, int64(uidValidity), int64(uid), r.Mailbox, r.MessageID, r.Size, r.Reason)
	if err != nil {
		return fmt.Errorf("record refused imap message: %w", err)
	}
	return nil
}

// ListIMAPRefused returns the newest limit messages of IMAP mailboxes
// that were refused (each still in its mailbox, with $PosternFailed),
// newest first, their Message-IDs redacted of addresses.
func (s *Store) ListIMAPRefused(ctx context.Context, limit int) ([]IMAPRefused, error) {
	return queryList(ctx, s, "list refused imap messages", `SELECT mailbox, uid, message_id, size, reason, refused_at
		FROM imap_refused ORDER BY id DESC LIMIT $1`, func(r pgx.CollectableRow) (IMAPRefused, error) {
		var m IMAPRefused
		var uid int64
		err := r.Scan(&m.Mailbox, &uid, &m.MessageID, &m.Size, &m.Reason, &m.RefusedAt)
		m.UID = uint32(uid)
		m.MessageID = redactAllAddresses(m.MessageID)
		return m, err
	}, limit)
}

// PurgeIMAPRefused deletes the records of refused IMAP messages older
// than RawRetention, as PurgeRaw does with raw mail: a Message-ID may hold
// an address. The messages themselves stay in their mailbox, and the
// cursor is past them, so none is fetched or recorded again.
func (s *Store) PurgeIMAPRefused(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM imap_refused WHERE refused_at < now() - make_interval(secs => $1)`, s.cfg.RawRetention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge refused imap records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
