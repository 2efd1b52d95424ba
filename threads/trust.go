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
		if _, err := tx.Exec(ctx, `SELECT 1 FROM people WHERE id = $1 FOR NO KEY UPDATE`, person); err != nil {
			return false, fmt.Errorf("rate lock: %w", err)
		}
		err = tx.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE person_id = $1 AND kind = $2 AND created_at > now() - $3::interval`,
			person, kind, window).Scan(&n)
	} else {
		err = tx.QueryRow(ctx, `SELECT count(*) FROM notifications n JOIN inbound i ON i.id = n.inbound_id
			WHERE i.remote_ip = $1 AND n.kind = $2 AND n.created_at > now() - $3::interval`, ip, kind, window).Scan(&n)
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
	held, note := "held until the sender confirms", ""
	if author.unproven {
		held = "held until the member confirms (no evidence they sent it: no aligned DKIM or SPF pass, not a reply from their address to their own notification, not a trusted network)"
		note = "This message came under your name, but nothing showed that it came from you " +
			"(your mail provider's signature was missing or did not match), so we ask before publishing it. " +
			"If you did not send it, ignore this email: it will be discarded and nothing is published."
	}
	if author.Suppressed {
		return held + " (address suppressed: no confirmation sent)", nil
	}
	if lim, err := rateLimited(ctx, tx, author.ID, "", mailkind.Confirm, s.cfg.ConfirmPerAddress, "24 hours"); err != nil || lim {
		return held + fmt.Sprintf("; confirmation NOT sent: per-address limit (%d a day) reached", s.cfg.ConfirmPerAddress), err
	}
	if in.remoteIP != "" {
		if lim, err := rateLimited(ctx, tx, 0, in.remoteIP, mailkind.Confirm, s.cfg.ConfirmPerIP, "1 hour"); err != nil || lim {
			return held + fmt.Sprintf("; confirmation NOT sent: per-IP limit (%d an hour) reached", s.cfg.ConfirmPerIP), err
		}
	}
	err := s.enqueueNotifications(ctx, tx, postID, []recipient{{personID: author.ID, kind: mailkind.Confirm, inboundID: in.id, note: note}})
	if author.unproven {
		return held + "; confirmation sent to the member", err
	}
	return held + " their address", err
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
		err := tx.QueryRow(ctx, `SELECT id FROM categories WHERE slug = $1`, slug).Scan(&category)
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
	err := tx.QueryRow(ctx, `INSERT INTO subscriptions (person_id, scope, category_id) VALUES ($1, $2, NULLIF($3, 0))
		ON CONFLICT (person_id, scope, coalesce(category_id, 0), coalesce(question_id, 0)) WHERE ended_at IS NULL DO UPDATE SET scope = EXCLUDED.scope
		RETURNING id, confirmed_at IS NOT NULL`, author.ID, scope, category).Scan(&id, &confirmed)
	if err != nil {
		return outcome{}, fmt.Errorf("subscribe: %w", err)
	}
	if confirmed {
		return outcome{state: StateProcessed, reason: "already following every new question"}, nil
	}
	if author.Suppressed {
		return outcome{state: StateProcessed, reason: "follow requested; address suppressed, no confirmation sent"}, nil
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
			return outcome{state: StateProcessed, reason: "follow requested; confirmation not sent (rate limit)"}, nil
		}
	}
	err = s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.ConfirmSubscribe, inboundID: in.id, subscription: id}})
	if err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: "follow requested; waiting for confirmation"}, nil
}

// confirmationReplied returns the confirmation a reply answers when one of
// ids is the Message-ID of a confirmation request sent to person.
func (s *Store) confirmationReplied(ctx context.Context, tx pgx.Tx, ids []string, person int64) (*tokenRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var kind mailkind.Kind
	var sub, post int64
	var epoch int64
	err := tx.QueryRow(ctx, `SELECT n.kind, coalesce(n.subscription_id, 0), coalesce(n.post_id, 0), p.token_epoch FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE n.message_id = ANY($1) AND n.person_id = $2 AND n.kind IN ('confirm', 'confirm_subscribe') LIMIT 1`, ids, person).Scan(&kind, &sub, &post, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up confirmation: %w", err)
	}
	if kind == mailkind.ConfirmSubscribe {
		return &tokenRef{Purpose: token.ConfirmSub, Subject: sub, Person: person, Epoch: epoch, Present: true}, nil
	}
	return &tokenRef{Purpose: token.Confirm, Subject: post, Person: person, Epoch: epoch, Present: true}, nil
}

// confirm acts on a confirmation (by mail: From must be the token's
// person, so a forwarded request confirms nothing).
func (s *Store) confirm(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, t *tokenRef) (outcome, error) {
	if t.Person != author.ID {
		return ignored("confirmation sent from another address than the one asked"), nil
	}
	n, err := s.confirmPerson(ctx, tx, author, t, in.id)
	if err != nil {
		return outcome{}, err
	}
	return outcome{state: StateProcessed, reason: fmt.Sprintf("address confirmed; %d held post(s) published", n)}, nil
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
	err := tx.QueryRow(ctx, `UPDATE people SET confirmed_at = coalesce(confirmed_at, now()) WHERE id = $1 AND address_hash IS NOT NULL
		RETURNING token_epoch, (SELECT confirmed_at IS NOT NULL FROM people WHERE id = $1)`, t.Person).Scan(&epoch, &confirmed)
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
	err := tx.QueryRow(ctx, `SELECT confirmed_at IS NOT NULL, ended_at IS NOT NULL FROM subscriptions WHERE id = $1 AND person_id = $2 FOR UPDATE`,
		sub, person).Scan(&confirmed, &ended)
	if errors.Is(err, pgx.ErrNoRows) || ended || confirmed {
		return nil
	}
	if err != nil {
		return fmt.Errorf("confirm follow: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE subscriptions SET confirmed_at = now() WHERE id = $1`, sub); err != nil {
		return fmt.Errorf("confirm follow: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE people SET unsubscribed_at = NULL WHERE id = $1`, person); err != nil {
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
	err = s.pool.QueryRow(ctx, `SELECT confirmed_at IS NOT NULL AND ended_at IS NULL FROM subscriptions WHERE id = $1 AND person_id = $2`,
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
		if err := tx.QueryRow(ctx, `SELECT display_name FROM people WHERE id = $1`, t.Person).Scan(&dn); err != nil {
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
		told, err := s.tellUnprovenStop(ctx, tx, t.Person, st, t.Subject, "from another address")
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, reason: "unsubscribed by token from another address; " + told}, nil
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
	reason := "unsubscribed from everything"
	switch {
	case st.Question:
		reason = "unsubscribed from one question"
	case st.Follow:
		reason = "ended the follows that sent a new question"
	}
	if !st.Question {
		question = 0 // the confirmation links no thread
	}
	if person.unproven {
		told, err := s.tellUnprovenStop(ctx, tx, person.ID, st, question, "without evidence that you sent it")
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, reason: reason + " (no evidence the member sent it; " + told + ")"}, nil
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
// from them (how: "without evidence that you sent it", "from another
// address") stopped st (about question; 0: none), and how to undo it; at
// most StopNoticesPerDay a day. It returns the words for the inbound
// reason.
func (s *Store) tellUnprovenStop(ctx context.Context, tx pgx.Tx, person int64, st templates.Stop, question int64, how string) (string, error) {
	if lim, err := rateLimited(ctx, tx, person, "", mailkind.Unsubscribed, StopNoticesPerDay, "24 hours"); err != nil || lim {
		return fmt.Sprintf("member NOT told: %d stop notices a day", StopNoticesPerDay), err
	}
	undo := "write to " + s.addrs.Subscribe() + " to follow new questions again"
	if st.Question {
		undo = "tell the forum's operators at postmaster@" + s.cfg.Domain
	}
	note := "A message asked to stop your emails " + how + ". " + st.Text() + " If it was not you, " + undo + "."
	err := s.enqueueNotifications(ctx, tx, question, []recipient{{personID: person, kind: mailkind.Unsubscribed, note: note}})
	return "member told", err
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
	rows, err := tx.Query(ctx, `UPDATE subscriptions f SET ended_at = now()
		FROM posts q LEFT JOIN categories c ON c.id = q.category_id
		WHERE q.id = $2 AND f.person_id = $1 AND f.ended_at IS NULL AND f.confirmed_at IS NOT NULL
			AND (f.scope = 'all' OR (f.scope = 'category' AND f.category_id = q.category_id))
			AND f.confirmed_at <= coalesce((SELECT max(n.created_at) FROM notifications n
				WHERE n.person_id = $1 AND n.post_id = q.id AND n.kind = 'new_question'), q.created_at)
		RETURNING f.scope, coalesce(c.name, '')`, person, question)
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
		if _, err := tx.Exec(ctx, `UPDATE people SET unsubscribed_at = coalesce(unsubscribed_at, now()) WHERE id = $1`, person); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET ended_at = now() WHERE person_id = $1 AND ended_at IS NULL`, person); err != nil {
			return fmt.Errorf("unsubscribe: end follows: %w", err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mutes (person_id, question_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, person, question); err != nil {
		return fmt.Errorf("mute: %w", err)
	}
	return nil
}

// unfollowCategory ends author's follow of category slug (the row is kept
// with ended_at; pending new questions it caused are cancelled at send
// time).
func (s *Store) unfollowCategory(ctx context.Context, tx pgx.Tx, author Person, slug string) (outcome, error) {
	tag, err := tx.Exec(ctx, `UPDATE subscriptions SET ended_at = now() WHERE person_id = $1 AND scope = 'category' AND ended_at IS NULL
		AND category_id = (SELECT id FROM categories WHERE slug = $2)`, author.ID, slug)
	if err != nil {
		return outcome{}, fmt.Errorf("unfollow category: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ignored("unsubscribe from a category the sender did not follow"), nil
	}
	if author.Confirmed {
		if err := s.enqueueNotifications(ctx, tx, 0, []recipient{{personID: author.ID, kind: mailkind.Unsubscribed,
			note: "You will receive no more new questions of the category " + slug + "."}}); err != nil {
			return outcome{}, err
		}
	}
	return outcome{state: StateProcessed, reason: "unfollowed category " + slug}, nil
}
