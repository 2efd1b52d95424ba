package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
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

// PersonByAddress returns the id of the person with address addr (0:
// nobody), in t.
func (t *Tx) PersonByAddress(ctx context.Context, addr string) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, sqlPersonByAddressHash, t.s.keys.AddressHash(addr)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up bounced address: %w", err)
	}
	return id, nil
}

// RecordBounce counts a bounce of the locked inbound message against
// person (notif: the notification it reports on, 0 when unknown), with
// its DSN status: HardBounceScore for a hard one, else SoftBounceScore;
// at BounceThreshold the person is suppressed.
func (t *Tx) RecordBounce(ctx context.Context, person, notif int64, status string, hard bool) error {
	score := SoftBounceScore
	if hard {
		score = HardBounceScore
	}
	if _, err := t.tx.Exec(ctx, sqlInsertBounce, person, notif, status, hard, t.in.id); err != nil {
		return fmt.Errorf("record bounce: %w", err)
	}
	if _, err := t.tx.Exec(ctx, sqlScoreBounce, person, score, BounceThreshold); err != nil {
		return fmt.Errorf("score bounce: %w", err)
	}
	return nil
}

// UnsubscribeWithToken stops notifications for the person named by an
// unsubscribe token: what the token names (its question muted, or for the
// token of a new-question mail the follows that sent it), or everything
// when all is set or the token names no question. It takes effect for
// every notification not yet rendered, and returns what it stopped. No
// email is sent: the web page confirms.
func (s *Store) UnsubscribeWithToken(ctx context.Context, tok string, all bool) (Stop, error) {
	t, err := s.verifyUnsubscribe(ctx, tok)
	if err != nil {
		return Stop{}, err
	}
	q := t.Subject
	if all {
		q = 0
	}
	var st Stop
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ts, err := s.applyStop(ctx, tx, t.Person, t.Purpose, q)
		st = Stop(ts)
		return err
	})
	return st, err
}

// Stop is what a stop (unsubscribe) ended, in the words the pipeline and
// the web render: mailkind.Stopped, shared with package templates.
type Stop = mailkind.Stopped

// UnsubscribeLink says what the first button of an unsubscribe link's page
// stops: what the signed token names.
type UnsubscribeLink int

const (
	// LinkStopsQuestion: the link of an answer's or comment's mail (its
	// question is muted).
	LinkStopsQuestion UnsubscribeLink = iota
	// LinkStopsFollows: the link of a new-question mail (it ends the
	// follows that sent it).
	LinkStopsFollows
	// LinkStopsAll: a link naming no question (the welcome mail's): it
	// stops everything.
	LinkStopsAll
)

// UnsubscribeLinkKind reports what tok, a signed unsubscribe token, stops:
// a question, the follows that sent a new question, or everything. It
// checks only the signature, without the database (the stop itself checks
// the epoch); a token that does not verify is ErrBadToken.
func (s *Store) UnsubscribeLinkKind(tok string) (UnsubscribeLink, error) {
	t, err := s.keys.Tokens.Verify(tok, token.UnsubscribeFollow)
	if errors.Is(err, token.ErrPurpose) {
		t, err = s.keys.Tokens.Verify(tok, token.Unsubscribe)
	}
	if err != nil {
		return 0, fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	switch {
	case t.Subject == 0:
		return LinkStopsAll, nil
	case t.Purpose == token.UnsubscribeFollow:
		return LinkStopsFollows, nil
	}
	return LinkStopsQuestion, nil
}

// verifyUnsubscribe checks an unsubscribe token of either purpose and its
// person's current epoch.
func (s *Store) verifyUnsubscribe(ctx context.Context, tok string) (token.Token, error) {
	t, err := s.keys.Tokens.Verify(tok, token.Unsubscribe)
	if errors.Is(err, token.ErrPurpose) {
		t, err = s.keys.Tokens.Verify(tok, token.UnsubscribeFollow)
	}
	if err != nil {
		return token.Token{}, fmt.Errorf("%w (%v)", ErrBadToken, err)
	}
	epoch, ok, err := s.TokenEpoch(ctx, t.Person)
	if err != nil {
		return token.Token{}, err
	}
	if !ok || epoch != t.Epoch {
		return token.Token{}, ErrBadToken
	}
	return t, nil
}
