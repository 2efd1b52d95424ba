package threads

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/threads/token"
)

// Bounce scoring, as Discourse does it: a hard bounce (5.x.x) adds
// HardBounceScore, a soft one SoftBounceScore; at BounceThreshold the
// address is suppressed and receives nothing more.
const (
	HardBounceScore = 2.0
	SoftBounceScore = 0.5
	BounceThreshold = 4.0
)

func (s *Store) subscribeAll(ctx context.Context, tx pgx.Tx, p Person) (outcome, error) {
	_, err := tx.Exec(ctx, `INSERT INTO subscriptions (person_id, scope) VALUES ($1, 'all') ON CONFLICT DO NOTHING`, p.ID)
	if err != nil {
		return outcome{}, fmt.Errorf("subscribe: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE people SET unsubscribed_at = NULL WHERE id = $1`, p.ID); err != nil {
		return outcome{}, fmt.Errorf("subscribe: %w", err)
	}
	return outcome{state: StateProcessed, reason: "subscribed to all new questions"}, nil
}

// unsubscribe handles mail to unsubscribe@ (everything) or
// unsubscribe+TOKEN@ (one question, or everything when the token says 0).
// A token only acts for its own person.
func (s *Store) unsubscribe(ctx context.Context, tx pgx.Tx, p Person, t *tokenRef) (outcome, error) {
	person, question := p.ID, int64(0)
	if t.Present {
		person, question = t.Person, t.Subject
	}
	if question == 0 {
		if _, err := tx.Exec(ctx, `UPDATE people SET unsubscribed_at = coalesce(unsubscribed_at, now()) WHERE id = $1`, person); err != nil {
			return outcome{}, fmt.Errorf("unsubscribe: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE person_id = $1`, person); err != nil {
			return outcome{}, fmt.Errorf("unsubscribe: %w", err)
		}
		return outcome{state: StateProcessed, reason: "unsubscribed from everything"}, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mutes (person_id, question_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, person, question); err != nil {
		return outcome{}, fmt.Errorf("mute: %w", err)
	}
	return outcome{state: StateProcessed, reason: "unsubscribed from one question"}, nil
}

// recordBounce counts a bounce against the person it concerns: the person
// named by the VERP token when there is one, otherwise the person whose
// address is the DSN's final recipient. Bounces never become posts.
func (s *Store) recordBounce(ctx context.Context, tx pgx.Tx, in *inboundRow, m *parse.Message, verp *tokenRef) (outcome, error) {
	dsn, _ := classify.ParseDSN(m)
	hard, status := false, ""
	if dsn != nil {
		hard = dsn.Hard()
		for _, r := range dsn.Recipients {
			if status == "" || strings.HasPrefix(r.Status, "5") {
				status = r.Status
			}
		}
	}
	var personID, notifID int64
	if verp != nil && verp.Present {
		personID, notifID = verp.Person, verp.Subject
	} else if dsn != nil {
		for _, r := range dsn.Recipients {
			addr := r.FinalRecipient
			if i := strings.LastIndexByte(addr, ';'); i >= 0 {
				addr = addr[i+1:]
			}
			err := tx.QueryRow(ctx, `SELECT id FROM people WHERE address_hash = $1`, s.keys.AddressHash(strings.TrimSpace(addr))).Scan(&personID)
			if err == nil {
				break
			}
		}
	}
	if personID == 0 {
		return ignored("bounce for an unknown recipient"), nil
	}
	if dsn == nil && verp != nil {
		// Mail to a VERP address that is not a DSN: an auto-reply or a
		// human writing to the envelope sender. Never a post.
		return ignored("mail to a bounce address that is not a delivery report"), nil
	}
	score := SoftBounceScore
	if hard {
		score = HardBounceScore
	}
	_, err := tx.Exec(ctx, `INSERT INTO bounces (person_id, notification_id, status, hard, inbound_id)
		VALUES ($1, (SELECT id FROM notifications WHERE id = NULLIF($2, 0::bigint)), $3, $4, $5)`, personID, notifID, status, hard, in.id)
	if err != nil {
		return outcome{}, fmt.Errorf("record bounce: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE people SET bounce_score = bounce_score + $2,
		suppressed_at = CASE WHEN bounce_score + $2 >= $3 THEN coalesce(suppressed_at, now()) ELSE suppressed_at END
		WHERE id = $1`, personID, score, BounceThreshold)
	if err != nil {
		return outcome{}, fmt.Errorf("score bounce: %w", err)
	}
	kind := "soft"
	if hard {
		kind = "hard"
	}
	return ignored(fmt.Sprintf("bounce (%s, status %s) counted against person %d", kind, status, personID)), nil
}

// UnsubscribeWithToken stops notifications for the person named by an
// unsubscribe token: for the token's question, or for everything when all
// is set or the token names no question. It takes effect for every
// notification not yet rendered.
func (s *Store) UnsubscribeWithToken(ctx context.Context, tok string, all bool) error {
	t, err := s.keys.Tokens.Verify(tok, token.Unsubscribe)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	epoch, ok, err := s.TokenEpoch(ctx, t.Person)
	if err != nil {
		return err
	}
	if !ok || epoch != t.Epoch {
		return ErrBadToken
	}
	ref := &tokenRef{Subject: t.Subject, Person: t.Person, Epoch: t.Epoch, Present: true}
	if all {
		ref.Subject = 0
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := s.unsubscribe(ctx, tx, Person{ID: t.Person}, ref)
		return err
	})
}
