package pipeline

import (
	"context"
	"fmt"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// apply carries out act, decided for the message from author, in tx.
func (p processor) apply(ctx context.Context, tx *threads.Tx, in *threads.Inbound, author threads.Person, act Action) (threads.Outcome, error) {
	switch act.Kind {
	case ActConfirm:
		return p.confirm(ctx, tx, author, act.Token)
	case ActSubscribe:
		return p.requestSubscription(ctx, tx, in, author, act.Slug)
	case ActUnfollowCategory:
		return p.unfollowCategory(ctx, tx, author, act.Slug)
	case ActUnsubscribeMail:
		return p.unsubscribeByMail(ctx, tx, author, act.Token)
	case ActHelp:
		return p.sendHelp(ctx, tx, author)
	case ActUnsubscribe:
		return p.unsubscribeByReply(ctx, tx, author, act.QuestionID, act.All)
	case ActCommand:
		return p.runCommand(ctx, tx, author, act.Target, act.Cmd)
	case ActReject:
		reason, err := p.reasonText(ctx, tx, act.Reason)
		if err != nil {
			return threads.Outcome{}, err
		}
		return p.reject(ctx, tx, author, act.QuestionID, reason)
	case ActPost:
		return p.applyPost(ctx, tx, in, author, act.Post)
	case ActIgnore:
		// Automatic mail Decide recognised (a repeated auto-reply):
		// never answered.
		out := ignored(act.Text)
		out.SenderID = author.ID
		return out, nil
	}
	return threads.Outcome{}, fmt.Errorf("unhandled action %d", act.Kind)
}

// applyPost stores np: refused over the hourly limit, queued for a
// moderator when its author needs moderation, held (with a confirmation
// request) when its author is not confirmed.
func (p processor) applyPost(ctx context.Context, tx *threads.Tx, in *threads.Inbound, author threads.Person, np threads.NewPost) (threads.Outcome, error) {
	if !np.Held {
		over, max, err := tx.PostLimited(ctx, author.ID, np.Kind)
		if err != nil {
			return threads.Outcome{}, err
		}
		if over {
			return p.reject(ctx, tx, author, np.QuestionID, templates.RefusePostLimit(np.Kind == threads.KindQuestion, max))
		}
		if np.Queued, err = tx.NeedsModeration(ctx, author); err != nil {
			return threads.Outcome{}, err
		}
	}
	postID, err := tx.InsertPost(ctx, np)
	if err != nil {
		return threads.Outcome{}, err
	}
	out := threads.Outcome{State: threads.StateProcessed, PostID: postID}
	switch {
	case np.Held:
		out.Reason, err = p.requestConfirmation(ctx, tx, in, author, postID)
		if err != nil {
			return threads.Outcome{}, err
		}
	case np.Queued:
		out.Reason = templates.InboundQueued
	}
	return out, nil
}

// reasonText is the sentence of refusal r, as its sender reads it
// (rendered by templates).
func (p processor) reasonText(ctx context.Context, tx *threads.Tx, r Reason) (string, error) {
	switch r.Code {
	case RejectRevokedToken:
		return templates.RefuseRevokedToken, nil
	case RejectTargetGone:
		return templates.RefuseTargetGone, nil
	case RejectNoThread:
		return templates.RefuseNoThread(p.st.Addresses().Ask()), nil
	case RejectTargetQueued:
		return templates.RefuseTargetQueued, nil
	case RejectEmptyQuestion:
		return templates.RefuseEmptyQuestion, nil
	case RejectUnknownCategory:
		return p.unknownCategory(ctx, tx, r.Slug)
	case RejectEmptyReply:
		return templates.RefuseEmptyReply, nil
	case RejectClosed:
		return templates.RefuseClosed, nil
	}
	return "", fmt.Errorf("unhandled refusal %d", r.Code)
}
