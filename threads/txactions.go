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
	p := newPost{kind: np.Kind, author: np.Author, title: np.Title, body: np.Body, elided: np.Elided,
		categoryID: np.CategoryID, questionID: np.QuestionID, parentID: np.ParentID, clientMsgID: np.ClientMsgID,
		held: np.Held, queued: np.Queued, tags: np.Tags}
	for _, a := range np.Attachments {
		p.attachments = append(p.attachments, a.internal())
	}
	return t.s.insertPost(ctx, t.tx, p)
}

// PostLimited reports whether person reached the hourly limit on posts
// of kind, and the limit that applies.
func (t *Tx) PostLimited(ctx context.Context, person int64, kind PostKind) (bool, int, error) {
	return t.s.postLimited(ctx, t.tx, person, kind)
}

// NeedsModeration reports whether a post by author is queued for a
// moderator (Config.ModeratePointsBelow).
func (t *Tx) NeedsModeration(ctx context.Context, author Person) (bool, error) {
	return t.s.needsModeration(ctx, t.tx, author)
}

// RequestConfirmation asks author of held post postID to confirm it,
// within the per-address and per-IP limits, and returns the reason to
// record.
func (t *Tx) RequestConfirmation(ctx context.Context, author Person, postID int64) (string, error) {
	return t.s.requestConfirmation(ctx, t.tx, &t.in, author, postID)
}

// Confirm acts on confirmation tok sent by author (only the token's own
// person confirms).
func (t *Tx) Confirm(ctx context.Context, author Person, tok *TokenRef) (Outcome, error) {
	return exported(t.s.confirm(ctx, t.tx, &t.in, author, tok))
}

// RequestSubscription records author's unconfirmed follow of the forum
// (slug "") or of category slug and asks them to confirm it.
func (t *Tx) RequestSubscription(ctx context.Context, author Person, slug string) (Outcome, error) {
	return exported(t.s.requestSubscription(ctx, t.tx, &t.in, author, slug))
}

// UnfollowCategory ends author's follow of category slug.
func (t *Tx) UnfollowCategory(ctx context.Context, author Person, slug string) (Outcome, error) {
	return exported(t.s.unfollowCategory(ctx, t.tx, author, slug))
}

// UnsubscribeByMail handles mail to unsubscribe@ or unsubscribe+TOKEN@.
func (t *Tx) UnsubscribeByMail(ctx context.Context, author Person, tok *TokenRef) (Outcome, error) {
	return exported(t.s.unsubscribeByMail(ctx, t.tx, author, tok))
}

// UnsubscribeByReply stops the mail about question (or with all, every
// mail) for person.
func (t *Tx) UnsubscribeByReply(ctx context.Context, person Person, question int64, all bool) (Outcome, error) {
	return exported(t.s.unsubscribeByReply(ctx, t.tx, person, question, all))
}

// Reject refuses the message with reason (holding no other person's
// address), told to a confirmed author about questionID (0: none).
func (t *Tx) Reject(ctx context.Context, author Person, questionID int64, reason string) (Outcome, error) {
	return exported(t.s.reject(ctx, t.tx, &t.in, author, questionID, reason))
}

// UnknownCategory is the explanation for category slug that does not
// exist, listing the valid ones.
func (t *Tx) UnknownCategory(ctx context.Context, slug string) (string, error) {
	return t.s.unknownCategory(ctx, t.tx, slug)
}
