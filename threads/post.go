package threads

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/postern/postern/threads/mailkind"
)

// NotifyArgs is the River job that sends notification rows: a batch of
// them (NotificationIDs, at most NotifyBatchSize, all enqueued by the same
// transaction, so in fan-out about the same post), or, in jobs enqueued
// before batching, the single NotificationID. A job may carry both; IDs
// lists them all.
type NotifyArgs struct {
	NotificationIDs []int64 `json:"notification_ids,omitempty"`
	// NotificationID is the one notification of a job enqueued before
	// batching; still honoured, so that jobs queued during an upgrade are
	// sent. New jobs leave it zero.
	NotificationID int64 `json:"notification_id,omitempty"`
}

// NotifyBatchSize is the most notifications one postern.notify job
// carries: a fan-out to N followers makes ceil(N/NotifyBatchSize) jobs,
// each loaded with a few queries and sent over one relay connection.
// Smaller batches spread a fan-out over more workers; larger ones save
// queries.
const NotifyBatchSize = 50

// IDs returns every notification id of the job, in order.
func (a NotifyArgs) IDs() []int64 {
	if a.NotificationID == 0 {
		return a.NotificationIDs
	}
	return append([]int64{a.NotificationID}, a.NotificationIDs...)
}

// Kind implements river.JobArgs.
func (NotifyArgs) Kind() string { return "postern.notify" }

// SendMaxAttempts is how many times a job that sends mail (NotifyArgs,
// ForwardArgs) is tried before it is given up: with the backoff of
// mailout.RetryDelay (5 s doubling up to an hour), about five days, the
// time a mail server keeps a message it cannot deliver yet.
const SendMaxAttempts = 130

// InsertOpts implements river.JobArgsWithInsertOpts.
func (NotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueNotify, MaxAttempts: SendMaxAttempts}
}

// insertPost inserts np with its attachments, its Message-ID index rows
// and, unless it is held, its notification rows and their jobs, all in tx,
// and returns the new post's id.
func (s *Store) insertPost(ctx context.Context, tx pgx.Tx, np NewPost) (int64, error) {
	id, err := s.nextPostID(ctx, tx)
	if err != nil {
		return 0, err
	}
	forumID := s.forumMessageID(np.Kind, id)
	qid := np.QuestionID
	if np.Kind == KindQuestion {
		qid = 0
	}
	state := "visible"
	switch {
	case np.Held:
		state = "held"
	case np.Queued:
		state = "queued"
	}
	tags := np.Tags
	if tags == nil {
		tags = []string{}
	}
	var client []byte
	if np.ClientMsgID != "" {
		keyID, sealed, err := s.keys.SealBytes([]byte(np.ClientMsgID), []byte(forumID))
		if err != nil {
			return 0, err
		}
		// One leading byte names the key, so old rows open after rotation.
		client = append([]byte{byte(keyID)}, sealed...)
	}
	if bt := batchOf(tx); bt != nil {
		// In a batch, written with the batch's other posts (batchpending.go).
		bt.pending.addPost(pendingPost{id: id, kind: string(np.Kind), questionID: qid, parentID: np.ParentID, authorID: np.Author.ID,
			title: np.Title, body: np.Body, elided: np.Elided, categoryID: np.CategoryID, messageID: forumID, client: client, state: state, tags: tags})
		bt.pending.addMsgID(false, pendingMsgID{messageID: forumID, postID: id})
		if np.ClientMsgID != "" {
			bt.pending.addMsgID(true, pendingMsgID{messageID: s.keys.MessageIDHash(np.ClientMsgID), postID: id, recipientID: np.Author.ID})
		}
		return s.afterInsertPost(ctx, tx, id, np)
	}
	// One round trip for the post and its Message-ID index rows.
	b := &pgx.Batch{}
	b.Queue(sqlInsertPost,
		id, string(np.Kind), qid, np.ParentID, np.Author.ID, np.Title, np.Body, np.Elided, np.CategoryID, forumID, client, state, tags)
	b.Queue(sqlIndexForumMessageID, forumID, id)
	if np.ClientMsgID != "" {
		b.Queue(sqlIndexClientMessageID, s.keys.MessageIDHash(np.ClientMsgID), id, np.Author.ID)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("insert post and index its message-ids: %w", err)
	}
	return s.afterInsertPost(ctx, tx, id, np)
}

// afterInsertPost stores the attachments of new post id and, unless it
// is held, queues it for a moderator or enqueues its notifications.
func (s *Store) afterInsertPost(ctx context.Context, tx pgx.Tx, id int64, np NewPost) (int64, error) {
	if err := storeAttachments(ctx, tx, id, np.Attachments); err != nil {
		return 0, err
	}
	if np.Held {
		return id, nil
	}
	if np.Queued {
		return id, s.queueForModeration(ctx, tx, id)
	}
	if err := s.notifyPost(ctx, tx, id, np); err != nil {
		return 0, err
	}
	return id, nil
}

