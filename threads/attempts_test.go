package threads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDatabaseUnreachable: an error from a database that cannot be
// reached is told apart from one the database answered with.
func TestDatabaseUnreachable(t *testing.T) {
	st := newTestStore(t)
	ctx := context.Background()
	_, connErr := pgx.Connect(ctx, "postgres://postern@"+deadAddr(t)+"/postern?connect_timeout=2")
	if connErr == nil {
		t.Fatal("connected to nothing")
	}
	_, sqlErr := st.pool.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
	if sqlErr == nil {
		t.Fatal("exception not raised")
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{connErr, true},
		{fmt.Errorf("lock inbound: %w", connErr), true},
		{sqlErr, false},
		{fmt.Errorf("insert post: %w", sqlErr), false},
		{errors.New("load thread chain: 1 of 2 posts missing"), false},
	} {
		if got := DatabaseUnreachable(c.err); got != c.want {
			t.Errorf("DatabaseUnreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestLastAttemptDuringOutage: the last processing attempt of a message,
// with the database unreachable, is snoozed (River does not count it as
// an attempt) instead of failing, a day of snoozes at most; an earlier
// attempt's error is returned for River's backoff.
func TestLastAttemptDuringOutage(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postern@"+deadAddr(t)+"/postern?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keys, err := DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &ProcessWorker{Store: NewStore(pool, testConfig(nil), keys, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})}
	job := func(attempt int, metadata string) *river.Job[ProcessArgs] {
		return &river.Job[ProcessArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 3, Metadata: []byte(metadata)}, Args: ProcessArgs{InboundID: 1}}
	}
	var snooze *river.JobSnoozeError
	if err := w.Work(ctx, job(2, "{}")); err == nil || errors.As(err, &snooze) || !DatabaseUnreachable(err) {
		t.Errorf("attempt 2 of 3: %v, want the connection error", err)
	}
	if err := w.Work(ctx, job(3, "{}")); !errors.As(err, &snooze) || snooze.Duration != giveUpSnooze {
		t.Errorf("attempt 3 of 3: %v, want a snooze of %v", err, giveUpSnooze)
	}
	if err := w.Work(ctx, job(3, fmt.Sprintf(`{"snoozes": %d}`, maxOutageSnoozes))); err == nil || errors.As(err, &snooze) {
		t.Errorf("attempt 3 of 3 after a day of snoozes: %v, want the error", err)
	}
}

// TestProcessRetrySpan: with River's default backoff, the default number
// of attempts retries for more than 12 hours (a night's database outage)
// before a message is marked failed, even with the backoff's jitter at
// its shortest.
func TestProcessRetrySpan(t *testing.T) {
	policy := &river.DefaultClientRetryPolicy{}
	var shortest time.Duration
	attempts := testConfig(nil).ProcessMaxAttempts
	for errs := 1; errs < attempts; errs++ {
		row := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, errs-1)}
		lo := time.Duration(1<<63 - 1)
		for range 50 {
			lo = min(lo, time.Until(policy.NextRetry(row)))
		}
		shortest += lo
	}
	t.Logf("%d attempts span at least %v", attempts, shortest.Round(time.Minute))
	if shortest < 12*time.Hour {
		t.Errorf("%d attempts span %v, want at least 12h", attempts, shortest)
	}
}
