package threads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrDatabaseUnreachable means the database did not answer a ping. It
// carries no detail: a connection error may name the database's user,
// host or name, which Postern never shows.
var ErrDatabaseUnreachable = errors.New("database unreachable")

// ErrQueueStuck means a queue holds a job that could have run long ago:
// no worker takes it (all instances stopped working, or wedged).
var ErrQueueStuck = errors.New("queue stuck")

// AddReadyCheck adds check to what Ready requires of the server, after
// the database's checks: the receiving of mail this store is fed by (the
// IMAP mailboxes: mailin/imap Receiver.Ready). Its error is Ready's, as
// it is: it must name no message, address, user or password. Call it
// before the store serves (it is not safe against a concurrent Ready).
func (s *Store) AddReadyCheck(check func() error) {
	s.readyChecks = append(s.readyChecks, check)
}

// Ready reports whether this store can serve: the database answers
// (ErrDatabaseUnreachable), its schema is current (ErrSchemaOld, without
// its details), no job of the processing or
// notification queue has been due for more than stuckAfter
// (ErrQueueStuck) and every check of AddReadyCheck passes (its error).
// The error names the queue and the wait, never a message or an address.
func (s *Store) Ready(ctx context.Context, stuckAfter time.Duration) error {
	if err := s.pool.Ping(ctx); err != nil {
		return ErrDatabaseUnreachable
	}
	if err := CheckSchema(ctx, s.pool); err != nil {
		if errors.Is(err, ErrSchemaOld) {
			return ErrSchemaOld
		}
		return ErrDatabaseUnreachable
	}
	rows, err := s.pool.Query(ctx, sqlOldestAvailable, []string{QueueProcess, QueueNotify})
	if err != nil {
		return ErrDatabaseUnreachable
	}
	defer rows.Close()
	for rows.Next() {
		var queue string
		var secs float64
		if err := rows.Scan(&queue, &secs); err != nil {
			return ErrDatabaseUnreachable
		}
		if wait := time.Duration(secs * float64(time.Second)); wait > stuckAfter {
			return fmt.Errorf("%w: the %s queue's oldest job has waited %v (more than %v)", ErrQueueStuck, queue, wait.Round(time.Second), stuckAfter)
		}
	}
	if rows.Err() != nil {
		return ErrDatabaseUnreachable
	}
	for _, check := range s.readyChecks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// Backlog is a queue's jobs not finished, and how long its oldest due one
// has waited for a worker.
type Backlog struct {
	Waiting   int
	OldestDue time.Duration
}

// QueueBacklog returns the backlog of the processing and notification
// queues (a queue with no job is absent), for the metrics.
func (s *Store) QueueBacklog(ctx context.Context) (map[string]Backlog, error) {
	rows, err := s.pool.Query(ctx, sqlQueueBacklog, []string{QueueProcess, QueueNotify})
	if err != nil {
		return nil, fmt.Errorf("queue backlog: %w", err)
	}
	out := map[string]Backlog{}
	var q string
	var n int
	var secs float64
	if _, err := pgx.ForEachRow(rows, []any{&q, &n, &secs}, func() error {
		out[q] = Backlog{Waiting: n, OldestDue: time.Duration(secs * float64(time.Second))}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("queue backlog: %w", err)
	}
	return out, nil
}

// sqlQueueBacklog counts each queue's unfinished jobs and the wait of its
// oldest available one.
const sqlQueueBacklog = `SELECT queue, count(*)::int, coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8
	FROM river_job WHERE queue = ANY($1) AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending') GROUP BY queue`

// BounceCounts returns how many bounces are recorded, by kind ("hard",
// "soft"), for the metrics.
func (s *Store) BounceCounts(ctx context.Context) (map[string]int64, error) {
	var hard, soft int64
	if err := s.pool.QueryRow(ctx, sqlBounceCounts).Scan(&hard, &soft); err != nil {
		return nil, fmt.Errorf("bounce counts: %w", err)
	}
	return map[string]int64{"hard": hard, "soft": soft}, nil
}

// sqlBounceCounts counts the recorded bounces, hard and soft.
const sqlBounceCounts = `SELECT count(*) FILTER (WHERE hard), count(*) FILTER (WHERE NOT hard) FROM bounces`
