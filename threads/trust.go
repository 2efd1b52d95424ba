package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// RejectionsPerDay caps the explanations of refused messages sent to one
// address per 24 hours.
const RejectionsPerDay = 5

// rateLimited reports whether person (or, when ip is set, mail from ip)
// already caused max notifications of kind within the window.
func rateLimited(ctx context.Context, tx pgx.Tx, person int64, ip string, kind mailkind.Kind, max int, window string) (bool, error) {
	var n int
	var err error
	if ip == "" {
		// Lock the person so concurrent messages from one address count
		// each other's notifications.
		if _, err := tx.Exec(ctx, sqlLockPerson, person); err != nil {
			return false, fmt.Errorf("rate lock: %w", err)
		}
		err = tx.QueryRow(ctx, sqlCountNotificationsOfPerson,
			person, kind, window).Scan(&n)
	} else {
		err = tx.QueryRow(ctx, sqlCountNotificationsOfIP, ip, kind, window).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("rate count: %w", err)
	}
	return n >= max, nil
}

// ErrTokenStale means the token's epoch is not the person's current one.
var ErrTokenStale = errors.New("token was revoked")

// confirmPerson marks the token's person confirmed, activates the follow a
// ConfirmSub token names (see confirmFollow), and publishes the person's
// held posts.
// inboundID is the confirming reply (0 for the web link): the welcome mail
// is threaded under it.
func (s *Store) confirmPerson(ctx context.Context, tx pgx.Tx, p Person, t *tokenRef, inboundID int64, reasons ConfirmedReasons) (int, error) {
	var epoch int64
	var confirmed bool
	err := tx.QueryRow(ctx, sqlConfirmPerson, t.Person).Scan(&epoch, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrBadToken
	}
	if err != nil {
		return 0, fmt.Errorf("confirm: %w", err)
	}
	if epoch != t.Epoch {
		return 0, ErrTokenStale
	}
	if t.Purpose == token.Confirm && t.Subject != 0 && confirmed {
		// A member who was confirmed already confirms one message that
		// came under their name without evidence: publish that one only,
		// not whatever else a forger got held under their name.
		p.ID, p.Confirmed, p.Epoch = t.Person, true, epoch
		return s.publishHeldPost(ctx, tx, p, t.Subject, reasons)
	}
	if t.Purpose == token.ConfirmSub {
		if err := s.confirmFollow(ctx, tx, t.Person, t.Subject, inboundID); err != nil {
			return 0, err
		}
	}
	p.ID, p.Confirmed, p.Epoch = t.Person, true, epoch
	return s.publishHeld(ctx, tx, p, reasons)
}

// confirmFollow activates person's follow sub (double opt-in) and sends
// one welcome mail when this confirmation is what activated it. A follow
// that has ended (the person stopped mail since it was requested) stays
// ended: an old confirmation request never undoes a stop.
func (s *Store) confirmFollow(ctx context.Context, tx pgx.Tx, person, sub, inboundID int64) error {
	var confirmed, ended bool
	err := tx.QueryRow(ctx, sqlLockFollow,
		sub, person).Scan(&confirmed, &ended)
	if errors.Is(err, pgx.ErrNoRows) || ended || confirmed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("confirm follow: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlConfirmFollow, sub); err != nil {
		return fmt.Errorf("confirm follow: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlResubscribePerson, person); err != nil {
		return fmt.Errorf("confirm follow: %w", err)
	}
	return s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: person, kind: mailkind.Welcome, inboundID: inboundID, subscription: sub}})
}

