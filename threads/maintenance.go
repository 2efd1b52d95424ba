package threads

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
)

// MaintenanceArgs is the periodic River job that purges raw mail (and the
// records of refused IMAP messages) past its retention, discards held
// posts nobody confirmed and deletes ended web sessions.
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "postern.maintenance" }

// MaintenanceWorker runs MaintenanceArgs.
type MaintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	Store *Store
}

// Work implements river.Worker.
func (w *MaintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	purged, err := w.Store.PurgeRaw(ctx)
	if err != nil {
		return err
	}
	discarded, err := w.Store.DiscardHeld(ctx)
	if err != nil {
		return err
	}
	web, err := w.Store.PurgeWeb(ctx)
	if err != nil {
		return err
	}
	refused, err := w.Store.PurgeIMAPRefused(ctx)
	if err != nil {
		return err
	}
	stray, err := w.Store.DropStrayChunks(ctx)
	if err != nil {
		return err
	}
	if purged > 0 || discarded > 0 || web > 0 || refused > 0 || stray > 0 {
		w.Store.log.Info("maintenance", "purged_raw", purged, "discarded_held", discarded, "purged_web", web, "purged_imap_refused", refused,
			"dropped_stray_chunks", stray)
	}
	return nil
}

// sqlPurgeRaw purges the raw messages (whole or in chunks) processed more
// than $1 seconds ago and counts them.
const sqlPurgeRaw = `WITH p AS (UPDATE inbound SET sealed = NULL, chunks = NULL, message_id = '', mail_from_hash = NULL, purged_at = now()
		WHERE (sealed IS NOT NULL OR chunks IS NOT NULL) AND processed_at < now() - make_interval(secs => $1) RETURNING id),
	c AS (DELETE FROM inbound_chunks WHERE inbound_id IN (SELECT id FROM p))
	SELECT count(*) FROM p`

// PurgeRaw deletes the raw bytes (and the client Message-ID) of inbound
// messages processed more than RawRetention ago: the raw message contains
// addresses. The row itself (state, reason, post) stays.
func (s *Store) PurgeRaw(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, sqlPurgeRaw, s.cfg.RawRetention.Seconds()).Scan(&n); err != nil {
		return 0, fmt.Errorf("purge raw mail: %w", err)
	}
	return n, nil
}

// DiscardHeld hides posts still held HeldTTL after they arrived (their
// author never confirmed) and empties their text.
func (s *Store) DiscardHeld(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE posts SET state = 'hidden', body = '', elided = '', title = '', client_msgid = NULL
		WHERE state = 'held' AND created_at < now() - make_interval(secs => $1)`, s.cfg.HeldTTL.Seconds())
	if err != nil {
		return 0, fmt.Errorf("discard held posts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
