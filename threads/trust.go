package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/templates"
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

// requestConfirmation sends the author of held post postID one
// confirmation request, unless the per-address (24 h) or per-IP (1 h)
// limit is reached: a forged sender cannot turn the forum into a spam
// cannon. It returns the reason recorded on the inbound message.
//
// For a confirmed member whose message carried no evidence that they sent
// it (author.unproven), the reason says so, and the request explains that
// the message came under their name without proof; confirming publishes
// that post only (see confirmPerson).
func (s *Store) requestConfirmation(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, postID int64) (string, error) {
	held, note := templates.InboundHeld, ""
	if author.unproven {
		held = templates.InboundHeldUnproven
		note = templates.NoteUnproven
	}
	if author.Suppressed {
		return held + templates.InboundHeldSuppressed, nil
	}
	if author.unproven && author.stoppedAll {
		// They stopped all mail: only a message with evidence it is
		// theirs makes Postern write to them again.
		return held + templates.InboundHeldStopped, nil
	}
	if lim, err := rateLimited(ctx, tx, author.ID, "", mailkind.Confirm, s.cfg.ConfirmPerAddress, "24 hours"); err != nil || lim {
		return held + templates.InboundHeldLimited(false, s.cfg.ConfirmPerAddress), err
	}
	if in.remoteIP != "" {
		if lim, err := rateLimited(ctx, tx, 0, in.remoteIP, mailkind.Confirm, s.cfg.ConfirmPerIP, "1 hour"); err != nil || lim {
			return held + templates.InboundHeldLimited(true, s.cfg.ConfirmPerIP), err
		}
	}
	err := s.enqueueNotifications(ctx, tx, postID, []recipient{{personID: author.ID, kind: mailkind.Confirm, inboundID: in.id, note: note}})
	if author.unproven {
		return held + templates.InboundHeldAskedMember, err
	}
	return held + templates.InboundHeldAsked, err
}

// requestSubscription records an unconfirmed follow of every new question
// (or of category slug's) and sends its confirmation request (double
// opt-in). An unknown category is explained to a confirmed sender.
func (s *Store) requestSubscription(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, slug string) (outcome, error) {
	var id, category int64
	var confirmed bool
	scope := "all"
	if slug != "" {
		scope = "category"
		err := tx.QueryRow(ctx, sqlCategoryID, slug).Scan(&category)
		if errors.Is(err, pgx.ErrNoRows) {
			reason, err := s.unknownCategory(ctx, tx, slug)
			if err != nil {
				return outcome{}, err
			}
			return s.reject(ctx, tx, in, author, 0, reason)
		}
		if err != nil {
			return outcome{}, fmt.Errorf("look up category: %w", err)
		}
	}
	err := tx.QueryRow(ctx, sqlRequestFollow, author.ID, scope, category).Scan(&id, &confirmed)
	if err != nil {
		return outcome{}, fmt.Errorf("subscribe: %w", err)
	}
	if confirmed {
		return outcome{state: StateProcessed, reason: templates.InboundFollowing}, nil
	}
	if author.Suppressed {
		return outcome{state: StateProcessed, reason: templates.InboundFollowSuppressed}, nil
	}
	if author.unproven && author.stoppedAll {
		return outcome{state: StateProcessed, reason: templates.InboundFollowStopped}, nil
	}
	for _, lim := range []struct {
		ip  string
		max int
		win string
	}{{"", s.cfg.ConfirmPerAddress, "24 hours"}, {in.remoteIP, s.cfg.ConfirmPerIP, "1 hour"}} {
		if lim.ip == "" && lim.win == "1 hour" {
			continue
		}
		limited, err := rateLimited(ctx, tx, author.ID, lim.ip, mailkind.ConfirmSubscribe, lim.max, lim.win)
		if err != nil {
			return outcome{}, err
		}
		if limited {
			return outcome{state: StateProcessed, reason: templates.InboundFollowLimited}, nil
		}
	}
	err = s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.ConfirmSubscribe, inboundID: in.id, subscription: id}})
	if err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: templates.InboundFollowRequested}, nil
}

// confirm acts on a confirmation (by mail: From must be the token's
// person, so a forwarded request confirms nothing).
func (s *Store) confirm(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, t *tokenRef) (outcome, error) {
	if t.Person != author.ID {
		return ignored(templates.InboundConfirmOther), nil
	}
	n, err := s.confirmPerson(ctx, tx, author, t, in.id)
	if err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: templates.InboundConfirmed(n)}, nil
}