// nextPostID reserves a post id in tx (in a processing batch, from the
// ids it reserved together).
func (s *Store) nextPostID(ctx context.Context, tx pgx.Tx) (int64, error) {
	if b := batchOf(tx); b != nil {
		return b.nextPostID(ctx)
	}
	var id int64
	if err := tx.QueryRow(ctx, sqlNextPostID).Scan(&id); err != nil {
		return 0, fmt.Errorf("post id: %w", err)
	}
	return id, nil
}

// notifyPost enqueues the notifications a newly visible post causes.
func (s *Store) notifyPost(ctx context.Context, tx pgx.Tx, id int64, np NewPost) error {
	recips, err := s.notificationRecipients(ctx, tx, id, np)
	if err != nil {
		return err
	}
	if np.Kind == KindQuestion && len(recips) > 1+FanoutFirst {
		// recips[0] is the asker's confirmation, then the followers by
		// person id: the rest follow in FanoutArgs transactions.
		recips = recips[:1+FanoutFirst]
		next := FanoutArgs{PostID: id, After: recips[len(recips)-1].personID, InboundID: np.InboundID}
		if _, err := s.jobs.InsertTx(ctx, tx, next, nil); err != nil {
			return fmt.Errorf("enqueue fan-out: %w", err)
		}
	}
	return s.enqueueNotifications(ctx, tx, id, recips)
}

// ConfirmedReasons are the reasons recorded on the inbound rows of held
// posts published because their author confirmed (rendered by the
// caller): Published, or Queued when they now wait for a moderator.
type ConfirmedReasons struct{ Published, Queued string }

// publishHeld makes every held post of person visible, oldest first, and
// enqueues their notifications.
func (s *Store) publishHeld(ctx context.Context, tx pgx.Tx, person Person, reasons ConfirmedReasons) (int, error) {
	return s.publishHeldPost(ctx, tx, person, 0, reasons)
}

// publishHeldPost is publishHeld for held post postID of person only (0:
// every held post of person).
func (s *Store) publishHeldPost(ctx context.Context, tx pgx.Tx, person Person, postID int64, reasons ConfirmedReasons) (int, error) {
	// Decided before publishing: the held posts themselves must not lift
	// their author over the moderation threshold.
	queue, err := s.needsModeration(ctx, tx, person)
	if err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, sqlPublishHeld, person.ID, postID)
	if err != nil {
		return 0, fmt.Errorf("publish held posts: %w", err)
	}
	type held struct {
		id int64
		np NewPost
	}
	var posts []held
	for rows.Next() {
		var h held
		var kind string
		if err := rows.Scan(&h.id, &kind, &h.np.QuestionID, &h.np.ParentID, &h.np.CategoryID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("publish held posts: %w", err)
		}
		h.np.Kind, h.np.Author = PostKind(kind), person
		posts = append(posts, h)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("publish held posts: %w", err)
	}
	sort.Slice(posts, func(i, j int) bool { return posts[i].id < posts[j].id })
	for _, h := range posts {
		reason := reasons.Published
		if queue {
			reason = reasons.Queued
		}
		// The held reason would be stale in `postern inbound list`.
		if _, err := tx.Exec(ctx, `UPDATE inbound SET reason = $2 WHERE post_id = $1`, h.id, reason); err != nil {
			return 0, fmt.Errorf("publish held post: reason: %w", err)
		}
		if queue {
			if _, err := tx.Exec(ctx, sqlQueuePost, h.id); err != nil {
				return 0, fmt.Errorf("queue held post: %w", err)
			}
			if err := s.queueForModeration(ctx, tx, h.id); err != nil {
				return 0, err
			}
			continue
		}
		if err := s.notifyPost(ctx, tx, h.id, h.np); err != nil {
			return 0, err
		}
	}
	return len(posts), nil
}

type recipient struct {
	personID     int64
	kind         mailkind.Kind
	inboundID    int64  // the message that caused it (0: none known)
	subscription int64  // for follow confirmations and welcome mail
	note         string // reason shown in system mail
}

