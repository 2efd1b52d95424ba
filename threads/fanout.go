package threads

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/postern/postern/threads/mailkind"
)

// A new question's fan-out to many followers is written in steps, so that
// the first notifications leave while the rest are still being written:
// the question's transaction inserts the asker's confirmation and the
// notifications of the first FanoutFirst followers (by person id) with a
// FanoutArgs job, and each FanoutArgs job inserts the next FanoutChunk
// followers after its cursor, enqueues their sending and the next
// FanoutArgs, and completes itself, all in one transaction
// (docs/BENCHMARKS.md, fan-out). Exactly once: a step that crashed rolls
// back whole and its job runs again; the notification rows are unique by
// (person, post, kind) and inserted with ON CONFLICT DO NOTHING, and only
// the rows inserted get a Message-ID row and a sending job, so a step run
// twice adds nothing. Followers are read at each step: one who stopped
// following (or muted the question) in between is not told, one who
// started following, with an id above the cursor, is.
var (
	// FanoutFirst is how many followers the question's own transaction
	// notifies (a variable for tests).
	FanoutFirst = 200
	// FanoutChunk is how many followers each FanoutArgs step notifies.
	FanoutChunk = 1000
)

// FanoutArgs is the River job that notifies the followers of question
// PostID whose person id is above After (see FanoutFirst).
type FanoutArgs struct {
	PostID int64 `json:"post_id"`
	After  int64 `json:"after"`
	// InboundID is the message that became the question (0: none).
	InboundID int64 `json:"inbound_id,omitempty"`
}

// Kind implements river.JobArgs.
func (FanoutArgs) Kind() string { return "postern.fanout" }

// InsertOpts implements river.JobArgsWithInsertOpts: the processing
// queue, whose workers wait while a fan-out is being sent.
func (FanoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProcess, MaxAttempts: SendMaxAttempts}
}

// FanoutWorker runs FanoutArgs.
type FanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	Store *Store
}

// Work implements river.Worker: one step, completed in its own
// transaction. A question no longer visible (closed counts as visible)
// ends the fan-out.
func (w *FanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	s, a := w.Store, job.Args
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var author, category int64
		var state string
		err := tx.QueryRow(ctx, `SELECT author_id, coalesce(category_id, 0), state FROM posts WHERE id = $1 AND kind = 'question'`, a.PostID).
			Scan(&author, &category, &state)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("fan-out: question: %w", err)
		}
		if err == nil && (state == "visible" || state == "closed") {
			if err := s.fanoutStep(ctx, tx, a, author, category); err != nil {
				return err
			}
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("fan-out: complete: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fan-out of post %d after person %d: %w", a.PostID, a.After, err)
	}
	return nil
}

// fanoutStep notifies the next FanoutChunk followers of a and enqueues
// the step after it when the chunk was full, in tx.
func (s *Store) fanoutStep(ctx context.Context, tx pgx.Tx, a FanoutArgs, author, category int64) error {
	rows, err := tx.Query(ctx, sqlFollowersAfter, author, a.PostID, category, a.After, FanoutChunk)
	if err != nil {
		return fmt.Errorf("fan-out: followers: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("fan-out: followers: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	recips := make([]recipient, len(ids))
	for i, id := range ids {
		recips[i] = recipient{personID: id, kind: mailkind.NewQuestion, inboundID: a.InboundID}
	}
	if len(ids) == FanoutChunk {
		next := FanoutArgs{PostID: a.PostID, After: ids[len(ids)-1], InboundID: a.InboundID}
		if _, err := s.jobs.InsertTx(ctx, tx, next, nil); err != nil {
			return fmt.Errorf("enqueue fan-out: %w", err)
		}
	}
	return s.enqueueNotifications(ctx, tx, a.PostID, recips)
}
