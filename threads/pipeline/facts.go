package pipeline

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/threads"
)

// Facts is what Decide knows of a message from a human sender: its
// recipients, its author, what the database says of the thread it
// belongs to, and its own text. loadFacts fills it, reading only what
// Decide can still use.
type Facts struct {
	Rcpts  rcptSet
	Author threads.Person

	// ConfirmReply: the confirmation request this is a reply to (nil:
	// none).
	ConfirmReply *threads.TokenRef
	// TokenTarget: the post the reply token names (nil: gone, or no
	// token). ThreadTarget: the post In-Reply-To or References name
	// (looked up only without a token).
	TokenTarget, ThreadTarget *threads.ParentRef

	Subject   string
	MessageID string // the client's Message-ID
	// Text is the sender's own text, trimmed and with known addresses
	// removed: what a command is read from.
	Text string
	// Body, Elided and Attachments are what a post keeps (postContent).
	Body, Elided string
	Attachments  []threads.KeptAttachment
	PartsDropped bool

	// SubjectCategory: the id of the "[slug]" category of the subject;
	// RcptCategory: of the ask+SLUG@ category (0: none, or no such
	// category).
	SubjectCategory, RcptCategory int64

	// FromWeb: the message was written in the web form, whose text is a
	// post, never a command.
	FromWeb bool

	// RepeatsOwnPost: a reply whose text (of at least repeatMinChars)
	// is that of one of its author's answers or comments of the last 24
	// hours in the same question, written before the post it replies to:
	// an auto-responder that sets no Auto-Submitted, answering the
	// notification of a reply to its own auto-reply (looked up for
	// confirmed authors' replies only). The same text sent twice in reply
	// to one post, or to posts older than the first, is not one.
	RepeatsOwnPost bool
}

// repeatMinChars is the shortest text RepeatsOwnPost compares: "Thank
// you!" may well be said twice.
const repeatMinChars = 40

// loadFacts loads the Facts of m, from author (whose address is from) to
// rcpts, in tx. It stops as soon as Decide would not read more.
func (p processor) loadFacts(ctx context.Context, tx *threads.Tx, m *parse.Message, rcpts rcptSet, author threads.Person, from string) (Facts, error) {
	f := Facts{Rcpts: rcpts, Author: author, Subject: m.Subject, MessageID: m.MessageID}
	if addressed(rcpts).Kind != ActContinue {
		return f, nil
	}
	ids := threads.CandidateIDs(m.InReplyTo, m.References)
	var err error
	if f.ConfirmReply, err = tx.ConfirmationReplied(ctx, ids, author.ID); err != nil || f.ConfirmReply != nil {
		return f, err
	}
	if t := rcpts.reply; t != nil {
		if revoked(t, author) {
			return f, nil
		}
		if f.TokenTarget, err = tx.LoadParentRef(ctx, t.Subject); err != nil || f.TokenTarget == nil {
			return f, err
		}
	} else if f.ThreadTarget, err = tx.LookupThread(ctx, ids); err != nil {
		return f, err
	}
	question := f.TokenTarget == nil && f.ThreadTarget == nil
	if question && !rcpts.ask {
		return f, nil
	}
	body, elided := ExtractBody(m)
	if err := tx.RedactKnown(ctx, from, &body, &elided); err != nil {
		return f, err
	}
	f.Text = strings.TrimSpace(body)
	f.PartsDropped = m.PartsDropped
	f.Body, f.Elided, f.Attachments = postContent(m, f.Text, elided, p.cfg.MaxAttachmentBytes, p.cfg.MaxPostAttachmentBytes)
	if !question {
		target := f.TokenTarget
		if target == nil {
			target = f.ThreadTarget
		}
		if author.Confirmed && utf8.RuneCountInString(f.Text) >= repeatMinChars {
			f.RepeatsOwnPost, err = tx.RepeatsOwnPostBefore(ctx, author.ID, f.Body, target.QuestionID, target.ID)
		}
		return f, err
	}
	if _, slug, _, _ := threads.ParseTags(threads.QuestionTitle(m.Subject), f.Body); rcpts.category == "" && slug != "" {
		f.SubjectCategory, err = tx.CategoryID(ctx, slug)
	} else if rcpts.category != "" {
		f.RcptCategory, err = tx.CategoryID(ctx, rcpts.category)
	}
	return f, err
}