// notificationRecipients decides who is told about new post id, following
// Question2Answer: followers of the forum or category hear of a new
// question (and the asker gets a "posted" confirmation); the asker hears of
// answers; a parent's author and earlier commenters on the same parent hear
// of a comment. Nobody is told of their own post; suppressed and
// unsubscribed people and those who muted the question are skipped.
func (s *Store) notificationRecipients(ctx context.Context, tx pgx.Tx, id int64, np NewPost) ([]recipient, error) {
	var out []recipient
	add := func(rows pgx.Rows, err error, kind mailkind.Kind) error {
		if err != nil {
			return fmt.Errorf("recipients: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("recipients: %w", err)
		}
		for _, pid := range ids {
			out = append(out, recipient{personID: pid, kind: kind, inboundID: np.InboundID})
		}
		return nil
	}
	switch np.Kind {
	case KindQuestion:
		out = append(out, recipient{personID: np.Author.ID, kind: mailkind.Posted, inboundID: np.InboundID})
		// Follows and people only: nothing a batch defers.
		rows, err := readerOf(tx, nil).Query(ctx, sqlFollowersOfNewQuestion, np.Author.ID, id, np.CategoryID)
		if err := add(rows, err, mailkind.NewQuestion); err != nil {
			return nil, err
		}
	case KindAnswer:
		rows, err := readerOf(tx, func(p *pendingRows) bool { return p.hasPost(np.QuestionID) }).
			Query(ctx, sqlAskerOfAnswered, np.Author.ID, np.QuestionID)
		if err := add(rows, err, mailkind.Answer); err != nil {
			return nil, err
		}
	case KindComment:
		// The parent's author hears of it if they want news of their own
		// questions (or answers); earlier commenters if they want news
		// after their comments.
		// The parent and its comments, this one aside (its author is not
		// told of it).
		rows, err := readerOf(tx, func(p *pendingRows) bool { return p.touchesThread(np.ParentID, id) }).
			Query(ctx, sqlCommentRecipients, np.Author.ID, np.QuestionID, np.ParentID)
		if err := add(rows, err, mailkind.Comment); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// enqueueNotifications inserts a notification row and its outbound
// Message-ID index row for each recipient, and the River jobs sending
// them, in tx. The rows are grouped into jobs of at most NotifyBatchSize
// ids (one job for a single recipient).
func (s *Store) enqueueNotifications(ctx context.Context, tx pgx.Tx, postID int64, recips []recipient) error {
	if len(recips) == 0 {
		return nil
	}
	// Three statements whatever the number of recipients (a fan-out to
	// thousands of followers): the rows from arrays, the Message-ID index
	// rows, then the jobs by COPY.
	n := len(recips)
	persons, inbounds, subs := make([]int64, n), make([]int64, n), make([]int64, n)
	kinds, mids, notes := make([]string, n), make([]string, n), make([]string, n)
	for i, r := range recips {
		persons[i], kinds[i], inbounds[i], subs[i], notes[i] = r.personID, string(r.kind), r.inboundID, r.subscription, r.note
		mids[i] = fmt.Sprintf("n%d.%s@%s", postID, randomTag(8), s.cfg.Domain)
		if r.kind.System() {
			mids[i] = fmt.Sprintf("s.%s@%s", randomTag(10), s.cfg.Domain)
		}
	}
	if b := batchOf(tx); b != nil && b.pending.hasPost(postID) {
		return b.deferNotifications(ctx, postID, persons, kinds, mids, inbounds, subs, notes)
	}
	rows, err := tx.Query(ctx, sqlInsertNotifications, postID, persons, kinds, mids, inbounds, subs, notes)
	if err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	ids := make([]int64, 0, n)
	var idxMids []string
	var idxPersons []int64
	for rows.Next() {
		var id, person int64
		var kind mailkind.Kind
		var mid string
		if err := rows.Scan(&id, &person, &kind, &mid); err != nil {
			rows.Close()
			return fmt.Errorf("insert notifications: %w", err)
		}
		ids = append(ids, id)
		if postID != 0 && !kind.System() {
			idxMids, idxPersons = append(idxMids, mid), append(idxPersons, person)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	if len(idxMids) > 0 {
		// Replies to a notification are routed to its post by this index.
		if _, err := tx.Exec(ctx, sqlIndexNotificationMessageIDs, postID, idxMids, idxPersons); err != nil {
			return fmt.Errorf("index notification message-ids: %w", err)
		}
	}
	if b := batchOf(tx); b != nil {
		b.notifyIDs = append(b.notifyIDs, ids...)
		return nil
	}
	return s.insertNotifyJobs(ctx, tx, ids)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomTag returns n random bytes as lower-case base32.
func randomTag(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(idEncoding.EncodeToString(b))
}

// forumMessageID returns a post's forum Message-ID (without angle
// brackets): kind letter, post id and a random tag; never an address.
func (s *Store) forumMessageID(kind PostKind, id int64) string {
	return fmt.Sprintf("%c%d.%s@%s", kind[0], id, randomTag(5), s.cfg.Domain)
}
