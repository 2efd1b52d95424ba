package threads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
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
			return s.reject(ctx, tx, in, author, np.questionID, limitReason(np.kind, max)) // RejectPostLimit
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
		return outcome{state: StateProcessed, postID: postID, reason: "queued for a moderator"}, nil
	}
	return outcome{state: StateProcessed, postID: postID}, nil
}

// reasonText is the sentence of refusal r, as its sender reads it.
func (s *Store) reasonText(ctx context.Context, tx pgx.Tx, r Reason) (string, error) {
	switch r.Code {
	case RejectRevokedToken:
		return "the reply address you used has been revoked; reply to a newer notification", nil
	case RejectTargetGone:
		return "the post you replied to no longer exists", nil
	case RejectNoThread:
		return "we could not tell which discussion your reply belongs to; reply to a notification email, or write to " + s.addrs.Ask() + " to ask a new question", nil
	case RejectTargetQueued:
		return "the post you replied to is waiting for a moderator", nil
	case RejectEmptyQuestion:
		return "your message had no subject and no text", nil
	case RejectUnknownCategory:
		return s.unknownCategory(ctx, tx, r.Slug)
	case RejectEmptyReply:
		return "nothing was left of your reply after removing the quoted text; write your answer above the quoted message", nil
	case RejectClosed:
		return "the question is closed and takes no more answers or comments", nil
	case RejectPostLimit:
		return limitReason(r.Kind, r.Max), nil
	}
	return "", fmt.Errorf("unhandled refusal %d", r.Code)
}
