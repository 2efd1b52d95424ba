package threads

import (
	"context"
	"fmt"
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
	// Mail to the postmaster (postmaster@, abuse@, "Postmaster") counts
	// for no limit.
	match := `(EXISTS (SELECT 1 FROM unnest(rcpt) x WHERE x ILIKE $2) = $3)
		AND NOT EXISTS (SELECT 1 FROM unnest(rcpt) x WHERE lower(x) IN ('postmaster', '<postmaster>') OR x ILIKE 'postmaster@%' OR x ILIKE 'abuse@%')`
	if mailFrom != "" {
		var n int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE mail_from_hash = $1 AND received_at > now() - interval '1 hour' AND `+match,
			s.keys.AddressHash(mailFrom), ask, askOnly).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("rate limit: %w", err)
		}
		if n >= perPerson {
			return true, nil
		}
	}
	if ip := clientAddr; ip != "" {
		var n int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE remote_ip = $1 AND received_at > now() - interval '1 hour' AND `+match,
			remoteIP(ip), ask, askOnly).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("rate limit: %w", err)
		}
		if n >= perIP {
			return true, nil
		}
	}
	return false, nil
}
