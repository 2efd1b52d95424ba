package pipeline

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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

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
	keys, err := threads.DeriveKeys([]byte(strings.Repeat("k", 32)), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := &ProcessWorker{Store: threads.NewStore(pool, testConfig(nil), keys, threads.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})}
	job := func(attempt int, metadata string) *river.Job[threads.ProcessArgs] {
		return &river.Job[threads.ProcessArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 3, Metadata: []byte(metadata)}, Args: threads.ProcessArgs{InboundID: 1}}
	}
	var snooze *river.JobSnoozeError
	if err := w.Work(ctx, job(2, "{}")); err == nil || errors.As(err, &snooze) || !threads.DatabaseUnreachable(err) {
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
	for errs := 1; errs < testConfig(nil).ProcessMaxAttempts; errs++ {
		row := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, errs-1)}
		lo := time.Duration(1<<63 - 1)
		for range 50 {
			lo = min(lo, time.Until(policy.NextRetry(row)))
		}
		shortest += lo
	}
	t.Logf("%d attempts span at least %v", testConfig(nil).ProcessMaxAttempts, shortest.Round(time.Minute))
	if shortest < 12*time.Hour {
		t.Errorf("%d attempts span %v, want at least 12h", testConfig(nil).ProcessMaxAttempts, shortest)
	}
}

func TestScrubAddresses(t *testing.T) {
	err := scrubbedError{fmt.Errorf("insert person: %w", errors.New(`duplicate key "Sam <sam@example.org>"`))}
	if got, want := err.Error(), `insert person: duplicate key "Sam <[address removed]>"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// testConfig is the store configuration of these tests (storetest.Config).
func testConfig(secret []byte) threads.Config { return storetest.Config(secret) }
