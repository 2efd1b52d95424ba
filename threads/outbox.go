package threads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The statements of the outbox (`postern outbox`): notification rows with
// the River job that carries each (a postern.notify job lists the ids it
// sends in its args; River's GIN index on args serves the containment).
const (
	// sqlNotifyJobOf is the newest notify job carrying notification n.id,
	// for a LATERAL join.
	sqlNotifyJobOf = `SELECT j.attempt, j.scheduled_at, j.state::text FROM river_job j
		WHERE j.kind = 'postern.notify' AND (j.args @> jsonb_build_object('notification_ids', jsonb_build_array(n.id))
			OR j.args @> jsonb_build_object('notification_id', n.id))
		ORDER BY j.id DESC LIMIT 1`

	// sqlListOutbox returns the newest $2 notifications that filter $1
	// (an OutboxFilter) selects, with their job's attempts and next try.
	sqlListOutbox = `SELECT n.id, n.kind, n.post_id, n.person_id, n.state, n.error, n.created_at, n.sent_at,
			coalesce(j.attempt, 0), CASE WHEN j.state IN ('available', 'scheduled', 'retryable') THEN j.scheduled_at END
		FROM notifications n LEFT JOIN LATERAL (` + sqlNotifyJobOf + `) j ON true
		WHERE $1 = 0 OR ($1 = 1 AND n.state = 'pending') OR ($1 = 2 AND n.state = 'failed')
		ORDER BY n.id DESC LIMIT $2`

	sqlLockNotification  = `SELECT state FROM notifications WHERE id = $1 FOR UPDATE`
	sqlNotificationState = `SELECT state FROM notifications WHERE id = $1`
	sqlRepend            = `UPDATE notifications SET state = 'pending', error = '' WHERE id = $1`
	// sqlHurryNotifyJob makes the waiting job carrying notification $1
	// due now; sqlActiveNotifyJob says whether one is due or running.
	sqlHurryNotifyJob = `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE id = (SELECT j.id FROM river_job j WHERE j.kind = 'postern.notify' AND j.state IN ('scheduled', 'retryable')
			AND (j.args @> jsonb_build_object('notification_ids', jsonb_build_array($1::bigint)) OR j.args @> jsonb_build_object('notification_id', $1::bigint))
			ORDER BY j.id DESC LIMIT 1)`
	sqlActiveNotifyJob = `SELECT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'postern.notify' AND j.state IN ('available', 'running', 'pending')
		AND (j.args @> jsonb_build_object('notification_ids', jsonb_build_array($1::bigint)) OR j.args @> jsonb_build_object('notification_id', $1::bigint)))`
	sqlCancelNotification = `UPDATE notifications SET state = 'cancelled', error = 'cancelled by the operator' WHERE id = $1 AND state = 'pending'`
)

// OutboxFilter selects the notifications ListOutbox returns.
type OutboxFilter int

const (
	OutboxAll     OutboxFilter = iota // every notification
	OutboxPending                     // waiting to be sent (or retried)
	OutboxFailed                      // refused for good, or given up
)

// OutboxEntry is one notification as `postern outbox list` shows it: the
// recipient by person id, never by address; the error has every
// address-like text removed (a relay's refusal often quotes the
// recipient).
type OutboxEntry struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	PostID    *int64     `json:"post_id"`
	PersonID  int64      `json:"person_id"`
	State     string     `json:"state"`
	Error     string     `json:"error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
	// Attempts is how many times its job ran (0: not yet, or the job is
	// gone: River deletes finished jobs after a day).
	Attempts int `json:"attempts"`
	// NextTry is when its job runs next; nil when none waits.
	NextTry *time.Time `json:"next_try"`
}

// ListOutbox returns the newest notifications filter selects, at most
// limit, newest first.
func (s *Store) ListOutbox(ctx context.Context, filter OutboxFilter, limit int) ([]OutboxEntry, error) {
	return queryList(ctx, s, "list outbox", sqlListOutbox, func(r pgx.CollectableRow) (OutboxEntry, error) {
		var e OutboxEntry
		err := r.Scan(&e.ID, &e.Kind, &e.PostID, &e.PersonID, &e.State, &e.Error, &e.CreatedAt, &e.SentAt, &e.Attempts, &e.NextTry)
		e.Error = redactAllAddresses(e.Error)
		return e, err
	}, int(filter), limit)
}

// ErrAlreadySent is returned when a notification to retry or cancel was
// sent already.
var ErrAlreadySent = errors.New("already sent")

// RetryNotification sends notification id again as soon as a worker is
// free: a failed or cancelled one becomes pending with a new job; a
// pending one whose job waits for its next try is made due now (or gets
// a new job when none carries it any more). All in one transaction.
func (s *Store) RetryNotification(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, sqlLockNotification, id).Scan(&state); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("notification %d: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("retry notification %d: %w", id, err)
		}
		if state == "sent" {
			return fmt.Errorf("notification %d: %w", id, ErrAlreadySent)
		}
		if state == "pending" {
			tag, err := tx.Exec(ctx, sqlHurryNotifyJob, id)
			if err != nil {
				return fmt.Errorf("retry notification %d: %w", id, err)
			}
			var active bool
			if err := tx.QueryRow(ctx, sqlActiveNotifyJob, id).Scan(&active); err != nil {
				return fmt.Errorf("retry notification %d: %w", id, err)
			}
			if tag.RowsAffected() > 0 || active {
				return nil
			}
		}
		if _, err := tx.Exec(ctx, sqlRepend, id); err != nil {
			return fmt.Errorf("retry notification %d: %w", id, err)
		}
		if _, err := s.jobs.InsertTx(ctx, tx, NotifyArgs{NotificationIDs: []int64{id}}, nil); err != nil {
			return fmt.Errorf("enqueue notification %d: %w", id, err)
		}
		return nil
	})
}

// CancelNotification stops pending notification id from being sent: its
// job skips it (a notification no longer pending is never sent).
func (s *Store) CancelNotification(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, sqlCancelNotification, id)
	if err != nil {
		return fmt.Errorf("cancel notification %d: %w", id, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var state string
	if err := s.pool.QueryRow(ctx, sqlNotificationState, id).Scan(&state); errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("notification %d: %w", id, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("cancel notification %d: %w", id, err)
	}
	if state == "sent" {
		return fmt.Errorf("notification %d: %w", id, ErrAlreadySent)
	}
	return fmt.Errorf("notification %d is %s, not pending", id, state)
}
