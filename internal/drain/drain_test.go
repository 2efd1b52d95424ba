package drain_test

import (
	"context"
	"testing"

	"github.com/postern/postern/internal/drain"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// TestRemaining: a job of a waited-for kind that can still run, and an
// inbound message not yet processed, keep the database undrained; final
// jobs and other kinds do not.
func TestRemaining(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := threadstest.Pool(t, threadstest.NewMigratedDatabase(t, "postern", threads.MigrateURL))
	count := func() (int, int) {
		t.Helper()
		in, jobs, err := drain.Remaining(ctx, pool, "k.wait")
		if err != nil {
			t.Fatal(err)
		}
		return in, jobs
	}
	if in, jobs := count(); in != 0 || jobs != 0 {
		t.Fatalf("fresh database: %d inbound, %d jobs", in, jobs)
	}
	insert := func(kind, state string) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO river_job (kind, queue, args, max_attempts, state, priority, scheduled_at, finalized_at)
			VALUES ($1, 'default', '{}', 25, $2::river_job_state, 1, now(), CASE WHEN $2::text IN ('completed', 'cancelled', 'discarded') THEN now() END)`, kind, state); err != nil {
			t.Fatal(err)
		}
	}
	insert("k.wait", "completed")
	insert("k.wait", "discarded")
	insert("k.other", "available")
	if _, jobs := count(); jobs != 0 {
		t.Fatalf("final jobs and other kinds counted: %d", jobs)
	}
	for _, st := range []string{"available", "running", "retryable", "scheduled"} {
		insert("k.wait", st)
	}
	if _, jobs := count(); jobs != 4 {
		t.Fatalf("%d runnable jobs counted, want 4", jobs)
	}
	if _, err := pool.Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE kind = 'k.wait'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO inbound (dedup_key, message_id, rcpt, source, key_id, size) VALUES ('\x01', 'm', '{}', 'smtp', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if in, jobs := count(); in != 1 || jobs != 0 {
		t.Fatalf("%d inbound to process, %d jobs: want 1, 0", in, jobs)
	}
	done := make(chan error, 1)
	go func() {
		_, err := pool.Exec(ctx, `UPDATE inbound SET state = 'processed'`)
		done <- err
	}()
	drain.Wait(t, pool, 0, "k.wait")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
