package threads

import (
	"context"
)

// The actions processing applies through Tx, each carried out in its
// transaction for the locked inbound message, whose outcome the caller
// records with MarkInbound. Sentences in an Outcome's Reason are
// rendered ones.

// KeptAttachment is an attachment of a message that is kept with the post
// made from it: the columns of its attachments row, size being len(Data).
type KeptAttachment struct {
	Filename, ContentType, ContentID string
	// Inline is set for an inline part the HTML body refers to (cid:).
	Inline bool
	Data   []byte
}

// NewPost is a post processing decided to make.
type NewPost struct {
	Kind                             PostKind
	Author                           Person
	Title, Body, Elided              string
	CategoryID, QuestionID, ParentID int64
	ClientMsgID                      string // the client's Message-ID
	// InboundID is the received message the post is made from (0: none,
	// or the Tx's own). Its notifications carry it (notifications.
	// inbound_id), so the logs name one id from receipt to sending.
	InboundID int64
	// Held: its author is not confirmed yet (stored, invisible, nobody
	// notified). Queued: it waits for a moderator.
	Held, Queued bool
	Tags         []string
	Attachments  []KeptAttachment // stored with the post, in the same transaction
}

// InsertPost inserts np with its attachments, its Message-ID index rows
// and, unless it is held, its notification rows and their jobs, and
// returns the new post's id.
func (t *Tx) InsertPost(ctx context.Context, np NewPost) (int64, error) {
	if np.InboundID == 0 {
		np.InboundID = t.in.id
	}
	return t.s.insertPost(ctx, t.tx, np)
}

// PostLimited reports whether person reached the hourly limit on posts
// of kind, and the limit that applies.
func (t *Tx) PostLimited(ctx context.Context, person int64, kind PostKind) (bool, int, error) {
	return t.s.postLimited(ctx, t.reader(func(p *pendingRows) bool { return p.hasPostBy(person, 0) }), person, kind)
}

// NeedsModeration reports whether a post by author is queued for a
// moderator (Config.ModeratePointsBelow).
func (t *Tx) NeedsModeration(ctx context.Context, author Person) (bool, error) {
	return t.s.needsModeration(ctx, t.reader(func(p *pendingRows) bool { return p.hasPostBy(author.ID, 0) }), author)
}
