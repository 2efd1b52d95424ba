package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/classify"
	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/templates"
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
			err := tx.QueryRow(ctx, sqlPersonByAddressHash, s.keys.AddressHash(strings.TrimSpace(addr))).Scan(&personID)
			if err == nil {
				break
			}
		}
	}
	if personID == 0 {
		return ignored(templates.InboundBounceUnknown), nil
	}
	if dsn == nil && verp != nil {
		// Mail to a VERP address that is not a DSN: an auto-reply or a
		// human writing to the envelope sender. Never a post.
		return ignored(templates.InboundBounceNotDSN), nil
	}
	score := SoftBounceScore
	if hard {
		score = HardBounceScore
	}
	_, err := tx.Exec(ctx, sqlInsertBounce, personID, notifID, status, hard, in.id)
	if err != nil {
		return outcome{}, fmt.Errorf("record bounce: %w", err)
	}
	_, err = tx.Exec(ctx, sqlScoreBounce, personID, score, BounceThreshold)
	if err != nil {
		return outcome{}, fmt.Errorf("score bounce: %w", err)
	}
	return ignored(templates.InboundBounce(hard, status, personID)), nil
}

// UnsubscribeWithToken stops notifications for the person named by an
// unsubscribe token: what the token names (its question muted, or for the
// token of a new-question mail the follows that sent it), or everything
// when all is set or the token names no question. It takes effect for
// every notification not yet rendered, and returns what it stopped. No
// email is sent: the web page confirms.
func (s *Store) UnsubscribeWithToken(ctx context.Context, tok string, all bool) (templates.Stop, error) {
	t, err := s.verifyUnsubscribe(ctx, tok)
	if err != nil {
		return templates.Stop{}, err
	}
	q := t.Subject
	if all {
		q = 0
	}
	var st templates.Stop
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err = s.applyStop(ctx, tx, t.Person, t.Purpose, q)
		return err
	})
	return st, err
}

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
