package threads

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/postern/postern/threads/mailkind"
	"github.com/postern/postern/threads/token"
)

// The queries of the dispatcher. Each batch query takes its ids as one
// array ($1 = ANY): a batch costs the same number of queries whatever
// its size.
const (
	// sqlLoadNotifications reads each notification with its recipient
	// and every fact the skip rules need: whether the recipient muted the
	// notified post's question (the question is the post itself when it
	// has no question_id); whether the follow a confirmation or welcome
	// is about has ended; and, for a new question, whether no confirmed,
	// unended follow of the recipient (of the forum, or of the question's
	// category) covers it any more. The inbound Message-ID threads system
	// mail under the message that caused it; its source says whether it
	// was written in the web form.
	sqlLoadNotifications = `SELECT n.id, n.kind, n.state, n.message_id, n.person_id, pe.display_name, pe.token_epoch,
	pe.suppressed_at IS NOT NULL, pe.unsubscribed_at IS NOT NULL, pe.address_enc IS NULL,
	pe.key_id, pe.address_enc, pe.address_hash,
	coalesce(n.post_id, 0), coalesce(n.inbound_id, 0), n.created_at, n.note, coalesce(n.subscription_id, 0), coalesce(i.message_id, ''), coalesce(i.source = 'web', false),
	EXISTS (SELECT 1 FROM mutes m WHERE m.person_id = n.person_id AND m.question_id = coalesce(p.question_id, p.id)),
	coalesce(s.ended_at IS NOT NULL, false), coalesce(sc.slug, ''), coalesce(sc.name, ''),
	n.kind = 'new_question' AND NOT EXISTS (SELECT 1 FROM subscriptions f WHERE f.person_id = n.person_id
		AND f.confirmed_at IS NOT NULL AND f.ended_at IS NULL
		AND (f.scope = 'all' OR (f.scope = 'category' AND f.category_id = p.category_id)))
	FROM notifications n
	JOIN people pe ON pe.id = n.person_id
	LEFT JOIN posts p ON p.id = n.post_id
	LEFT JOIN inbound i ON i.id = n.inbound_id
	LEFT JOIN subscriptions s ON s.id = n.subscription_id
	LEFT JOIN categories sc ON sc.id = s.category_id
	WHERE n.id = ANY($1)
	ORDER BY n.id`

	// sqlLoadPosts reads the notified posts, each body cut to $2
	// characters with a mark: a notification carries at most twice
	// MaxPostTextBytes characters of a body (posts are cut to
	// MaxPostTextBytes when received, but older or imported ones may be
	// longer, and every recipient's mail would carry all of it). A post's
	// question is itself when it has no question_id.
	sqlLoadPosts = `SELECT p.id, p.kind,
	CASE WHEN char_length(p.body) > $2 THEN left(p.body, $2) || E'\n\n[…]' ELSE p.body END,
	coalesce(a.display_name, ''), p.created_at, coalesce(p.question_id, p.id), coalesce(p.parent_id, 0)
	FROM posts p LEFT JOIN people a ON a.id = p.author_id
	WHERE p.id = ANY($1)`

	// sqlLoadChain reads the thread-chain posts: their titles,
	// categories, forum Message-IDs, authors and sealed client
	// Message-IDs.
	sqlLoadChain = `SELECT q.id, q.title, coalesce(c.name, ''), q.message_id, q.author_id, q.client_msgid
	FROM posts q LEFT JOIN categories c ON c.id = q.category_id
	WHERE q.id = ANY($1)`

	sqlLoadAttachments = `SELECT post_id, id, filename, content_type, size, inline FROM attachments WHERE post_id = ANY($1) ORDER BY post_id, id`

	sqlMarkSent   = `UPDATE notifications SET state = 'sent', sent_at = now(), error = '' WHERE id = ANY($1)`
	sqlMarkFailed = `UPDATE notifications SET state = $2, error = $3 WHERE id = $1`

	sqlNotificationPerson = `SELECT person_id FROM notifications WHERE id = $1`
	sqlRecordRejection    = `INSERT INTO bounces (person_id, notification_id, status, hard) VALUES ($1, $2, $3, true)`
	// sqlScoreRejection adds $2 to the person's bounce score and
	// suppresses their address once the score reaches $3 (kept from the
	// first suppression).
	sqlScoreRejection = `UPDATE people SET bounce_score = bounce_score + $2,
	suppressed_at = CASE WHEN bounce_score + $2 >= $3 THEN coalesce(suppressed_at, now()) ELSE suppressed_at END
	WHERE id = $1`
)

