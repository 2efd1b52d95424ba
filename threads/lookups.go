package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// The reads processing makes before it decides: each one query in the
// transaction of Tx.

// CategoryID returns the id of the category slug, 0 if there is none.
func (t *Tx) CategoryID(ctx context.Context, slug string) (int64, error) {
	var id int64
	err := t.reader(nil).QueryRow(ctx, sqlCategoryID, slug).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up category: %w", err)
	}
	return id, nil
}

// RepeatsOwnPostBefore reports whether person posted an answer or
// comment with exactly body in question in the last 24 hours, before post
// before (ids grow with time).
func (t *Tx) RepeatsOwnPostBefore(ctx context.Context, person int64, body string, question, before int64) (bool, error) {
	var yes bool
	dep := func(p *pendingRows) bool { return p.hasPostBy(person, question) }
	if err := t.reader(dep).QueryRow(ctx, sqlRepeatsOwnPostBefore, person, body, question, before).Scan(&yes); err != nil {
		return false, fmt.Errorf("look up recent posts: %w", err)
	}
	return yes, nil
}

// ConfirmationReplied returns the confirmation a reply answers when one of
// ids is the Message-ID of a confirmation request sent to person.
func (t *Tx) ConfirmationReplied(ctx context.Context, ids []string, person int64) (*TokenRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var kind mailkind.Kind
	var sub, post int64
	var epoch int64
	dep := func(p *pendingRows) bool { return p.hasAnyMsgID(ids) }
	err := t.reader(dep).QueryRow(ctx, sqlConfirmationReplied, ids, person).Scan(&kind, &sub, &post, &epoch)
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

// LoadParentRef loads post postID as a reply target (nil: no such post).
func (t *Tx) LoadParentRef(ctx context.Context, postID int64) (*ParentRef, error) {
	var r ParentRef
	var kind string
	err := t.reader(func(p *pendingRows) bool { return p.hasPost(postID) }).QueryRow(ctx, sqlLoadParentRef, postID).
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

// LookupThread finds the first of ids (in order) that is in the Message-ID
// index, with one indexed query. Forum and notification ids are indexed
// in clear, client ids by their keyed hash, so both forms are looked up.
// Held and hidden posts are not thread targets.
func (t *Tx) LookupThread(ctx context.Context, ids []string) (*ParentRef, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2*len(ids))
	hashed := make(map[string]string, len(ids))
	for _, id := range ids {
		h := t.s.keys.MessageIDHash(id)
		hashed[id] = h
		keys = append(keys, id, h)
	}
	rows, err := t.reader(func(p *pendingRows) bool { return p.hasAnyMsgID(keys) }).Query(ctx, sqlLookupThread, keys)
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
