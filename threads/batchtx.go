package threads

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Batches: InboundBatchTx processes many inbound messages in one
// transaction, so that they share its BEGIN and COMMIT (one WAL flush),
// the loading and locking of their rows (one statement), the marking of
// their outcomes (one UPDATE) and the jobs that send their notifications
// (one INSERT of jobs of up to NotifyBatchSize notifications each), and
// the inserting of their new posts, Message-ID rows and notifications (one
// INSERT per table, batchpending.go). Each message's steps are those of
// InboundTx, in the order of the ids: a reply later in a batch sees the
// post its parent became earlier in it.

// MaxProcessBatch is the most messages one processing job (and so one
// batch transaction) carries.
const MaxProcessBatch = 64

// batchTx is the transaction of an InboundBatchTx. Its messages' Tx
// values share it; what they defer (the outcome marks, the notification
// jobs) it writes before committing.
type batchTx struct {
	pgx.Tx
	marks     []markRow
	notifyIDs []int64
	// postIDs are post ids reserved for the batch's posts (nextPostID);
	// left is how many of its messages have not been processed yet.
	postIDs []int64
	left    int
	// pending are the rows deferred to a flush (batchpending.go);
	// notifyIDPool the notification ids reserved and not used yet.
	pending      pendingRows
	notifyIDPool []int64
}

// sqlNextPostIDs reserves $1 post ids at once.
const sqlNextPostIDs = `SELECT nextval(pg_get_serial_sequence('posts', 'id')) FROM generate_series(1, $1)`

// nextPostID returns a post id for a post of the batch, reserving ids
// for the messages left (most messages become one post) at the first
// call and whenever they run out: one round trip for the batch instead
// of one per post. An id not used is a gap, as a rolled-back
// transaction leaves.
func (b *batchTx) nextPostID(ctx context.Context) (int64, error) {
	if len(b.postIDs) == 0 {
		res, err := b.Tx.Query(ctx, sqlNextPostIDs, max(b.left, 1))
		if err != nil {
			return 0, fmt.Errorf("post ids: %w", err)
		}
		if b.postIDs, err = pgx.CollectRows(res, pgx.RowTo[int64]); err != nil {
			return 0, fmt.Errorf("post ids: %w", err)
		}
		if len(b.postIDs) == 0 {
			return 0, fmt.Errorf("post ids: none reserved")
		}
	}
	id := b.postIDs[0]
	b.postIDs = b.postIDs[1:]
	return id, nil
}

// markRow is a deferred MarkInbound.
type markRow struct {
	id  int64
	out Outcome
}

// batch returns t's batch transaction, or nil when t is InboundTx's.
func (t *Tx) batch() *batchTx {
	b, _ := t.tx.(*batchTx)
	return b
}

// deferredNotifications returns the batch tx belongs to, if any, so
// that enqueueNotifications leaves its jobs to it.
func batchOf(tx pgx.Tx) *batchTx {
	b, _ := tx.(*batchTx)
	return b
}

// sqlLockInboundMany loads and locks inbound rows in id order (two
// batches holding common rows lock them in the same order).
const sqlLockInboundMany = `SELECT i.id, i.key_id, i.sealed, i.dedup_key, i.chunks, i.rcpt, i.state, i.remote_ip, i.peer_ip, i.source, coalesce(w.person_id, 0)
	FROM inbound i LEFT JOIN web_member_posts w ON w.inbound_id = i.id WHERE i.id = ANY($1) ORDER BY i.id FOR UPDATE OF i`

// sqlMarkInboundMany is sqlMarkInbound for many rows, from arrays.
const sqlMarkInboundMany = `UPDATE inbound i SET state = u.state, reason = u.reason, post_id = NULLIF(u.post, 0), sender_id = NULLIF(u.sender, 0),
		processed_at = now(), auth_dkim = u.dkim, auth_dmarc = u.dmarc, auth_spf = u.spf, evidence = u.ev
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[])
		AS u(id, state, reason, post, sender, dkim, dmarc, spf, ev)
	WHERE i.id = u.id`

// InboundBatchTx is InboundTx for many messages in one transaction: it
// locks the rows of ids, runs fn for each (in id order; a row gone is
// skipped), then records every outcome given to MarkInbound and enqueues
// the notifications, and commits. When fn or the database fails for any
// message, nothing of the batch is kept and the error is returned: the
// caller processes the messages again alone (InboundTx), so that one
// message the database refuses fails only itself.
//
// When take is not nil, the batch also takes over processing jobs
// waiting in the queue (never tried yet, of messages of known size under
// 1 MiB): it locks up to takeCandidates of them, asks take how many of
// them (a prefix, in queue order) it takes given their messages, and
// deletes those jobs in the transaction, so that their messages are
// processed here, exactly once: if the batch fails, the jobs are back in
// the queue as they were.
func (s *Store) InboundBatchTx(ctx context.Context, ids []int64, take func([][]ProcessItem) int, fn func(*Tx, Inbound) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(ptx pgx.Tx) error {
		b := &batchTx{Tx: ptx}
		if take != nil {
			more, err := s.takeProcessJobs(ctx, ptx, take)
			if err != nil {
				return err
			}
			ids = append(slices.Clip(ids), more...)
		}
		rows, err := s.lockInboundMany(ctx, ptx, ids)
		if err != nil {
			return err
		}
		for i := range rows {
			b.left = len(rows) - i
			t := &Tx{s: s, tx: b, in: rows[i]}
			if err := fn(t, rows[i].public()); err != nil {
				return fmt.Errorf("inbound %d: %w", rows[i].id, err)
			}
			rows[i] = inboundRow{} // its message is garbage now
		}
		return s.finishBatch(ctx, b)
	})
}