// ErrTokenStale means the token's epoch is not the person's current one.
var ErrTokenStale = errors.New("token was revoked")

// confirmPerson marks the token's person confirmed, activates the follow a
// ConfirmSub token names (see confirmFollow), and publishes the person's
// held posts.
// inboundID is the confirming reply (0 for the web link): the welcome mail
// is threaded under it.
func (s *Store) confirmPerson(ctx context.Context, tx pgx.Tx, p Person, t *tokenRef, inboundID int64) (int, error) {
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
		return s.publishHeldPost(ctx, tx, p, t.Subject)
	}
	if t.Purpose == token.ConfirmSub {
		if err := s.confirmFollow(ctx, tx, t.Person, t.Subject, inboundID); err != nil {
			return 0, err
		}
	}
	p.ID, p.Confirmed, p.Epoch = t.Person, true, epoch
	return s.publishHeld(ctx, tx, p)
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

// ConfirmWithToken confirms from the web link in a confirmation request.
func (s *Store) ConfirmWithToken(ctx context.Context, tok string) (published int, err error) {
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
			&tokenRef{Purpose: t.Purpose, Subject: t.Subject, Person: t.Person, Epoch: t.Epoch, Present: true}, 0)
		return err
	})
	if errors.Is(err, ErrTokenStale) {
		return 0, ErrBadToken
	}
	return published, err
}

// reject refuses a message with reason (which must not contain another
// person's address). A confirmed sender gets one short explanation,
// threaded to their message, at most RejectionsPerDay a day; an
// unconfirmed sender gets nothing (no backscatter).
func (s *Store) reject(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, questionID int64, reason string) (outcome, error) {
	out := failed(reason)
	if !author.Confirmed || author.Suppressed {
		return out, nil
	}
	limited, err := rateLimited(ctx, tx, author.ID, "", mailkind.Rejected, RejectionsPerDay, "24 hours")
	if err != nil || limited {
		return out, err
	}
	err = s.enqueueNotifications(ctx, tx, questionID, []recipient{{personID: author.ID, kind: mailkind.Rejected, inboundID: in.id, note: reason}})
	return out, err
}

// unsubscribeByMail handles mail to unsubscribe@ (everything) or
// unsubscribe+TOKEN@: the token's question, the follows that sent a new
// question (token.UnsubscribeFollow), or everything when it names no
// question. A token acts for its own person only.
func (s *Store) unsubscribeByMail(ctx context.Context, tx pgx.Tx, author Person, t *tokenRef) (outcome, error) {
	if !t.Present {
		return s.unsubscribeByReply(ctx, tx, author, 0, true)
	}
	st, err := s.applyStop(ctx, tx, t.Person, t.Purpose, t.Subject)
	if err != nil {
		return outcome{}, err
	}
	if t.Person != author.ID {
		// The List-Unsubscribe mailto of someone else's notification
		// (forwarded mail, or a forger who saw it): act for the token's
		// person, and tell them (never the sender), so a stop is never
		// silent.
		told, err := s.tellUnprovenStop(ctx, tx, t.Person, st, t.Subject, true)
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, reason: templates.InboundStopByOther(told)}, nil
	}
	return s.confirmStop(ctx, tx, author, st, t.Subject)
}

// unsubscribeByReply stops notifications about question (or all of them)
// for person, and confirms it with one short email to a confirmed person.
func (s *Store) unsubscribeByReply(ctx context.Context, tx pgx.Tx, person Person, question int64, all bool) (outcome, error) {
	if all {
		question = 0
	}
	st, err := s.applyStop(ctx, tx, person.ID, token.Unsubscribe, question)
	if err != nil {
		return outcome{}, err
	}
	return s.confirmStop(ctx, tx, person, st, question)
}