// Outgoing is everything the dispatcher needs to render and send one
// notification. RecipientAddress is the only address in it: the
// recipient's own, decrypted for this send and not to be kept or logged.
type Outgoing struct {
	NotificationID   int64
	Kind             mailkind.Kind
	State            string // pending, sent, failed, cancelled
	MessageID        string // this notification's Message-ID (no brackets)
	RecipientID      int64
	RecipientName    string
	RecipientAddress string
	Skip             string // non-empty: do not send, and why (suppressed, unsubscribed, forgotten)

	PostID       int64
	InboundID    int64 // the received message that caused it (0: none known), for the logs
	PostKind     PostKind
	PostBody     string
	PostAuthor   string // display name
	PostCreated  time.Time
	QuestionID   int64
	Title        string
	CategoryName string

	InReplyTo  string   // no brackets
	References []string // no brackets, oldest first

	Attachments []AttachmentInfo // the post's files, linked from the mail; shared by a batch's notifications of the post: read only
	ActionURL   string           // confirm link, for confirmation requests
	// FromWeb says the message that caused this mail (a confirmation
	// request's held post) was written in the web form, not mailed.
	FromWeb bool
	Note    string // the reason, for rejected and unsubscribed mail

	ReplyTo      string // reply+TOKEN (or confirm+TOKEN) address; empty for mail that takes no reply
	EnvelopeFrom string // bounce+TOKEN VERP address
	// Unsubscribe stops this question (for a new question: the follows
	// that sent it; for welcome mail: everything); zero for mail that
	// has no unsubscribe.
	Unsubscribe StopLinks
	ThreadURL   string

	// StopAll and StopCategory are the forum's addresses that stop every
	// email and (for a category follow) that category's, for welcome mail.
	StopAll, StopCategory string

	// Err, when set, says this notification could not be prepared (its
	// recipient's address does not open, a thread post is missing): it
	// is not to be sent now, and is to be retried like a temporary
	// failure. Its text contains no address.
	Err error
}

// outRow is what LoadOutgoingBatch reads per notification besides the
// Outgoing fields: the data that decides the skip rules and the tokens.
type outRow struct {
	o                                          *Outgoing
	epoch, subscription                        int64
	suppressed, unsubscribed, forgotten, muted bool
	followEnded                                bool   // the follow a confirmation or welcome is about has ended
	unfollowed                                 bool   // a new question no follow of the person covers any more
	followSlug                                 string // the followed category's slug, for welcome mail
	followName                                 string // and its name
	inboundMsgID                               string
	parent                                     int64 // the notified post's parent, for comments
	keyID                                      int
	sealed, hash                               []byte
}

// postRow is a notified post, read once per batch however many of the
// batch's notifications are about it.
type postRow struct {
	kind             PostKind
	body, author     string
	created          time.Time
	question, parent int64
}

// chainPost is a post of a thread chain (a question, or the parent of a
// commented answer or comment): its forum Message-ID, its author and its
// sealed client Message-ID, opened only for mail to that author.
type chainPost struct {
	title, category string
	forum           string
	author          int64
	sealedClient    []byte
	client          string // opened lazily, for the author's mail only
	opened          bool
}

