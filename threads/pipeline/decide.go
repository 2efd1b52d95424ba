package pipeline

import (
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
)

// ActionKind is what processing does with one inbound message: the
// result of Screen (before the sender is known) and of Decide (after).
type ActionKind int

// Actions, in the order Screen and Decide can reach them.
const (
	// ActContinue: Screen found nothing that stops the message; find the
	// sender and Decide.
	ActContinue ActionKind = iota
	// ActFail marks the message failed with Action.Reason, without a reply.
	ActFail
	// ActPostmaster keeps (or forwards) mail for the postmaster.
	ActPostmaster
	// ActBounce counts a delivery report (or mail to a VERP address)
	// against the person it concerns.
	ActBounce
	// ActIgnore marks the message ignored with Action.Reason.
	ActIgnore
	// ActConfirm confirms Action.Token (an address, a follow).
	ActConfirm
	// ActSubscribe requests a follow of the forum (Action.Slug "") or of
	// category Action.Slug.
	ActSubscribe
	// ActUnfollowCategory ends the follow of category Action.Slug.
	ActUnfollowCategory
	// ActUnsubscribeMail is mail to unsubscribe@ or unsubscribe+TOKEN@.
	ActUnsubscribeMail
	// ActHelp sends the guide.
	ActHelp
	// ActUnsubscribe stops the mail about question Action.QuestionID (or
	// with Action.All every mail): a reply or subject that says so.
	ActUnsubscribe
	// ActCommand runs Action.Cmd about Action.Target.
	ActCommand
	// ActReject refuses the message with Action.Reason, told to a
	// confirmed sender about question Action.QuestionID (0: none).
	ActReject
	// ActPost makes Action.Post a post: a new question, an answer or a
	// comment; held when its author is not confirmed.
	ActPost
)

// Reason is why a message was refused: a code and its data. The sentence
// a person reads is rendered from it (processor.reasonText).
type Reason struct {
	Code ReasonCode
	Slug string // RejectUnknownCategory: the category asked for
}

// ReasonCode names a refusal.
type ReasonCode int

// Refusals of a message from a human sender.
const (
	RejectNone            ReasonCode = iota
	RejectRevokedToken               // the reply token's epoch moved on
	RejectTargetGone                 // the post the token names is gone
	RejectNoThread                   // neither token, headers nor ask@
	RejectTargetQueued               // the target waits for a moderator
	RejectEmptyQuestion              // no subject and no text
	RejectUnknownCategory            // ask+SLUG@ names no category
	RejectEmptyReply                 // nothing left after trimming quotes
	RejectClosed                     // the question is closed
)

// Action is what to do with a message; which fields are set depends on
// Kind (see the ActionKind constants).
type Action struct {
	Kind       ActionKind
	Text       string // ActFail, ActIgnore: the reason recorded
	Reason     Reason // ActReject
	Token      *threads.TokenRef
	Slug       string
	Target     *threads.ParentRef
	Cmd        threads.Command
	QuestionID int64
	All        bool
	Post       threads.NewPost
}

// ScreenFacts is what Screen knows of a message before its sender is
// looked up: nothing read from the database.
type ScreenFacts struct {
	Purged        bool   // the raw message is gone or undecryptable
	ForPostmaster bool   // a recipient is the postmaster
	ParseError    string // "" when the message parsed
	Bounce        bool   // classified as a bounce, or sent to a VERP address
	AutoReason    string // classified as automatic mail: why ("" if not)
	From          string // the From address, normalised ("" when none)
	MalformedFrom bool   // see malformedFrom
	Domain        string // the forum's domain
}

// Screen decides what a message becomes before anyone is looked up:
// failed (purged, unparseable), for the postmaster, a bounce, ignored
// (automatic, no or untrustworthy From, a loop), or ActContinue.
func Screen(f ScreenFacts) Action {
	switch {
	case f.Purged:
		return Action{Kind: ActFail, Text: templates.InboundPurged}
	case f.ForPostmaster:
		// Before anything looks at the sender: never a post, never a reply.
		return Action{Kind: ActPostmaster}
	case f.ParseError != "":
		return Action{Kind: ActFail, Text: templates.InboundUnparseable(f.ParseError)}
	case f.Bounce:
		return Action{Kind: ActBounce}
	case f.AutoReason != "":
		return Action{Kind: ActIgnore, Text: templates.InboundAutomatic(f.AutoReason)}
	case !strings.Contains(f.From, "@"):
		return Action{Kind: ActIgnore, Text: templates.InboundNoFrom}
	case f.MalformedFrom:
		return Action{Kind: ActIgnore, Text: templates.InboundMalformedFrom}
	case strings.HasSuffix(f.From, "@"+f.Domain):
		return Action{Kind: ActIgnore, Text: templates.InboundLoop}
	}
	return Action{Kind: ActContinue}
}

// addressed returns the action the recipients alone decide (mail to
// confirm+, subscribe@, unsubscribe@, help@), or ActContinue.
func addressed(r rcptSet) Action {
	switch {
	case r.confirm != nil:
		return Action{Kind: ActConfirm, Token: r.confirm}
	case r.subscribe:
		return Action{Kind: ActSubscribe, Slug: r.subSlug}
	case r.unsubSlug != "":
		return Action{Kind: ActUnfollowCategory, Slug: r.unsubSlug}
	case r.unsubscribe != nil:
		return Action{Kind: ActUnsubscribeMail, Token: r.unsubscribe}
	case r.help && !r.ask && r.reply == nil:
		return Action{Kind: ActHelp}
	}
	return Action{Kind: ActContinue}
}