// confirmStop tells a confirmed person, in one short email, what st
// stopped (question: the question it is about, for its link). A stop under
// a member's address without evidence (person.unproven) still acts, but is
// never silent: the member is told how to undo it (tellUnprovenStop).
func (s *Store) confirmStop(ctx context.Context, tx pgx.Tx, person Person, st templates.Stop, question int64) (outcome, error) {
	reason := templates.InboundStoppedAll
	switch {
	case st.Question:
		reason = templates.InboundStoppedQuestion
	case st.Follow:
		reason = templates.InboundStoppedFollows
	}
	if !st.Question {
		question = 0 // the confirmation links no thread
	}
	if person.stoppedAll {
		// Everything was stopped already: this stop changes nothing, and
		// no notice goes out (a forger cannot make one arrive).
		return outcome{state: StateProcessed, reason: reason + templates.InboundStopNoChange}, nil
	}
	if person.unproven {
		told, err := s.tellUnprovenStop(ctx, tx, person.ID, st, question, false)
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, reason: templates.InboundStopUnproven(reason, told)}, nil
	}
	if person.Confirmed {
		err := s.enqueueNotifications(ctx, tx, question, []recipient{{personID: person.ID, kind: mailkind.Unsubscribed, note: st.Text()}})
		if err != nil {
			return outcome{}, err
		}
	}
	return outcome{state: StateProcessed, reason: reason}, nil
}

// StopNoticesPerDay caps the notices of stops that came without evidence
// (or by a token from another address) sent to one person per 24 hours,
// so a forger cannot flood a member's mailbox with them.
const StopNoticesPerDay = 3

// tellUnprovenStop tells person that a message that did not show it came
// from them (fromOther: it came from another address with their token)
// stopped st (about question; 0: none), and how to undo it; at
// most StopNoticesPerDay a day. It returns the words for the inbound
// reason.
func (s *Store) tellUnprovenStop(ctx context.Context, tx pgx.Tx, person int64, st templates.Stop, question int64, fromOther bool) (string, error) {
	if lim, err := rateLimited(ctx, tx, person, "", mailkind.Unsubscribed, StopNoticesPerDay, "24 hours"); err != nil || lim {
		return templates.InboundMemberNotTold(StopNoticesPerDay), err
	}
	note := templates.NoteUnprovenStop(st, fromOther, s.addrs.Subscribe(), "postmaster@"+s.cfg.Domain)
	err := s.enqueueNotifications(ctx, tx, question, []recipient{{personID: person, kind: mailkind.Unsubscribed, note: note}})
	return templates.InboundMemberTold, err
}

// applyStop carries out an unsubscribe token of purpose p and subject for
// person: token.Unsubscribe mutes question subject, token.UnsubscribeFollow
// ends the follows that sent the new question subject; a subject of 0
// stops everything. It returns what it stopped.
func (s *Store) applyStop(ctx context.Context, tx pgx.Tx, person int64, p token.Purpose, subject int64) (templates.Stop, error) {
	if subject != 0 && p == token.UnsubscribeFollow {
		return endFollowsFor(ctx, tx, person, subject)
	}
	if err := s.applyUnsubscribe(ctx, tx, person, subject); err != nil {
		return templates.Stop{}, err
	}
	return templates.Stop{Everything: subject == 0, Question: subject != 0}, nil
}

// endFollowsFor ends person's follows that sent them the new question
// (the forum's, the question's category's): those confirmed by the time
// its notification was made. Follows started later (following again
// after a stop) are kept. The rows are kept with ended_at; pending new
// questions they caused are cancelled at send time.
func endFollowsFor(ctx context.Context, tx pgx.Tx, person, question int64) (templates.Stop, error) {
	rows, err := tx.Query(ctx, sqlEndFollowsFor, person, question)
	if err != nil {
		return templates.Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
	}
	st := templates.Stop{Follow: true}
	for rows.Next() {
		var scope, cat string
		if err := rows.Scan(&scope, &cat); err != nil {
			rows.Close()
			return templates.Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
		}
		if scope == "all" {
			st.Forum = true
		} else {
			st.Categories = append(st.Categories, cat)
		}
	}
	if err := rows.Err(); err != nil {
		return templates.Stop{}, fmt.Errorf("end follows of new question %d: %w", question, err)
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

// unfollowCategory ends author's follow of category slug (the row is kept
// with ended_at; pending new questions it caused are cancelled at send
// time).
func (s *Store) unfollowCategory(ctx context.Context, tx pgx.Tx, author Person, slug string) (outcome, error) {
	tag, err := tx.Exec(ctx, sqlUnfollowCategory, author.ID, slug)
	if err != nil {
		return outcome{}, fmt.Errorf("unfollow category: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ignored(templates.InboundNotFollowing), nil
	}
	if author.Confirmed {
		if err := s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.Unsubscribed,
			note: templates.NoteUnfollowedCategory(slug)}}); err != nil {
			return outcome{}, err
		}
	}
	return outcome{state: StateProcessed, reason: templates.InboundUnfollowed(slug)}, nil
}
