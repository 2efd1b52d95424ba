package threads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/mailin/parse"
	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
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

// confirmationReplied returns the confirmation a reply answers when one of
// ids is the Message-ID of a confirmation request sent to person.
func (s *Store) confirmationReplied(ctx context.Context, tx pgx.Tx, ids []string, person int64) (*tokenRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var kind mailkind.Kind
	var sub, post int64
	var epoch int64
	err := tx.QueryRow(ctx, sqlConfirmationReplied, ids, person).Scan(&kind, &sub, &post, &epoch)
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

// loadParentRef loads post postID as a reply target (nil: no such post).
func loadParentRef(ctx context.Context, tx pgx.Tx, postID int64) (*ParentRef, error) {
	var r ParentRef
	var kind string
	err := tx.QueryRow(ctx, sqlLoadParentRef, postID).
		Scan(&r.ID, &kind, &r.QuestionID, &r.ParentID, &r.State, &r.AuthorID, &r.QuestionState, &r.AskerID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load post %d: %w", postID, err)
	}
	r.Kind = PostKind(kind)
	return &r, nil
}

// lookupThread finds the first of ids (in order) that is in the Message-ID
// index, with one indexed query. Forum and notification ids are indexed
// in clear, client ids by their keyed hash, so both forms are looked up.
// Held and hidden posts are not thread targets.
func (s *Store) lookupThread(ctx context.Context, tx pgx.Tx, ids []string) (*ParentRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2*len(ids))
	hashed := make(map[string]string, len(ids))
	for _, id := range ids {
		h := s.keys.MessageIDHash(id)
		hashed[id] = h
		keys = append(keys, id, h)
	}
	rows, err := tx.Query(ctx, sqlLookupThread, keys)
	if err != nil {
		return nil, fmt.Errorf("look up thread: %w", err)
	}
	found := map[string]ParentRef{}
	for rows.Next() {
		var mid, kind string
		var r ParentRef
		if err := rows.Scan(&mid, &r.ID, &kind, &r.QuestionID, &r.ParentID, &r.State, &r.AuthorID, &r.QuestionState, &r.AskerID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan thread: %w", err)
		}
		r.Kind = PostKind(kind)
		found[mid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up thread: %w", err)
	}
	for _, id := range ids {
		if r, ok := found[id]; ok {
			return &r, nil
		}
		if r, ok := found[hashed[id]]; ok {
			return &r, nil
		}
	}
	return nil, nil
}
