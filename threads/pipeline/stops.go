package pipeline

import (
	"context"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// StopNoticesPerDay caps the notices of stops that came without evidence
// (or by a token from another address) sent to one person per 24 hours,
// so a forger cannot flood a member's mailbox with them.
const StopNoticesPerDay = 3

// unsubscribeByMail handles mail to unsubscribe@ (everything) or
// unsubscribe+TOKEN@: the token's question, the follows that sent a new
// question (token.UnsubscribeFollow), or everything when it names no
// question. A token acts for its own person only.
func (p processor) unsubscribeByMail(ctx context.Context, tx *threads.Tx, author threads.Person, t *threads.TokenRef) (threads.Outcome, error) {
	if !t.Present {
		return p.unsubscribeByReply(ctx, tx, author, 0, true)
	}
	st, err := tx.ApplyStop(ctx, t.Person, t.Purpose, t.Subject)
	if err != nil {
		return threads.Outcome{}, err
	}
	if t.Person != author.ID {
		// The List-Unsubscribe mailto of someone else's notification
		// (forwarded mail, or a forger who saw it): act for the token's
		// person, and tell them (never the sender), so a stop is never
		// silent.
		told, err := p.tellUnprovenStop(ctx, tx, t.Person, st, t.Subject, true)
		if err != nil {
			return threads.Outcome{}, err
		}
		return processed(templates.InboundStopByOther(told)), nil
	}
	return p.confirmStop(ctx, tx, author, st, t.Subject)
}

// unsubscribeByReply stops notifications about question (or all of them)
// for person, and confirms it with one short email to a confirmed person.
func (p processor) unsubscribeByReply(ctx context.Context, tx *threads.Tx, person threads.Person, question int64, all bool) (threads.Outcome, error) {
	if all {
		question = 0
	}
	st, err := tx.ApplyStop(ctx, person.ID, token.Unsubscribe, question)
	if err != nil {
		return threads.Outcome{}, err
	}
	return p.confirmStop(ctx, tx, person, st, question)
}

// confirmStop tells a confirmed person, in one short email, what st
// stopped (question: the question it is about, for its link). A stop under
// a member's address without evidence (person.Unproven) still acts, but is
// never silent: the member is told how to undo it (tellUnprovenStop).
func (p processor) confirmStop(ctx context.Context, tx *threads.Tx, person threads.Person, st threads.Stop, question int64) (threads.Outcome, error) {
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
	if person.StoppedAll() {
		// Everything was stopped already: this stop changes nothing, and
		// no notice goes out (a forger cannot make one arrive).
		return processed(reason + templates.InboundStopNoChange), nil
	}
	if person.Unproven() {
		told, err := p.tellUnprovenStop(ctx, tx, person.ID, st, question, false)
		if err != nil {
			return threads.Outcome{}, err
		}
		return processed(templates.InboundStopUnproven(reason, told)), nil
	}
	if person.Confirmed {
		err := tx.Notify(ctx, threads.Notice{Person: person.ID, Kind: mailkind.Unsubscribed, Post: question, Note: templates.StopText(st)})
		if err != nil {
			return threads.Outcome{}, err
		}
	}
	return processed(reason), nil
}

// tellUnprovenStop tells person that a message that did not show it came
// from them (fromOther: it came from another address with their token)
// stopped st (about question; 0: none), and how to undo it; at most
// StopNoticesPerDay a day. It returns the words for the inbound reason.
func (p processor) tellUnprovenStop(ctx context.Context, tx *threads.Tx, person int64, st threads.Stop, question int64, fromOther bool) (string, error) {
	if lim, err := tx.RateLimited(ctx, person, "", mailkind.Unsubscribed, StopNoticesPerDay, perAddressWindow); err != nil || lim {
		return templates.InboundMemberNotTold(StopNoticesPerDay), err
	}
	note := templates.NoteUnprovenStop(st, fromOther, p.st.Addresses().Subscribe(), "postmaster@"+p.cfg.Domain)
	err := tx.Notify(ctx, threads.Notice{Person: person, Kind: mailkind.Unsubscribed, Post: question, Note: note})
	return templates.InboundMemberTold, err
}
