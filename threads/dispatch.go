package threads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/token"
)

// Outgoing is everything the dispatcher needs to render and send one
// notification. RecipientAddress is the only address in it: the
// recipient's own, decrypted for this send and not to be kept or logged.
type Outgoing struct {
	NotificationID   int64
	Kind             string // one of the Notify* kinds
	State            string // pending, sent, failed, cancelled
	MessageID        string // this notification's Message-ID (no brackets)
	RecipientID      int64
	RecipientName    string
	RecipientAddress string
	Skip             string // non-empty: do not send, and why (suppressed, unsubscribed, forgotten)

	PostID       int64
	PostKind     PostKind
	PostBody     string
	PostAuthor   string // display name
	PostCreated  time.Time
	QuestionID   int64
	Title        string
	CategoryName string

	InReplyTo  string   // no brackets
	References []string // no brackets, oldest first

	Attachments []AttachmentInfo // the post's files, linked from the mail
	ActionURL   string           // confirm link, for confirmation requests
	Note        string           // the reason, for rejected and unsubscribed mail

	ReplyTo         string // reply+TOKEN (or confirm+TOKEN) address; empty for mail that takes no reply
	EnvelopeFrom    string // bounce+TOKEN VERP address
	UnsubscribeMail string // unsubscribe+TOKEN address (this question)
	UnsubscribeTok  string // token for the web unsubscribe link (this question)
	ThreadURL       string
}

// ErrNotificationGone means the notification row no longer exists.
var ErrNotificationGone = errors.New("notification no longer exists")

