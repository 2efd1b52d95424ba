package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// runCommand carries out cmd, sent by author as a reply about target.
func (p processor) runCommand(ctx context.Context, tx *threads.Tx, author threads.Person, target *threads.ParentRef, cmd threads.Command) (threads.Outcome, error) {
	if cmd.Kind == threads.CmdUnsubscribe || cmd.Kind == threads.CmdUnsubscribeAll {
		// Anyone may stop mail; it confirms only to confirmed people.
		return p.unsubscribeByReply(ctx, tx, author, target.QuestionID, cmd.Kind == threads.CmdUnsubscribeAll)
	}
	if !author.Confirmed {
		// Commands act at once; an unconfirmed address could be forged.
		if author.Unproven() {
			return ignored(templates.InboundCommandNoProof), nil
		}
		return ignored(templates.InboundCommandUnconfirmed), nil
	}
	if cmd.Kind == threads.CmdHelp || cmd.Kind == threads.CmdUnknown {
		return p.sendHelp(ctx, tx, author)
	}
	note, err := p.command(ctx, tx, author, target, cmd)
	var refused *threads.Refusal
	if errors.As(err, &refused) {
		return p.reject(ctx, tx, author, target.QuestionID, RefusalText(refused.Code))
	}
	if err != nil {
		return threads.Outcome{}, err
	}
	out := threads.Outcome{State: threads.StateProcessed, Reason: templates.InboundCommand(note)}
	if author.WantsCommandConfirmations() || cmd.Kind == threads.CmdConfirmationsOn {
		if err := tx.NotifyCommand(ctx, author, note); err != nil {
			return threads.Outcome{}, err
		}
	}
	return out, nil
}

// command carries out cmd (one that acts on the forum) through tx and
// returns the note that tells its sender what it did.
func (p processor) command(ctx context.Context, tx *threads.Tx, author threads.Person, target *threads.ParentRef, cmd threads.Command) (string, error) {
	switch cmd.Kind {
	case threads.CmdNotify:
		return templates.NoteNotify(cmd.Arg, cmd.On), tx.SetNotifyPreference(ctx, author.ID, cmd.Arg, cmd.On)
	case threads.CmdConfirmationsOn, threads.CmdConfirmationsOff:
		on := cmd.Kind == threads.CmdConfirmationsOn
		note := templates.NoteConfirmationsOff
		if on {
			note = templates.NoteConfirmationsOn
		}
		return note, tx.SetCommandConfirmations(ctx, author.ID, on)
	case threads.CmdAccept, threads.CmdUnaccept:
		accept := cmd.Kind == threads.CmdAccept
		note := templates.NoteUnselected
		if accept {
			note = templates.NoteSelected
		}
		return note, tx.SelectAnswer(ctx, author, target, accept)
	case threads.CmdVoteUp, threads.CmdVoteDown:
		v, err := tx.Vote(ctx, author, target, cmd.Kind == threads.CmdVoteUp)
		return templates.NoteVote(v), err
	case threads.CmdEdit:
		return templates.NoteEdited, tx.Edit(ctx, author, target, cmd.Arg)
	case threads.CmdApprove, threads.CmdReject:
		approve := cmd.Kind == threads.CmdApprove
		return ModerationNote(target.ID, approve), tx.Moderate(ctx, author, target.ID, approve, templates.ModeratorRejected(cmd.Arg))
	}
	return "", fmt.Errorf("unhandled command %d", cmd.Kind)
}

// ModerationNote is what a moderator is told after approving (or
// rejecting) queued post id, by mail or on the command line.
func ModerationNote(id int64, approve bool) string {
	if approve {
		return templates.NoteApproved(id)
	}
	return templates.NoteRejected(id)
}

// refusalTexts maps each refusal code of the store to the sentence
// telling a command's sender why it refused.
var refusalTexts = map[threads.RefusalCode]string{
	threads.RefusedSelectNotAnswer: templates.RefuseSelectNotAnswer,
	threads.RefusedSelectNotAsker:  templates.RefuseSelectNotAsker,
	threads.RefusedNoSelection:     templates.RefuseNoSelection,
	threads.RefusedSelectClosed:    templates.RefuseSelectClosed,
	threads.RefusedVoteComment:     templates.RefuseVoteComment,
	threads.RefusedVoteOwn:         templates.RefuseVoteOwn,
	threads.RefusedEditOthers:      templates.RefuseEditOthers,
	threads.RefusedNotModerator:    templates.RefuseNotModerator,
	threads.RefusedPostGone:        templates.RefusePostGone,
	threads.RefusedNotQueued:       templates.RefuseNotQueued,
}

// RefusalText is the sentence that tells a command's sender why the store
// refused it (TestEveryRefusalHasText: every code has its own).
func RefusalText(c threads.RefusalCode) string {
	if t, ok := refusalTexts[c]; ok {
		return t
	}
	return templates.RefuseNotQueued // unreachable for the store's codes
}

// sendHelp sends the guide to every address and command.
func (p processor) sendHelp(ctx context.Context, tx *threads.Tx, author threads.Person) (threads.Outcome, error) {
	if !author.Confirmed || author.Suppressed {
		return ignored(templates.InboundHelpUnconfirmed), nil
	}
	sent, err := tx.SendHelp(ctx, author)
	if err != nil || !sent {
		return ignored(templates.InboundHelpLimit), err
	}
	return threads.Outcome{State: threads.StateProcessed, Reason: templates.InboundHelpSent}, nil
}