// LoadOutgoingBatch loads the notifications ids for sending, in one read
// transaction of four set-based queries whatever the batch size: the
// notifications with their recipients, their posts, the thread chain
// (questions and parents, with titles and categories) and the posts'
// attachments. The result holds one Outgoing per id that still exists,
// ordered by id; ids whose rows are gone are left out.
//
// A notification that must not be sent (forgotten or suppressed
// recipient, an unsubscribe or mute that covers its kind, or an ended
// follow: a new question no current follow covers, a follow confirmation
// or welcome of a follow that has ended) has Skip set
// and no address; only pending, unskipped ones carry their recipient's
// decrypted address. When one notification's data cannot be opened (its
// recipient's address is sealed under a key no longer configured), that
// Outgoing has Err set and the others are unaffected; the returned error is for failures of the whole batch
// (database errors).
func (s *Store) LoadOutgoingBatch(ctx context.Context, ids []int64) ([]*Outgoing, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []outRow
	posts := map[int64]*postRow{}
	chain := map[int64]*chainPost{}
	attachments := map[int64][]AttachmentInfo{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if rows, err = loadNotificationRows(ctx, tx, ids); err != nil {
			return err
		}
		var postIDs, filePosts []int64
		for _, r := range rows {
			if r.o.PostID == 0 || posts[r.o.PostID] != nil {
				continue
			}
			posts[r.o.PostID] = &postRow{}
			postIDs = append(postIDs, r.o.PostID)
		}
		if err := loadPosts(ctx, tx, postIDs, posts); err != nil {
			return err
		}
		var chainIDs []int64
		addChain := func(id int64) {
			if id != 0 && chain[id] == nil {
				chain[id] = &chainPost{}
				chainIDs = append(chainIDs, id)
			}
		}
		for _, r := range rows {
			p := posts[r.o.PostID]
			if p == nil {
				continue
			}
			r.o.QuestionID = p.question
			addChain(p.question)
			if !r.o.Kind.System() {
				if _, ok := attachments[r.o.PostID]; !ok {
					attachments[r.o.PostID] = nil
					filePosts = append(filePosts, r.o.PostID)
				}
				if p.kind == KindComment && p.parent != p.question {
					addChain(p.parent)
				}
				if r.o.Kind == mailkind.Selected {
					// Threaded under the selected answer itself.
					addChain(r.o.PostID)
				}
			}
		}
		if err := loadChain(ctx, tx, chainIDs, chain); err != nil {
			return err
		}
		return loadAttachments(ctx, tx, filePosts, attachments)
	})
	if err != nil {
		return nil, err
	}
	outs := make([]*Outgoing, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		o := r.o
		if p := posts[o.PostID]; p != nil {
			o.PostKind, o.PostBody, o.PostAuthor, o.PostCreated = p.kind, p.body, p.author, p.created
			r.parent = p.parent
		}
		s.finishOutgoing(r, chain, attachments)
		outs = append(outs, o)
	}
	return outs, nil
}

