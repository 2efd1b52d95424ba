package threads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RateLimited reports whether mail from mailFrom (envelope sender) and
// the client at clientAddr (IP:port, "" for none) to a recipient of kind would exceed the per-hour limits of
// cfg.Rates (Question2Answer's defaults). It is checked at RCPT time so
// the sender's server gets 450 4.7.1 and retries later: nothing is lost.
// Only ask (questions) and reply/notify (answers and comments) count.
func (s *Store) RateLimited(ctx context.Context, mailFrom, clientAddr string, kind RecipientKind) (bool, error) {
	r := s.cfg.Rates
	if r.Off {
		return false, nil
	}
	var perPerson, perIP int
	var askOnly bool
	switch kind {
	case RcptAsk:
		perPerson, perIP, askOnly = r.QuestionsPerPerson, r.QuestionsPerIP, true
	case RcptReply, RcptNotify:
		perPerson, perIP = r.RepliesPerPerson, r.RepliesPerIP
	default:
		return false, nil
	}
	ask := s.cfg.LocalParts.Ask + "%"
	if mailFrom != "" {
		var n int
		err := s.pool.QueryRow(ctx, sqlIntakeCountBySender, s.keys.AddressHash(mailFrom), ask, askOnly).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("rate limit: %w", err)
		}
		if n >= perPerson {
			return true, nil
		}
	}
	if ip := clientAddr; ip != "" {
		var n int
		err := s.pool.QueryRow(ctx, sqlIntakeCountByIP, remoteIP(ip), ask, askOnly).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("rate limit: %w", err)
		}
		if n >= perIP {
			return true, nil
		}
	}
	return false, nil
}

// postLimited reports whether person already has the hourly maximum of
// posts of kind credited to them: questions, or answers and comments
// together (cfg.Rates per person), counting published and queued posts.
// This is the limit by the person a post is credited to (its From),
// whatever envelope senders carried the mail; RateLimited at RCPT time is
// only a cheap first filter by envelope sender. The person's row is
// locked first so that concurrent messages count each other. It returns
// the limit that applies.
func (s *Store) postLimited(ctx context.Context, tx pgx.Tx, person int64, kind PostKind) (bool, int, error) {
	r := s.cfg.Rates
	if r.Off {
		return false, 0, nil
	}
	max, kinds := r.RepliesPerPerson, []string{string(KindAnswer), string(KindComment)}
	if kind == KindQuestion {
		max, kinds = r.QuestionsPerPerson, []string{string(KindQuestion)}
	}
	// The lock and the count in one round trip.
	var n int
	b := &pgx.Batch{}
	b.Queue(sqlLockPerson, person)
	b.Queue(sqlCountRecentPosts, person, kinds).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, 0, fmt.Errorf("post limit: %w", err)
	}
	return n >= max, max, nil
}