// revoked reports whether reply token t is the author's own but of an
// earlier epoch.
func revoked(t *threads.TokenRef, author threads.Person) bool {
	return t.Person == author.ID && t.Epoch != author.Epoch
}

// Decide routes a message from a human sender, first match wins: its
// recipients (addressed), a reply to a confirmation request, a reply
// token, then the thread headers, then ask@. It is a pure function of f.
func Decide(f Facts) Action {
	if a := addressed(f.Rcpts); a.Kind != ActContinue {
		return a
	}
	if f.ConfirmReply != nil {
		// A reply to a confirmation request confirms, whatever address
		// it was sent to.
		return Action{Kind: ActConfirm, Token: f.ConfirmReply}
	}
	target := f.ThreadTarget
	if t := f.Rcpts.reply; t != nil {
		if revoked(t, f.Author) {
			return reject(RejectRevokedToken, 0)
		}
		if f.TokenTarget == nil {
			return reject(RejectTargetGone, 0)
		}
		target = f.TokenTarget
	}
	if target == nil && !f.Rcpts.ask {
		return reject(RejectNoThread, 0)
	}
	// An unsubscribe command as the whole text of a reply, or as the whole
	// subject of a reply or of mail to ask@ (which never asks anything).
	subjectCmd := threads.UnsubscribeCommand(threads.QuestionTitle(f.Subject))
	if f.FromWeb {
		// A form's title and text are a post, never a command.
		subjectCmd = ""
	}
	if target == nil {
		if subjectCmd != "" {
			return Action{Kind: ActUnsubscribe, All: true}
		}
		return decideQuestion(f)
	}
	var cmd threads.Command
	if !f.FromWeb {
		cmd = threads.ParseCommand(f.Text)
	}
	if cmd.Kind == threads.CmdNone && subjectCmd != "" {
		cmd.Kind = threads.CmdUnsubscribe
		if subjectCmd == "all" {
			cmd.Kind = threads.CmdUnsubscribeAll
		}
	}
	if target.State == "queued" && cmd.Kind != threads.CmdApprove && cmd.Kind != threads.CmdReject {
		return reject(RejectTargetQueued, 0)
	}
	if cmd.Kind != threads.CmdNone {
		return Action{Kind: ActCommand, Target: target, Cmd: cmd}
	}
	return decideReply(f, target)
}

func reject(code ReasonCode, question int64) Action {
	return Action{Kind: ActReject, Reason: Reason{Code: code}, QuestionID: question}
}

// hasContent reports whether the message has something to post: text,
// files, or parts nested too deeply to read (its sender did write
// something). One whose files were all dropped and has no text is empty.
func (f Facts) hasContent() bool {
	return f.Text != "" || f.PartsDropped || len(f.Attachments) > 0
}

// decideQuestion makes a new question of f (mail to ask@).
func decideQuestion(f Facts) Action {
	np := f.newPost()
	np.Kind = threads.KindQuestion
	title, slug, tags, rest := threads.ParseTags(threads.QuestionTitle(f.Subject), f.Body)
	np.Title, np.Tags, np.Body = threads.QuestionTitle(title), tags, rest
	if f.Rcpts.category == "" && slug != "" {
		// "[slug]" in the subject chooses a category only if it is one.
		if f.SubjectCategory == 0 {
			np.Title = threads.QuestionTitle(f.Subject)
		}
		np.CategoryID = f.SubjectCategory
	}
	if !f.hasContent() && np.Title == "(no subject)" {
		return reject(RejectEmptyQuestion, 0)
	}
	if f.Rcpts.category != "" {
		if f.RcptCategory == 0 {
			a := reject(RejectUnknownCategory, 0)
			a.Reason.Slug = f.Rcpts.category
			return a
		}
		np.CategoryID = f.RcptCategory
	}
	return Action{Kind: ActPost, Post: np}
}

// decideReply makes an answer or a comment of f, a reply about target.
func decideReply(f Facts, target *threads.ParentRef) Action {
	if !f.hasContent() {
		return reject(RejectEmptyReply, target.QuestionID)
	}
	if f.RepeatsOwnPost {
		// Never answered: it is automatic mail (and a loop, if two
		// auto-responders answer each other's notifications).
		return Action{Kind: ActIgnore, Text: templates.InboundRepeated}
	}
	if target.QuestionState == "closed" {
		return reject(RejectClosed, target.QuestionID)
	}
	np := f.newPost()
	np.Kind, np.ParentID, np.QuestionID = threads.Placement(*target)
	if target.Kind == threads.KindQuestion && target.AskerID == f.Author.ID {
		// By email, the asker replying in their own thread (to the
		// "posted" note or a follower's copy) adds to the question: a
		// comment on it, not an answer to themselves.
		np.Kind = threads.KindComment
	}
	return Action{Kind: ActPost, Post: np}
}

// newPost is the post f makes, before its kind and place are decided.
func (f Facts) newPost() threads.NewPost {
	return threads.NewPost{Author: f.Author, Body: f.Body, Elided: f.Elided, ClientMsgID: f.MessageID,
		Attachments: f.Attachments, Held: !f.Author.Confirmed}
}
