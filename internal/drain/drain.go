// Package drain lets a test wait until Postern's queues are empty, so that
// a check that something did NOT happen (no mail sent, no notification)
// looks at the end state instead of after a guessed pause.
//
// Drained means, read in one statement (one snapshot): River's river_job
// table holds no job of the given kinds that can still run (states
// available, running, retryable, scheduled, pending), and no row of the
// inbound table is still waiting to be processed (state 'accepted'). A
// job's follow-up jobs are inserted in its own transaction before it
// leaves 'running', and a message's row and its process job are
// committed together, so nothing is in flight between the two.
package drain

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultTimeout is how long Wait waits when given 0: ample for a loaded
// machine under the race detector.
const DefaultTimeout = 30 * time.Second

// poll is the interval between two looks at the tables.
const poll = 20 * time.Millisecond

// remainingSQL counts the inbound messages not yet processed and the jobs
// of the kinds $1 that may still run (River's non-final states).
const remainingSQL = `SELECT
	(SELECT count(*) FROM inbound WHERE state = 'accepted'),
	(SELECT count(*) FROM river_job WHERE kind = ANY($1)
		AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))`

// Remaining returns how many inbound messages are still to be processed
// and how many jobs of kinds can still run.
func Remaining(ctx context.Context, pool *pgxpool.Pool, kinds ...string) (inbound, jobs int, err error) {
	if err := pool.QueryRow(ctx, remainingSQL, kinds).Scan(&inbound, &jobs); err != nil {
		return 0, 0, fmt.Errorf("drain: count work left: %w", err)
	}
	return inbound, jobs, nil
}

// Wait returns once the database behind pool is drained for kinds (River
// job kinds; at least one), failing t if that takes longer than timeout
// (DefaultTimeout when 0). A scheduled retry counts as work left, so a
// test whose relay refused a message waits out the retry.
func Wait(t testing.TB, pool *pgxpool.Pool, timeout time.Duration, kinds ...string) {
	t.Helper()
	if len(kinds) == 0 {
		t.Fatal("drain: Wait needs the job kinds to wait for")
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		inbound, jobs, err := Remaining(ctx, pool, kinds...)
		switch {
		case err != nil && ctx.Err() == nil:
			t.Fatal(err)
		case err == nil && inbound == 0 && jobs == 0:
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("drain: not drained within %v: %d inbound messages to process, %d jobs of %v left", timeout, inbound, jobs, kinds)
		}
	}
}
