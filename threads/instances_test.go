package threads

import (
	"context"
	"testing"
	"time"
)

// TestRescueOrphans: a job running under an instance whose heartbeat
// stopped is made available again (discarded with no attempt left); one
// running under a live instance, or one River never saw registered, is
// left alone; a retired instance is gone.
func TestRescueOrphans(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	for _, id := range []string{"dead", "live", "gone"} {
		if err := st.Heartbeat(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.pool.Exec(ctx, `UPDATE instances SET heartbeat_at = now() - interval '1 minute' WHERE river_id = 'dead'`); err != nil {
		t.Fatal(err)
	}
	if err := st.Retire(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	job := func(by string, attempt, max int) int64 {
		var id int64
		err := st.pool.QueryRow(ctx, `INSERT INTO river_job (kind, args, queue, state, attempt, max_attempts, attempted_at, attempted_by, priority)
			VALUES ('postern.process', '{}', $1, 'running', $2, $3, now(), ARRAY['earlier', $4], 1) RETURNING id`, QueueProcess, attempt, max, by).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	orphan, last, live, unknown := job("dead", 1, 13), job("dead", 13, 13), job("live", 1, 13), job("never-registered", 1, 13)
	n, err := st.RescueOrphans(ctx, 15*time.Second)
	if err != nil || n != 2 {
		t.Fatalf("RescueOrphans = %d, %v; want 2 jobs", n, err)
	}
	for id, want := range map[int64]string{orphan: "available", last: "discarded", live: "running", unknown: "running"} {
		var state string
		if err := st.pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != want {
			t.Errorf("job %d is %s, want %s", id, state, want)
		}
	}
	var instances int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM instances WHERE river_id = 'gone'`).Scan(&instances); err != nil || instances != 0 {
		t.Errorf("retired instance still listed (%d, %v)", instances, err)
	}
}