// takeCandidates is how many waiting processing jobs a batch looks at.
const takeCandidates = 16

// sqlLockProcessJobs locks the processing jobs a batch may take over, in
// River's fetching order (river_job's prioritised fetching index), those
// River or another batch locked skipped.
const sqlLockProcessJobs = `SELECT id, args FROM river_job
	WHERE state = 'available' AND queue = $1 AND kind = $2 AND scheduled_at <= now() AND attempt = 0
		AND (args ? 'batch' OR (args->>'size')::bigint BETWEEN 1 AND 1048575)
	ORDER BY priority, scheduled_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`

// takeProcessJobs deletes the waiting processing jobs take chooses (see
// InboundBatchTx) and returns the ids of their messages.
func (s *Store) takeProcessJobs(ctx context.Context, tx pgx.Tx, take func([][]ProcessItem) int) ([]int64, error) {
	res, err := tx.Query(ctx, sqlLockProcessJobs, QueueProcess, ProcessArgs{}.Kind(), takeCandidates)
	if err != nil {
		return nil, fmt.Errorf("lock processing jobs: %w", err)
	}
	var jobIDs []int64
	var items [][]ProcessItem
	var jobID int64
	var args ProcessArgs
	if _, err := pgx.ForEachRow(res, []any{&jobID, &args}, func() error {
		jobIDs, items = append(jobIDs, jobID), append(items, args.Items())
		args = ProcessArgs{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock processing jobs: %w", err)
	}
	n := 0
	if len(items) > 0 {
		n = take(items)
	}
	if n == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM river_job WHERE id = ANY($1)`, jobIDs[:n]); err != nil {
		return nil, fmt.Errorf("take processing jobs: %w", err)
	}
	var ids []int64
	for _, job := range items[:n] {
		for _, it := range job {
			ids = append(ids, it.ID)
		}
	}
	return ids, nil
}

// lockInboundMany loads, locks and opens the inbound rows of ids.
func (s *Store) lockInboundMany(ctx context.Context, tx pgx.Tx, ids []int64) ([]inboundRow, error) {
	res, err := tx.Query(ctx, sqlLockInboundMany, ids)
	if err != nil {
		return nil, fmt.Errorf("lock inbound: %w", err)
	}
	defer res.Close()
	var out []inboundRow
	chunked := map[int]int{} // index in out: chunk count, read once res is done
	for res.Next() {
		var in inboundRow
		var keyID int
		var chunks *int
		var sealed, dedup []byte
		if err := res.Scan(&in.id, &keyID, &sealed, &dedup, &chunks, &in.rcpt, &in.state, &in.remoteIP, &in.peerIP, &in.source, &in.webPerson); err != nil {
			return nil, fmt.Errorf("lock inbound: %w", err)
		}
		if chunks != nil {
			chunked[len(out)] = *chunks
		} else {
			s.openLocked(&in, keyID, sealed, dedup)
		}
		out = append(out, in)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("lock inbound: %w", err)
	}
	res.Close()
	for i, n := range chunked {
		if err := s.openChunked(ctx, tx, &out[i], n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// finishBatch writes what the messages of b deferred: the pending rows
// and the outcome marks in one round trip, then the sending jobs.
func (s *Store) finishBatch(ctx context.Context, b *batchTx) error {
	qb := &pgx.Batch{}
	if err := b.pending.queue(qb); err != nil {
		return err
	}
	if n := len(b.marks); n > 0 {
		ids, posts, senders := make([]int64, n), make([]int64, n), make([]int64, n)
		states, reasons, dkim, dmarc, spf, ev := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, m := range b.marks {
			ids[i], posts[i], senders[i] = m.id, m.out.PostID, m.out.SenderID
			states[i], reasons[i], dkim[i], dmarc[i], spf[i], ev[i] = m.out.State, m.out.Reason, m.out.DKIM, m.out.DMARC, m.out.SPF, m.out.Evidence
		}
		qb.Queue(sqlMarkInboundMany, ids, states, reasons, posts, senders, dkim, dmarc, spf, ev)
	}
	if qb.Len() > 0 {
		if err := b.Tx.SendBatch(ctx, qb).Close(); err != nil {
			return fmt.Errorf("write the batch's posts and mark inbound: %w", err)
		}
		b.pending = pendingRows{}
	}
	return s.insertNotifyJobs(ctx, b.Tx, b.notifyIDs)
}

// insertNotifyJobs enqueues the sending of notifications ids in tx, in
// jobs of at most NotifyBatchSize ids, in id order.
func (s *Store) insertNotifyJobs(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	params := make([]river.InsertManyParams, 0, (len(ids)+NotifyBatchSize-1)/NotifyBatchSize)
	for len(ids) > 0 {
		k := min(len(ids), NotifyBatchSize)
		params = append(params, river.InsertManyParams{Args: NotifyArgs{NotificationIDs: ids[:k:k]}})
		ids = ids[k:]
	}
	// One INSERT: with batched jobs there are few rows (200 for 10,000
	// recipients), where COPY's extra round trips cost more than it saves.
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue notifications: %w", err)
	}
	return nil
}