// loadNotificationRows reads the notifications ids with their recipients,
// the facts the skip rules need, and (for sending) the sealed addresses.
func loadNotificationRows(ctx context.Context, tx pgx.Tx, ids []int64) ([]outRow, error) {
	rs, err := tx.Query(ctx, sqlLoadNotifications, ids)
	if err != nil {
		return nil, fmt.Errorf("load notifications: %w", err)
	}
	defer rs.Close()
	out := make([]outRow, 0, len(ids))
	for rs.Next() {
		r := outRow{o: &Outgoing{}}
		o := r.o
		if err := rs.Scan(&o.NotificationID, &o.Kind, &o.State, &o.MessageID, &o.RecipientID, &o.RecipientName, &r.epoch,
			&r.suppressed, &r.unsubscribed, &r.forgotten, &r.keyID, &r.sealed, &r.hash,
			&o.PostID, &o.InboundID, &o.PostCreated, &o.Note, &r.subscription, &r.inboundMsgID, &o.FromWeb, &r.muted,
			&r.followEnded, &r.followSlug, &r.followName, &r.unfollowed); err != nil {
			return nil, fmt.Errorf("load notifications: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("load notifications: %w", err)
	}
	return out, nil
}

// loadPosts fills posts (keyed by the ids) with the notified posts.
func loadPosts(ctx context.Context, tx pgx.Tx, ids []int64, posts map[int64]*postRow) error {
	if len(ids) == 0 {
		return nil
	}
	rs, err := tx.Query(ctx, sqlLoadPosts, ids, 2*MaxPostTextBytes)
	if err != nil {
		return fmt.Errorf("load posts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var kind string
		var p postRow
		if err := rs.Scan(&id, &kind, &p.body, &p.author, &p.created, &p.question, &p.parent); err != nil {
			return fmt.Errorf("load posts: %w", err)
		}
		p.kind = PostKind(kind)
		*posts[id] = p
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("load posts: %w", err)
	}
	return nil
}

// loadChain fills chain (keyed by the ids) with the thread-chain posts:
// questions with their titles and categories, and commented parents.
func loadChain(ctx context.Context, tx pgx.Tx, ids []int64, chain map[int64]*chainPost) error {
	if len(ids) == 0 {
		return nil
	}
	rs, err := tx.Query(ctx, sqlLoadChain, ids)
	if err != nil {
		return fmt.Errorf("load thread chain: %w", err)
	}
	defer rs.Close()
	found := 0
	for rs.Next() {
		var id int64
		var c chainPost
		if err := rs.Scan(&id, &c.title, &c.category, &c.forum, &c.author, &c.sealedClient); err != nil {
			return fmt.Errorf("load thread chain: %w", err)
		}
		*chain[id] = c
		found++
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("load thread chain: %w", err)
	}
	if found != len(ids) {
		// Posts are never deleted: a missing one is a broken database.
		return fmt.Errorf("load thread chain: %d of %d posts missing", len(ids)-found, len(ids))
	}
	return nil
}

// loadAttachments fills files (keyed by post id) with each post's
// attachments, in id order.
func loadAttachments(ctx context.Context, tx pgx.Tx, postIDs []int64, files map[int64][]AttachmentInfo) error {
	if len(postIDs) == 0 {
		return nil
	}
	rs, err := tx.Query(ctx, sqlLoadAttachments, postIDs)
	if err != nil {
		return fmt.Errorf("load attachments: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var post int64
		var a AttachmentInfo
		if err := rs.Scan(&post, &a.ID, &a.Filename, &a.ContentType, &a.Size, &a.Inline); err != nil {
			return fmt.Errorf("load attachments: %w", err)
		}
		files[post] = append(files[post], a)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("load attachments: %w", err)
	}
	return nil
}

// finishOutgoing applies the skip rules to r, fills its question, thread
// headers, attachments and tokens, and opens the recipient's address when
// it is to be sent.
func (s *Store) finishOutgoing(r *outRow, chain map[int64]*chainPost, files map[int64][]AttachmentInfo) {
	o := r.o
	// Mail answering the person's own request (posted, confirmations,
	// unsubscribe confirmation, rejection) goes despite a global
	// unsubscribe or a mute: they asked for it by writing.
	own := o.Kind == mailkind.Posted || o.Kind == mailkind.Moderate || o.Kind.System()
	switch {
	case r.forgotten:
		o.Skip = "person was forgotten"
	case r.suppressed && o.Kind != mailkind.Unsubscribed:
		o.Skip = "address is suppressed after bounces"
	case r.unsubscribed && !own:
		o.Skip = "person unsubscribed from everything"
	case r.muted && !own:
		o.Skip = "person unsubscribed from this question"
	case r.followEnded && (o.Kind == mailkind.ConfirmSubscribe || o.Kind == mailkind.Welcome):
		o.Skip = "the follow was stopped"
	case r.unfollowed:
		o.Skip = "person no longer follows the forum or this category"
	}
	if q := chain[o.QuestionID]; q != nil {
		o.Title, o.CategoryName = q.title, q.category
	}
	if o.PostID != 0 && !o.Kind.System() {
		o.Attachments = files[o.PostID]
	}
	if o.Kind.System() {
		if r.inboundMsgID != "" {
			o.InReplyTo, o.References = r.inboundMsgID, []string{r.inboundMsgID}
		}
	} else {
		s.threadHeaders(o, r.parent, chain)
	}
	if o.Skip == "" && o.State == "pending" {
		if r.sealed == nil {
			o.Err = fmt.Errorf("person %d has no address (forgotten)", o.RecipientID)
		} else if addr, err := s.keys.Open(r.keyID, r.sealed, r.hash); err != nil {
			o.Err = fmt.Errorf("notification %d: %w", o.NotificationID, err)
		} else {
			o.RecipientAddress = addr
		}
	}
	s.notificationLinks(o, r)
	o.Title = Censor(o.Title, s.cfg.BlockedWords)
	o.PostBody = Censor(o.PostBody, s.cfg.BlockedWords)
}

// notificationLinks fills o's token-bearing addresses and links, which
// depend on its kind: the bounce address of every mail; the reply (or
// confirm) address; the unsubscribe links; the confirm link; the place of
// the post on its question's page.
func (s *Store) notificationLinks(o *Outgoing, r *outRow) {
	a, lk, person, epoch := s.addrs, s.addrs.Links(), o.RecipientID, r.epoch
	o.EnvelopeFrom = a.Bounce(o.NotificationID, person)
	switch o.Kind {
	case mailkind.Confirm:
		// The token names the held post: a member confirmed already
		// publishes that one only (confirmPerson).
		o.ReplyTo, o.ActionURL = a.ConfirmLinks(token.Confirm, o.PostID, person, epoch)
	case mailkind.ConfirmSubscribe:
		o.CategoryName = r.followName
		o.ReplyTo, o.ActionURL = a.ConfirmLinks(token.ConfirmSub, r.subscription, person, epoch)
	case mailkind.Welcome:
		// Its stop link and List-Unsubscribe stop everything.
		o.CategoryName = r.followName
		o.Unsubscribe = a.StopQuestion(0, person, epoch)
		o.StopAll = a.UnsubscribeAll()
		if r.followSlug != "" {
			o.StopCategory = a.UnsubscribeCategory(r.followSlug)
		}
	case mailkind.SignIn:
		o.ActionURL = a.SignInLink(o.NotificationID, person, epoch)
	case mailkind.Help, mailkind.Command:
	case mailkind.Unsubscribed, mailkind.Rejected:
		if o.QuestionID != 0 {
			o.ThreadURL = lk.QuestionPage(o.QuestionID)
		}
	case mailkind.Moderate:
		// The post waits for approval, so it is on no page: a queued
		// question's page is 404, and a queued answer or comment is not
		// on its question's page yet. The mail links the question's page
		// only when that page shows.
		o.ReplyTo = a.Reply(o.PostID, person, epoch)
		o.Unsubscribe = a.StopQuestion(o.QuestionID, person, epoch)
		if o.PostID != o.QuestionID {
			o.ThreadURL = lk.QuestionPage(o.QuestionID)
		}
	case mailkind.NewQuestion:
		// Its List-Unsubscribe stops the "list" it came from: the follows
		// that sent it, not only this question.
		o.ReplyTo = a.Reply(o.PostID, person, epoch)
		o.Unsubscribe = a.StopFollows(o.QuestionID, person, epoch)
		o.ThreadURL = lk.Post(o.QuestionID, o.PostID)
	default:
		o.ReplyTo = a.Reply(o.PostID, person, epoch)
		o.Unsubscribe = a.StopQuestion(o.QuestionID, person, epoch)
		o.ThreadURL = lk.Post(o.QuestionID, o.PostID)
	}
}

// threadHeaders fills In-Reply-To and References. The chain is the posts
// above the notified one (the question, then the parent when it is an
// answer; for a "selected" mail, then the selected answer itself), each
// named by its forum Message-ID. Where the recipient wrote a
// post of the chain by email, their own client's Message-ID for it is put
// first, so their client threads the notification under the mail they
// sent; nobody else ever sees that client Message-ID: it is opened only
// when the chain post's author is this notification's recipient. A chain
// post missing from chain sets o.Err.
func (s *Store) threadHeaders(o *Outgoing, parent int64, chain map[int64]*chainPost) {
	ids := []int64{o.QuestionID}
	if o.PostKind == KindComment && parent != 0 && parent != o.QuestionID {
		ids = append(ids, parent)
	}
	if o.Kind == mailkind.Selected && o.PostID != o.QuestionID {
		// The news is about the recipient's own answer: thread it under
		// the answer (their client's Message-ID when they sent it by mail).
		ids = append(ids, o.PostID)
	}
	for _, id := range ids {
		l := chain[id]
		if l == nil {
			o.Err = fmt.Errorf("notification %d: load thread link %d: post missing", o.NotificationID, id)
			return
		}
		client := ""
		if l.author == o.RecipientID {
			client = s.openClientID(l)
		}
		if client != "" {
			o.References = append(o.References, client)
		}
		o.References = append(o.References, l.forum)
		o.InReplyTo = l.forum
		if client != "" {
			o.InReplyTo = client
		}
	}
	if o.Kind == mailkind.NewQuestion {
		// The question itself is the message: nothing to reply to yet, but
		// the forum ID in References groups later mail with it.
		o.InReplyTo = ""
	}
}

// openClientID opens l's sealed client Message-ID, once per batch. Only
// threadHeaders calls it, and only for mail to l's author. A value that
// does not open is treated as absent, as before batching.
func (s *Store) openClientID(l *chainPost) string {
	if !l.opened {
		l.opened = true
		if len(l.sealedClient) > 1 {
			// OpenBytes decrypts in place: give it a copy.
			sealed := append([]byte(nil), l.sealedClient[1:]...)
			if b, err := s.keys.OpenBytes(int(l.sealedClient[0]), sealed, []byte(l.forum)); err == nil {
				l.client = string(b)
			}
		}
	}
	return l.client
}

// MarkSentMany records, in one statement, that the notifications ids were
// accepted by the relay.
func (s *Store) MarkSentMany(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, sqlMarkSent, ids)
	if err != nil {
		return fmt.Errorf("mark %d notifications sent (first %d): %w", len(ids), ids[0], err)
	}
	return nil
}

// MarkFailed records a permanent failure (or a skip, with state
// "cancelled") for notification id. reason must not contain an address.
func (s *Store) MarkFailed(ctx context.Context, id int64, state, reason string) error {
	_, err := s.pool.Exec(ctx, sqlMarkFailed, id, state, reason)
	if err != nil {
		return fmt.Errorf("mark notification %d %s: %w", id, state, err)
	}
	return nil
}

// RecordRejection counts a permanent relay rejection (5xx) against the
// notification's recipient like a hard bounce.
func (s *Store) RecordRejection(ctx context.Context, id int64, status string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var person int64
		if err := tx.QueryRow(ctx, sqlNotificationPerson, id).Scan(&person); err != nil {
			return fmt.Errorf("load notification %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, sqlRecordRejection, person, id, status); err != nil {
			return fmt.Errorf("record rejection: %w", err)
		}
		_, err := tx.Exec(ctx, sqlScoreRejection, person, HardBounceScore, BounceThreshold)
		if err != nil {
			return fmt.Errorf("score rejection: %w", err)
		}
		return nil
	})
}
