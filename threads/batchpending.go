package threads

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/postern/postern/threads/mailkind"
)

// Deferred rows: in a processing batch (InboundBatchTx) the rows a new
// post writes (the post, its Message-ID index rows, its notifications and
// their Message-ID rows) are not inserted one message at a time: the
// batch keeps them (pendingRows) and writes them with one set-based
// statement per table, pipelined in one round trip (flush), when the
// batch finishes or before any statement that could read or change them.
//
// The rule that keeps this correct: every statement run through the
// batch's transaction (batchTx's Exec, Query, QueryRow, SendBatch,
// CopyFrom, Begin) first flushes what is pending, so whatever it reads
// sees every earlier message of the batch, in order, as if each had been
// written at once. Only the reads of the processing path that name what
// they could depend on skip the flush, through Tx.reader, and only when
// nothing pending is among it (a reply to a message earlier in the batch
// flushes before it looks up its parent).

// pendingPost is a deferred INSERT INTO posts (sqlInsertPendingPosts).
type pendingPost struct {
	id, questionID, parentID, authorID, categoryID int64
	kind, title, body, elided, messageID, state    string
	client                                         []byte
	tags                                           []string
}

// pendingMsgID is a deferred message_ids row.
type pendingMsgID struct {
	messageID   string
	postID      int64
	recipientID int64 // 0: none
}

// pendingNotification is a deferred INSERT INTO notifications, of an id
// reserved in the batch (nextNotificationIDs).
type pendingNotification struct {
	id, personID, postID, inboundID, subscriptionID int64
	kind, messageID, note                           string
}

// pendingRows is what a batch has not written yet, in the order its
// messages gave it, and what is needed to tell whether a read depends on
// it.
type pendingRows struct {
	posts         []pendingPost
	out, in       []pendingMsgID // the direction of each Message-ID row
	notifications []pendingNotification
	// postIDs and msgIDs index posts (by id) and every pending Message-ID
	// (out, in and the notifications'), for the dependency checks.
	postIDs map[int64]int
	msgIDs  map[string]struct{}
}

func (p *pendingRows) empty() bool {
	return len(p.posts) == 0 && len(p.out) == 0 && len(p.in) == 0 && len(p.notifications) == 0
}

func (p *pendingRows) addPost(r pendingPost) {
	if p.postIDs == nil {
		p.postIDs = map[int64]int{}
	}
	p.postIDs[r.id] = len(p.posts)
	p.posts = append(p.posts, r)
}

func (p *pendingRows) addMsgID(in bool, r pendingMsgID) {
	if p.msgIDs == nil {
		p.msgIDs = map[string]struct{}{}
	}
	p.msgIDs[r.messageID] = struct{}{}
	if in {
		p.in = append(p.in, r)
	} else {
		p.out = append(p.out, r)
	}
}

// hasPost reports whether post id is pending.
func (p *pendingRows) hasPost(id int64) bool {
	_, ok := p.postIDs[id]
	return ok
}

// hasAnyMsgID reports whether one of ids is a pending Message-ID (of a
// post or of a notification).
func (p *pendingRows) hasAnyMsgID(ids []string) bool {
	for _, id := range ids {
		if _, ok := p.msgIDs[id]; ok {
			return true
		}
	}
	return false
}

// hasPostBy reports whether a pending post is by author (and, when
// question is not 0, in question question or is it).
func (p *pendingRows) hasPostBy(author, question int64) bool {
	for _, r := range p.posts {
		if r.authorID == author && (question == 0 || r.questionID == question || r.id == question) {
			return true
		}
	}
	return false
}

// touchesThread reports whether a pending post other than except is id,
// is under id (its parent), or is in question id: what the recipients of
// a reply to id could read.
func (p *pendingRows) touchesThread(id, except int64) bool {
	for _, r := range p.posts {
		if r.id != except && (r.id == id || r.parentID == id || r.questionID == id) {
			return true
		}
	}
	return false
}