// ConfirmLinkIsFollow reports whether tok, a signed confirmation token, is
// a follow's (double opt-in) rather than a held post's. It checks only the
// signature, without the database (the confirmation itself checks the
// rest); a token that does not verify is ErrBadToken.
func (s *Store) ConfirmLinkIsFollow(tok string) (bool, error) {
	t, err := s.keys.Tokens.Verify(tok, token.Confirm)
	if err != nil {
		t, err = s.keys.Tokens.Verify(tok, token.ConfirmSub)
	}
	if err != nil {
		return false, fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	return t.Purpose == token.ConfirmSub, nil
}

// FollowLinkActive reports whether the follow named by tok, a signed
// follow confirmation token, is active now (confirmed and not ended): what
// the page after its confirmation can truthfully say.
func (s *Store) FollowLinkActive(ctx context.Context, tok string) (bool, error) {
	t, err := s.keys.Tokens.Verify(tok, token.ConfirmSub)
	if err != nil {
		return false, fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	var active bool
	err = s.pool.QueryRow(ctx, sqlFollowActive,
		t.Subject, t.Person).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("follow state: %w", err)
	}
	return active, nil
}

// ConfirmWithToken confirms from the web link in a confirmation request;
// the inbound rows of the posts it publishes get reasons.
func (s *Store) ConfirmWithToken(ctx context.Context, tok string, reasons ConfirmedReasons) (published int, err error) {
	t, err := s.keys.Tokens.Verify(tok, token.Confirm)
	if err != nil {
		t, err = s.keys.Tokens.Verify(tok, token.ConfirmSub)
	}
	if err != nil {
		return 0, fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var dn string
		if err := tx.QueryRow(ctx, sqlDisplayName, t.Person).Scan(&dn); err != nil {
			return ErrBadToken
		}
		published, err = s.confirmPerson(ctx, tx, Person{ID: t.Person, DisplayName: dn},
			&tokenRef{Purpose: t.Purpose, Subject: t.Subject, Person: t.Person, Epoch: t.Epoch, Present: true}, 0, reasons)
		return err
	})
	if errors.Is(err, ErrTokenStale) {
		return 0, ErrBadToken
	}
	return published, err
}

// applyStop carries out an unsubscribe token of purpose p and subject for
// person: token.Unsubscribe mutes question subject, token.UnsubscribeFollow
// ends the follows that sent the new question subject; a subject of 0
// stops everything. It returns what it stopped.
func (s *Store) applyStop(ctx context.Context, tx pgx.Tx, person int64, p token.Purpose, subject int64) (Stop, error) {
	if subject != 0 && p == token.UnsubscribeFollow {
		return endFollowsFor(ctx, tx, person, subject)
	}
	if err := s.applyUnsubscribe(ctx, tx, person, subject); err != nil {
		return Stop{}, err
	}
	return Stop{Everything: subject == 0, Question: subject != 0}, nil
}

// endFollowsFor ends person's follows that sent them the new question
// (the forum's, the question's category's): those confirmed by the time
// its notification was made. Follows started later (following again
// after a stop) are kept. The rows are kept with ended_at; pending new
// questions they caused are cancelled at send time.
func endFollowsFor(ctx context.Context, tx pgx.Tx, person, question int64) (Stop, error) {
	rows, err := tx.Query(ctx, sqlEndFollowsFor, person, question)
	if err != nil {
		return Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
	}
	st := Stop{Follow: true}
	for rows.Next() {
		var scope, cat string
		if err := rows.Scan(&scope, &cat); err != nil {
			rows.Close()
			return Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
		}
		if scope == "all" {
			st.Forum = true
		} else {
			st.Categories = append(st.Categories, cat)
		}
	}
	if err := rows.Err(); err != nil {
		return Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
	}
	return st, nil
}

// applyUnsubscribe mutes question for person, or (question 0) stops every
// notification and ends every follow (kept, with ended_at, never deleted:
// nothing that refers to a follow can make a stop fail). Pending
// notifications it covers are cancelled at send time (the dispatcher
// re-checks before rendering).
func (s *Store) applyUnsubscribe(ctx context.Context, tx pgx.Tx, person, question int64) error {
	if question == 0 {
		if _, err := tx.Exec(ctx, sqlUnsubscribePerson, person); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlEndFollowsOfPerson, person); err != nil {
			return fmt.Errorf("unsubscribe: end follows: %w", err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, sqlMuteQuestion, person, question); err != nil {
		return fmt.Errorf("mute: %w", err)
	}
	return nil
}
