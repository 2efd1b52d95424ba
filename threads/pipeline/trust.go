package pipeline

import (
	"context"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/mailkind"
)

// The windows of the confirmation limits (PostgreSQL intervals).
const (
	perAddressWindow = "24 hours"
	perIPWindow      = "1 hour"
)

// requestConfirmation sends the author of held post postID one
// confirmation request, unless the per-address (24 h) or per-IP (1 h)
// limit is reached: a forged sender cannot turn the forum into a spam
// cannon. It returns the reason recorded on the inbound message.
//
// For a confirmed member whose message carried no evidence that they sent
// it (author.Unproven), the reason says so, and the request explains that
// the message came under their name without proof; confirming publishes
// that post only.
func (p processor) requestConfirmation(ctx context.Context, tx *threads.Tx, in *threads.Inbound, author threads.Person, postID int64) (string, error) {
	held, note := templates.InboundHeld, ""
	if author.Unproven() {
		held = templates.InboundHeldUnproven
		note = templates.NoteUnproven
	}
	if author.Suppressed {
		return held + templates.InboundHeldSuppressed, nil
	}
	if author.Unproven() && author.StoppedAll() {
		// They stopped all mail: only a message with evidence it is
		// theirs makes Postern write to them again.
		return held + templates.InboundHeldStopped, nil
	}
	if lim, err := tx.RateLimited(ctx, author.ID, "", mailkind.Confirm, p.cfg.ConfirmPerAddress, perAddressWindow); err != nil || lim {
		return held + templates.InboundHeldLimited(false, p.cfg.ConfirmPerAddress), err
	}
	if in.RemoteIP != "" {
		if lim, err := tx.RateLimited(ctx, 0, in.RemoteIP, mailkind.Confirm, p.cfg.ConfirmPerIP, perIPWindow); err != nil || lim {
			return held + templates.InboundHeldLimited(true, p.cfg.ConfirmPerIP), err
		}
	}
	err := tx.Notify(ctx, threads.Notice{Person: author.ID, Kind: mailkind.Confirm, Post: postID, Threaded: true, Note: note})
	if author.Unproven() {
		return held + templates.InboundHeldAskedMember, err
	}
	return held + templates.InboundHeldAsked, err
}

// requestSubscription records an unconfirmed follow of every new question
// (or of category slug's) and sends its confirmation request (double
// opt-in). An unknown category is explained to a confirmed sender.
func (p processor) requestSubscription(ctx context.Context, tx *threads.Tx, in *threads.Inbound, author threads.Person, slug string) (threads.Outcome, error) {
	var category int64
	if slug != "" {
		var err error
		if category, err = tx.CategoryID(ctx, slug); err != nil {
			return threads.Outcome{}, err
		}
		if category == 0 {
			reason, err := p.unknownCategory(ctx, tx, slug)
			if err != nil {
				return threads.Outcome{}, err
			}
			return p.reject(ctx, tx, author, 0, reason)
		}
	}
	id, confirmed, err := tx.RequestFollow(ctx, author.ID, category)
	if err != nil {
		return threads.Outcome{}, err
	}
	switch {
	case confirmed:
		return processed(templates.InboundFollowing), nil
	case author.Suppressed:
		return processed(templates.InboundFollowSuppressed), nil
	case author.Unproven() && author.StoppedAll():
		return processed(templates.InboundFollowStopped), nil
	}
	limited, err := tx.RateLimited(ctx, author.ID, "", mailkind.ConfirmSubscribe, p.cfg.ConfirmPerAddress, perAddressWindow)
	if err == nil && !limited && in.RemoteIP != "" {
		limited, err = tx.RateLimited(ctx, author.ID, in.RemoteIP, mailkind.ConfirmSubscribe, p.cfg.ConfirmPerIP, perIPWindow)
	}
	if err != nil {
		return threads.Outcome{}, err
	}
	if limited {
		return processed(templates.InboundFollowLimited), nil
	}
	err = tx.Notify(ctx, threads.Notice{Person: author.ID, Kind: mailkind.ConfirmSubscribe, Threaded: true, Subscription: id})
	if err != nil {
		return threads.Outcome{}, err
	}
	return processed(templates.InboundFollowRequested), nil
}

// confirmedReasons are the reasons of held posts published when their
// author confirms by mail (the web link records the same).
func confirmedReasons() threads.ConfirmedReasons {
	return threads.ConfirmedReasons{Published: templates.InboundPublishedConfirmed, Queued: templates.InboundQueuedConfirmed}
}

func processed(reason string) threads.Outcome {
	return threads.Outcome{State: threads.StateProcessed, Reason: reason}
}

// confirm acts on a confirmation (by mail: From must be the token's
// person, so a forwarded request confirms nothing).
func (p processor) confirm(ctx context.Context, tx *threads.Tx, author threads.Person, t *threads.TokenRef) (threads.Outcome, error) {
	if t.Person != author.ID {
		return ignored(templates.InboundConfirmOther), nil
	}
	n, err := tx.ConfirmPerson(ctx, author, t, confirmedReasons())
	if err != nil {
		return threads.Outcome{}, err
	}
	return processed(templates.InboundConfirmed(n)), nil
}

// reject refuses a message with reason (which must not contain another
// person's address). A confirmed sender gets one short explanation,
// threaded to their message, at most threads.RejectionsPerDay a day; an
// unconfirmed sender gets nothing (no backscatter).
func (p processor) reject(ctx context.Context, tx *threads.Tx, author threads.Person, questionID int64, reason string) (threads.Outcome, error) {
	out := failed(reason)
	if !author.Confirmed || author.Suppressed {
		return out, nil
	}
	limited, err := tx.RateLimited(ctx, author.ID, "", mailkind.Rejected, threads.RejectionsPerDay, perAddressWindow)
	if err != nil || limited {
		return out, err
	}
	err = tx.Notify(ctx, threads.Notice{Person: author.ID, Kind: mailkind.Rejected, Post: questionID, Threaded: true, Note: reason})
	return out, err
}

// unknownCategory is the explanation for category slug that does not
// exist, listing the valid ones.
func (p processor) unknownCategory(ctx context.Context, tx *threads.Tx, slug string) (string, error) {
	slugs, err := tx.CategorySlugs(ctx)
	if err != nil {
		return "", err
	}
	addrs := make([]string, len(slugs))
	for i, sl := range slugs {
		addrs[i] = p.cfg.LocalParts.Ask + "+" + sl + "@" + p.cfg.Domain
	}
	return templates.RefuseUnknownCategory(slug, p.st.Addresses().Ask(), addrs), nil
}

// unfollowCategory ends author's follow of category slug (the row is kept
// with ended_at; pending new questions it caused are cancelled at send
// time).
func (p processor) unfollowCategory(ctx context.Context, tx *threads.Tx, author threads.Person, slug string) (threads.Outcome, error) {
	ended, err := tx.EndCategoryFollow(ctx, author.ID, slug)
	if err != nil {
		return threads.Outcome{}, err
	}
	if !ended {
		return ignored(templates.InboundNotFollowing), nil
	}
	if author.Confirmed {
		err := tx.Notify(ctx, threads.Notice{Person: author.ID, Kind: mailkind.Unsubscribed, Note: templates.NoteUnfollowedCategory(slug)})
		if err != nil {
			return threads.Outcome{}, err
		}
	}
	return processed(templates.InboundUnfollowed(slug)), nil
}
