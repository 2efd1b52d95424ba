package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/parse"
)

// Facts is what Decide knows of a message from a human sender: its
// recipients, its author, what the database says of the thread it
// belongs to, and its own text. loadFacts fills it, reading only what
// Decide can still use.
type Facts struct {
	Rcpts  rcptSet
	Author Person

	// ConfirmReply: the confirmation request this is a reply to (nil:
	// none).
	ConfirmReply *tokenRef
	// TokenTarget: the post the reply token names (nil: gone, or no
	// token). ThreadTarget: the post In-Reply-To or References name
	// (looked up only without a token).
	TokenTarget, ThreadTarget *ParentRef

	Subject   string
	MessageID string // the client's Message-ID
	// Text is the sender's own text, trimmed and with known addresses
	// removed: what a command is read from.
	Text string
	// Body, Elided and Attachments are what a post keeps (postContent).
	Body, Elided string
	Attachments  []keptAttachment
	PartsDropped bool

	// SubjectCategory: the id of the "[slug]" category of the subject;
	// RcptCategory: of the ask+SLUG@ category (0: none, or no such
	// category).
	SubjectCategory, RcptCategory int64
}

// loadFacts loads the Facts of m, from author (whose address is from) to
// rcpts, in tx. It stops as soon as Decide would not read more.
func (s *Store) loadFacts(ctx context.Context, tx pgx.Tx, m *parse.Message, rcpts rcptSet, author Person, from string) (Facts, error) {
	f := Facts{Rcpts: rcpts, Author: author, Subject: m.Subject, MessageID: m.MessageID}
	if addressed(rcpts).Kind != ActContinue {
		return f, nil
	}
	ids := CandidateIDs(m.InReplyTo, m.References)
	var err error
	if f.ConfirmReply, err = s.confirmationReplied(ctx, tx, ids, author.ID); err != nil || f.ConfirmReply != nil {
		return f, err
	}
	if t := rcpts.reply; t != nil {
		if revoked(t, author) {
			return f, nil
		}
		if f.TokenTarget, err = loadParentRef(ctx, tx, t.Subject); err != nil || f.TokenTarget == nil {
			return f, err
		}
	} else if f.ThreadTarget, err = s.lookupThread(ctx, tx, ids); err != nil {
		return f, err
	}
	question := f.TokenTarget == nil && f.ThreadTarget == nil
	if question && !rcpts.ask {
		return f, nil
	}
	body, elided := ExtractBody(m)
	if err := s.redactKnown(ctx, tx, from, &body, &elided); err != nil {
		return f, err
	}
	f.Text = strings.TrimSpace(body)
	f.PartsDropped = m.PartsDropped
	f.Body, f.Elided, f.Attachments = postContent(m, f.Text, elided, s.cfg.MaxAttachmentBytes, s.cfg.MaxPostAttachmentBytes)
	if !question {
		return f, nil
	}
	if _, slug, _, _ := ParseTags(QuestionTitle(m.Subject), f.Body); rcpts.category == "" && slug != "" {
		f.SubjectCategory, err = categoryID(ctx, tx, slug)
	} else if rcpts.category != "" {
		f.RcptCategory, err = categoryID(ctx, tx, rcpts.category)
	}
	return f, err
}

// categoryID returns the id of the category slug, 0 if there is none.
func categoryID(ctx context.Context, tx pgx.Tx, slug string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, sqlCategoryID, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up category: %w", err)
	}
	return id, nil
}
