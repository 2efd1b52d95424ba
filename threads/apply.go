package threads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/templates"
)

// apply carries out act, decided for in from author, in tx.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, act Action) (outcome, error) {
	switch act.Kind {
	case ActConfirm:
		return s.confirm(ctx, tx, in, author, act.Token)
	case ActSubscribe:
		return s.requestSubscription(ctx, tx, in, author, act.Slug)
	case ActUnfollowCategory:
		return s.unfollowCategory(ctx, tx, author, act.Slug)
	case ActUnsubscribeMail:
		return s.unsubscribeByMail(ctx, tx, author, act.Token)
	case ActHelp:
		return s.sendHelp(ctx, tx, in, author)
	case ActUnsubscribe:
		return s.unsubscribeByReply(ctx, tx, author, act.QuestionID, act.All)
	case ActCommand:
		return s.runCommand(ctx, tx, in, author, act.Target, act.Cmd)
	case ActReject:
		reason, err := s.reasonText(ctx, tx, act.Reason)
		if err != nil {
			return outcome{}, err
		}
		return s.reject(ctx, tx, in, author, act.QuestionID, reason)
	case ActPost:
		return s.applyPost(ctx, tx, in, author, act.Post)
	}
	return outcome{}, fmt.Errorf("unhandled action %d", act.Kind)
}

// applyPost stores np: refused over the hourly limit, queued for a
// moderator when its author needs moderation, held (with a confirmation
// request) when its author is not confirmed.
func (s *Store) applyPost(ctx context.Context, tx pgx.Tx, in *inboundRow, author Person, np newPost) (outcome, error) {
	if !np.held {
		over, max, err := s.postLimited(ctx, tx, author.ID, np.kind)
		if err != nil {
			return outcome{}, err
		}
		if over {
			return s.reject(ctx, tx, in, author, np.questionID, templates.RefusePostLimit(np.kind == KindQuestion, max))
		}
		if np.queued, err = s.needsModeration(ctx, tx, author); err != nil {
			return outcome{}, err
		}
	}
	postID, err := s.insertPost(ctx, tx, np)
	if err != nil {
		return outcome{}, err
	}
	if np.held {
		reason, err := s.requestConfirmation(ctx, tx, in, author, postID)
		if err != nil {
			return outcome{}, err
		}
		return outcome{state: StateProcessed, postID: postID, reason: reason}, nil
	}
	if np.queued {
		return outcome{state: StateProcessed, postID: postID, reason: templates.InboundQueued}, nil
	}
	return outcome{state: StateProcessed, postID: postID}, nil
}

// reasonText is the sentence of refusal r, as its sender reads it
// (rendered by templates).
func (s *Store) reasonText(ctx context.Context, tx pgx.Tx, r Reason) (string, error) {
	switch r.Code {
	case RejectRevokedToken:
		return templates.RefuseRevokedToken, nil
	case RejectTargetGone:
		return templates.RefuseTargetGone, nil
	case RejectNoThread:
		return templates.RefuseNoThread(s.addrs.Ask()), nil
	case RejectTargetQueued:
		return templates.RefuseTargetQueued, nil
	case RejectEmptyQuestion:
		return templates.RefuseEmptyQuestion, nil
	case RejectUnknownCategory:
		return s.unknownCategory(ctx, tx, r.Slug)
	case RejectEmptyReply:
		return templates.RefuseEmptyReply, nil
	case RejectClosed:
		return templates.RefuseClosed, nil
	}
	return "", fmt.Errorf("unhandled refusal %d", r.Code)
}