// The set-based statements of a flush, one per table.
const (
	sqlInsertPendingPosts = `INSERT INTO posts (id, kind, question_id, parent_id, author_id, title, body, elided, category_id, message_id, client_msgid, state, tags)
		SELECT u.id, u.kind, NULLIF(u.qid, 0), NULLIF(u.parent, 0), u.author, u.title, u.body, u.elided, NULLIF(u.cat, 0), u.mid, u.client, u.state,
			ARRAY(SELECT jsonb_array_elements_text(u.tags))
		FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::bytea[], $12::text[], $13::jsonb[])
			AS u(id, kind, qid, parent, author, title, body, elided, cat, mid, client, state, tags)`

	sqlInsertPendingOutIDs = `INSERT INTO message_ids (message_id, post_id, direction, recipient_id)
		SELECT u.mid, u.post, 'out', NULLIF(u.person, 0) FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(mid, post, person)`

	// The first post that claims a client Message-ID keeps it, in the
	// batch's order (sqlIndexClientMessageID).
	sqlInsertPendingInIDs = `INSERT INTO message_ids (message_id, post_id, direction, recipient_id)
		SELECT u.mid, u.post, 'in', u.person FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(mid, post, person)
		ON CONFLICT (message_id) DO NOTHING`

	sqlInsertPendingNotifications = `INSERT INTO notifications (id, person_id, post_id, kind, message_id, inbound_id, subscription_id, note)
		SELECT u.id, u.person, u.post, u.kind, u.mid, NULLIF(u.inbound, 0), NULLIF(u.sub, 0), u.note
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[])
			AS u(id, person, post, kind, mid, inbound, sub, note)`
)

// queue adds the statements writing p to b, posts first (the others
// refer to them).
func (p *pendingRows) queue(b *pgx.Batch) error {
	if n := len(p.posts); n > 0 {
		ids, qids, parents, authors, cats := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		kinds, titles, bodies, elided, mids, states := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		clients, tags := make([][]byte, n), make([][]byte, n)
		for i, r := range p.posts {
			ids[i], qids[i], parents[i], authors[i], cats[i] = r.id, r.questionID, r.parentID, r.authorID, r.categoryID
			kinds[i], titles[i], bodies[i], elided[i], mids[i], states[i], clients[i] = r.kind, r.title, r.body, r.elided, r.messageID, r.state, r.client
			t := r.tags
			if t == nil {
				t = []string{}
			}
			var err error
			if tags[i], err = json.Marshal(t); err != nil {
				return fmt.Errorf("post tags: %w", err)
			}
		}
		b.Queue(sqlInsertPendingPosts, ids, kinds, qids, parents, authors, titles, bodies, elided, cats, mids, clients, states, tags)
	}
	queueMsgIDs(b, sqlInsertPendingOutIDs, p.out)
	queueMsgIDs(b, sqlInsertPendingInIDs, p.in)
	if n := len(p.notifications); n > 0 {
		ids, persons, posts, inbounds, subs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		kinds, mids, notes := make([]string, n), make([]string, n), make([]string, n)
		for i, r := range p.notifications {
			ids[i], persons[i], posts[i], inbounds[i], subs[i] = r.id, r.personID, r.postID, r.inboundID, r.subscriptionID
			kinds[i], mids[i], notes[i] = r.kind, r.messageID, r.note
		}
		b.Queue(sqlInsertPendingNotifications, ids, persons, posts, kinds, mids, inbounds, subs, notes)
	}
	return nil
}

func queueMsgIDs(b *pgx.Batch, sql string, rows []pendingMsgID) {
	if len(rows) == 0 {
		return
	}
	mids, posts, persons := make([]string, len(rows)), make([]int64, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		mids[i], posts[i], persons[i] = r.messageID, r.postID, r.recipientID
	}
	b.Queue(sql, mids, posts, persons)
}

// flush writes what is pending in one round trip, and forgets it.
func (b *batchTx) flush(ctx context.Context) error {
	if b.pending.empty() {
		return nil
	}
	pb := &pgx.Batch{}
	if err := b.pending.queue(pb); err != nil {
		return err
	}
	if err := b.Tx.SendBatch(ctx, pb).Close(); err != nil {
		return fmt.Errorf("insert the batch's posts, message-ids and notifications: %w", err)
	}
	b.pending = pendingRows{}
	return nil
}

// Every statement through the batch's transaction flushes first (see
// above). An error of the flush is returned as the statement's.

