package threads

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestReady: a fresh store is ready; a job due for longer than the limit
// makes its queue stuck, named in the error; a schema behind the binary's
// migrations is ErrSchemaOld; a check added by AddReadyCheck that fails
// is the error.
func TestReady(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	if err := st.Ready(ctx, time.Minute); err != nil {
		t.Fatalf("fresh store: %v", err)
	}
	// A job nobody took for 11 minutes (the store's River client inserts
	// only, so nothing works it).
	_, err := st.pool.Exec(ctx, `INSERT INTO river_job (kind, args, queue, state, scheduled_at, max_attempts, priority)
		VALUES ('postern.notify', '{}', $1, 'available', now() - interval '11 minutes', 1, 1)`, QueueNotify)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ready(ctx, 10*time.Minute); !errors.Is(err, ErrQueueStuck) || !strings.Contains(err.Error(), "notify queue") {
		t.Errorf("with a job due 11 minutes ago: %v, want ErrQueueStuck naming the notify queue", err)
	}
	if err := st.Ready(ctx, 20*time.Minute); err != nil {
		t.Errorf("with a job due 11 minutes ago and a 20-minute limit: %v", err)
	}
	down := errors.New("IMAP mailbox not connected: imap.example.org:993/INBOX for 6m0s (failing at login)")
	var checked int
	st.AddReadyCheck(func() error { checked++; return nil })
	st.AddReadyCheck(func() error { return down })
	if err := st.Ready(ctx, 20*time.Minute); err != down || checked != 1 {
		t.Errorf("with a failing ready check: %v (first check run %d times), want the check's error", err, checked)
	}
	if _, err := st.pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	if err := st.Ready(ctx, 20*time.Minute); err != ErrSchemaOld {
		t.Errorf("schema one migration behind: %v, want ErrSchemaOld", err)
	}
}