// LoadOutgoing loads notification id for sending, decrypting the
// recipient's address. A notification that must not be sent is returned
// with Skip set (and no address).
func (s *Store) LoadOutgoing(ctx context.Context, id int64) (*Outgoing, error) {
	o := &Outgoing{NotificationID: id}
	var suppressed, unsubscribed, forgotten, muted bool
	var epoch, subscription int64
	var kind, inboundMsgID string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT n.kind, n.state, n.message_id, n.person_id, pe.display_name, pe.token_epoch,
				pe.suppressed_at IS NOT NULL, pe.unsubscribed_at IS NOT NULL, pe.address_enc IS NULL,
				coalesce(p.id, 0), coalesce(p.kind, ''), coalesce(p.body, ''), coalesce(a.display_name, ''), coalesce(p.created_at, n.created_at),
				coalesce(p.question_id, p.id, 0), n.note, coalesce(n.subscription_id, 0), coalesce(i.message_id, ''),
				EXISTS (SELECT 1 FROM mutes m WHERE m.person_id = n.person_id AND m.question_id = coalesce(p.question_id, p.id))
			FROM notifications n
			JOIN people pe ON pe.id = n.person_id
			LEFT JOIN posts p ON p.id = n.post_id
			LEFT JOIN people a ON a.id = p.author_id
			LEFT JOIN inbound i ON i.id = n.inbound_id
			WHERE n.id = $1`, id).Scan(&o.Kind, &o.State, &o.MessageID, &o.RecipientID, &o.RecipientName, &epoch,
			&suppressed, &unsubscribed, &forgotten,
			&o.PostID, &kind, &o.PostBody, &o.PostAuthor, &o.PostCreated, &o.QuestionID, &o.Note, &subscription, &inboundMsgID, &muted)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotificationGone
		}
		if err != nil {
			return fmt.Errorf("load notification: %w", err)
		}
		o.PostKind = PostKind(kind)
		// Mail answering the person's own request (posted, confirmations,
		// unsubscribe confirmation, rejection) goes despite a global
		// unsubscribe or a mute: they asked for it by writing.
		own := o.Kind == NotifyPosted || o.Kind == NotifyModerate || systemKind(o.Kind)
		switch {
		case forgotten:
			o.Skip = "person was forgotten"
		case suppressed && o.Kind != NotifyUnsubscribed:
			o.Skip = "address is suppressed after bounces"
		case unsubscribed && !own:
			o.Skip = "person unsubscribed from everything"
		case muted && !own:
			o.Skip = "person unsubscribed from this question"
		}
		if o.QuestionID != 0 {
			if err := tx.QueryRow(ctx, `SELECT q.title, coalesce(c.name, '') FROM posts q LEFT JOIN categories c ON c.id = q.category_id WHERE q.id = $1`,
				o.QuestionID).Scan(&o.Title, &o.CategoryName); err != nil {
				return fmt.Errorf("load question: %w", err)
			}
		}
		if o.PostID != 0 && !systemKind(o.Kind) {
			rows, err := tx.Query(ctx, `SELECT id, filename, content_type, size, inline FROM attachments WHERE post_id = $1 ORDER BY id`, o.PostID)
			if err != nil {
				return fmt.Errorf("load attachments: %w", err)
			}
			if o.Attachments, err = pgx.CollectRows(rows, pgx.RowToStructByPos[AttachmentInfo]); err != nil {
				return fmt.Errorf("load attachments: %w", err)
			}
		}
		if systemKind(o.Kind) {
			if inboundMsgID != "" {
				o.InReplyTo, o.References = inboundMsgID, []string{inboundMsgID}
			}
		} else if err := s.threadHeaders(ctx, tx, o); err != nil {
			return err
		}
		if o.Skip == "" && o.State == "pending" {
			addr, err := s.PersonAddress(ctx, tx, o.RecipientID)
			if err != nil {
				return err
			}
			o.RecipientAddress = addr
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	o.EnvelopeFrom = s.addrs.Bounce(o.NotificationID, o.RecipientID)
	switch o.Kind {
	case NotifyConfirm:
		tok := s.addrs.ConfirmToken(token.Confirm, 0, o.RecipientID, epoch)
		o.ReplyTo = s.addrs.Confirm(token.Confirm, 0, o.RecipientID, epoch)
		o.ActionURL = s.cfg.BaseURL + "/confirm/" + tok
	case NotifyConfirmSubscribe:
		tok := s.addrs.ConfirmToken(token.ConfirmSub, subscription, o.RecipientID, epoch)
		o.ReplyTo = s.addrs.Confirm(token.ConfirmSub, subscription, o.RecipientID, epoch)
		o.ActionURL = s.cfg.BaseURL + "/confirm/" + tok
	case NotifyHelp, NotifyCommand:
	case NotifyUnsubscribed, NotifyRejected:
		if o.QuestionID != 0 {
			o.ThreadURL = fmt.Sprintf("%s/q/%d", s.cfg.BaseURL, o.QuestionID)
		}
	default:
		o.ReplyTo = s.addrs.Reply(o.PostID, o.RecipientID, epoch)
		o.UnsubscribeMail = s.addrs.Unsubscribe(o.QuestionID, o.RecipientID, epoch)
		o.UnsubscribeTok = s.addrs.UnsubscribeToken(o.QuestionID, o.RecipientID, epoch)
		o.ThreadURL = fmt.Sprintf("%s/q/%d#p%d", s.cfg.BaseURL, o.QuestionID, o.PostID)
	}
	o.Title = Censor(o.Title, s.cfg.BlockedWords)
	o.PostBody = Censor(o.PostBody, s.cfg.BlockedWords)
	return o, nil
}

// threadHeaders fills In-Reply-To and References. The chain is the posts
// above the notified one (the question, then the parent when it is an
// answer), each named by its forum Message-ID. Where the recipient wrote a
// post of the chain by email, their own client's Message-ID for it is put
// first, so their client threads the notification under the mail they
// sent; nobody else ever sees that client Message-ID.
func (s *Store) threadHeaders(ctx context.Context, tx pgx.Tx, o *Outgoing) error {
	type link struct {
		id            int64
		forum, client string
		author        int64
	}
	load := func(id int64) (link, error) {
		l := link{id: id}
		var sealed []byte
		err := tx.QueryRow(ctx, `SELECT p.message_id, p.author_id, p.client_msgid FROM posts p WHERE p.id = $1`, id).Scan(&l.forum, &l.author, &sealed)
		if err != nil {
			return l, fmt.Errorf("load thread link %d: %w", id, err)
		}
		// The client id is opened only for its own author's mail.
		if len(sealed) > 1 && l.author == o.RecipientID {
			if b, err := s.keys.OpenBytes(int(sealed[0]), sealed[1:], []byte(l.forum)); err == nil {
				l.client = string(b)
			}
		}
		return l, nil
	}
	var chain []link
	q, err := load(o.QuestionID)
	if err != nil {
		return err
	}
	chain = append(chain, q)
	if o.PostKind == KindComment {
		var parent int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(parent_id, 0) FROM posts WHERE id = $1`, o.PostID).Scan(&parent); err != nil {
			return fmt.Errorf("load parent: %w", err)
		}
		if parent != 0 && parent != o.QuestionID {
			p, err := load(parent)
			if err != nil {
				return err
			}
			chain = append(chain, p)
		}
	}
	for _, l := range chain {
		own := l.author == o.RecipientID && l.client != ""
		if own {
			o.References = append(o.References, l.client)
		}
		o.References = append(o.References, l.forum)
		o.InReplyTo = l.forum
		if own {
			o.InReplyTo = l.client
		}
	}
	if o.Kind == NotifyNewQuestion {
		// The question itself is the message: nothing to reply to yet, but
		// the forum ID in References groups later mail with it.
		o.InReplyTo = ""
	}
	return nil
}

// MarkSent records that notification id was accepted by the relay.
func (s *Store) MarkSent(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE notifications SET state = 'sent', sent_at = now(), error = '' WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("mark notification %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed records a permanent failure (or a skip, with state
// "cancelled") for notification id. reason must not contain an address.
func (s *Store) MarkFailed(ctx context.Context, id int64, state, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE notifications SET state = $2, error = $3 WHERE id = $1`, id, state, reason)
	if err != nil {
		return fmt.Errorf("mark notification %d %s: %w", id, state, err)
	}
	return nil
}

// RecordRejection counts a permanent relay rejection (5xx) against the
// notification's recipient like a hard bounce.
func (s *Store) RecordRejection(ctx context.Context, id int64, status string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var person int64
		if err := tx.QueryRow(ctx, `SELECT person_id FROM notifications WHERE id = $1`, id).Scan(&person); err != nil {
			return fmt.Errorf("load notification %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO bounces (person_id, notification_id, status, hard) VALUES ($1, $2, $3, true)`, person, id, status); err != nil {
			return fmt.Errorf("record rejection: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE people SET bounce_score = bounce_score + $2,
			suppressed_at = CASE WHEN bounce_score + $2 >= $3 THEN coalesce(suppressed_at, now()) ELSE suppressed_at END
			WHERE id = $1`, person, HardBounceScore, BounceThreshold)
		if err != nil {
			return fmt.Errorf("score rejection: %w", err)
		}
		return nil
	})
}