// Exec implements pgx.Tx, flushing first.
func (b *batchTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := b.flush(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return b.Tx.Exec(ctx, sql, args...)
}

// Query implements pgx.Tx, flushing first.
func (b *batchTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	return b.Tx.Query(ctx, sql, args...)
}

// QueryRow implements pgx.Tx, flushing first.
func (b *batchTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := b.flush(ctx); err != nil {
		return errRow{err}
	}
	return b.Tx.QueryRow(ctx, sql, args...)
}

// SendBatch implements pgx.Tx, with what is pending queued first, in the
// same round trip.
func (b *batchTx) SendBatch(ctx context.Context, qb *pgx.Batch) pgx.BatchResults {
	if err := b.flush(ctx); err != nil {
		return errBatch{err}
	}
	return b.Tx.SendBatch(ctx, qb)
}

// CopyFrom implements pgx.Tx, flushing first.
func (b *batchTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := b.flush(ctx); err != nil {
		return 0, err
	}
	return b.Tx.CopyFrom(ctx, table, cols, src)
}

// Begin implements pgx.Tx (a savepoint), flushing first.
func (b *batchTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := b.flush(ctx); err != nil {
		return nil, err
	}
	return b.Tx.Begin(ctx)
}

// errRow is a pgx.Row that fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBatch is a pgx.BatchResults that fails with err.
type errBatch struct{ err error }

func (r errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, r.err }
func (r errBatch) Query() (pgx.Rows, error)         { return nil, r.err }
func (r errBatch) QueryRow() pgx.Row                { return errRow(r) }
func (r errBatch) Close() error                     { return r.err }
func (r errBatch) Tx() pgx.Tx                       { return nil }

// reader returns the transaction a read of t runs in: in a batch whose
// pending rows dependsOn says the read cannot see, the batch's own
// transaction without a flush; otherwise t's (which flushes in a batch).
// dependsOn may be nil: the read reads none of the deferred tables.
func (t *Tx) reader(dependsOn func(*pendingRows) bool) pgx.Tx {
	return readerOf(t.tx, dependsOn)
}

// readerOf is Tx.reader for store methods given a pgx.Tx.
func readerOf(tx pgx.Tx, dependsOn func(*pendingRows) bool) pgx.Tx {
	b := batchOf(tx)
	if b == nil || b.pending.empty() || (dependsOn != nil && dependsOn(&b.pending)) {
		return tx
	}
	return b.Tx
}

// nextNotificationIDs reserves n notification ids for the batch, from
// those it reserved together (one round trip for many messages).
func (b *batchTx) nextNotificationIDs(ctx context.Context, n int) ([]int64, error) {
	if len(b.notifyIDPool) < n {
		want := max(n, 2*max(b.left, 1))
		res, err := b.Tx.Query(ctx, sqlNextNotificationIDs, want-len(b.notifyIDPool))
		if err != nil {
			return nil, fmt.Errorf("notification ids: %w", err)
		}
		more, err := pgx.CollectRows(res, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("notification ids: %w", err)
		}
		b.notifyIDPool = append(b.notifyIDPool, more...)
		if len(b.notifyIDPool) < n {
			return nil, fmt.Errorf("notification ids: %d of %d reserved", len(b.notifyIDPool), n)
		}
	}
	ids := slices.Clone(b.notifyIDPool[:n])
	b.notifyIDPool = b.notifyIDPool[n:]
	return ids, nil
}

// sqlNextNotificationIDs reserves $1 notification ids at once.
const sqlNextNotificationIDs = `SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, $1)`

// deferNotifications is enqueueNotifications in a batch for post postID,
// itself pending (so no notification of it exists yet): the rows, of
// reserved ids, are written with the batch's others, and their sending
// jobs when it finishes. As sqlInsertNotifications' ON CONFLICT does, a
// recipient given twice the same kind is told once.
func (b *batchTx) deferNotifications(ctx context.Context, postID int64, persons []int64, kinds, mids []string, inbounds, subs []int64, notes []string) error {
	type key struct {
		person int64
		kind   string
	}
	seen := make(map[key]bool, len(persons))
	keep := make([]int, 0, len(persons))
	for i := range persons {
		k := key{persons[i], kinds[i]}
		if !seen[k] {
			seen[k] = true
			keep = append(keep, i)
		}
	}
	ids, err := b.nextNotificationIDs(ctx, len(keep))
	if err != nil {
		return err
	}
	if b.pending.msgIDs == nil {
		b.pending.msgIDs = map[string]struct{}{}
	}
	for j, i := range keep {
		b.pending.notifications = append(b.pending.notifications, pendingNotification{id: ids[j], personID: persons[i], postID: postID,
			inboundID: inbounds[i], subscriptionID: subs[i], kind: kinds[i], messageID: mids[i], note: notes[i]})
		b.pending.msgIDs[mids[i]] = struct{}{}
		if !mailkind.Kind(kinds[i]).System() {
			// Replies to a notification are routed to its post by this index.
			b.pending.addMsgID(false, pendingMsgID{messageID: mids[i], postID: postID, recipientID: persons[i]})
		}
	}
	b.notifyIDs = append(b.notifyIDs, ids...)
	return nil
}
