package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/postern/postern/threads"
)

// workAfter runs one job of queue through p and returns how long it
// waited before it was worked; it fails unless the job was worked.
func workAfter(t *testing.T, p *intakePriority, queue string) time.Duration {
	t.Helper()
	return workCreated(t, p, queue, time.Now().Add(-time.Second))
}

// workCreated is workAfter for a job created at created.
func workCreated(t *testing.T, p *intakePriority, queue string, created time.Time) time.Duration {
	t.Helper()
	t0 := time.Now()
	var waited time.Duration
	err := p.Work(context.Background(), &rivertype.JobRow{Queue: queue, CreatedAt: created}, func(context.Context) error {
		waited = time.Since(t0)
		return nil
	})
	if err != nil || waited == 0 {
		t.Fatalf("job of %s not worked: %v", queue, err)
	}
	return waited
}

// TestIntakePriority: while intake is busy a process or notify job that
// waited in a backlog waits, until intake is idle or for the bound at
// most (a backlog still drains under endless intake); a job taken as
// soon as it was queued, an idle intake and other queues cost no wait.
func TestIntakePriority(t *testing.T) {
	var busy atomic.Bool
	p := &intakePriority{busy: busy.Load, max: 300 * time.Millisecond, age: 100 * time.Millisecond,
		queues: map[string]bool{threads.QueueProcess: true, threads.QueueNotify: true}}
	if w := workAfter(t, p, threads.QueueProcess); w > 60*time.Millisecond {
		t.Errorf("idle intake: waited %s", w)
	}
	busy.Store(true)
	if w := workAfter(t, p, threads.QueueNotify); w < 300*time.Millisecond || w > 2*time.Second {
		t.Errorf("endless intake: waited %s, want the 300 ms bound", w)
	}
	if w := workCreated(t, p, threads.QueueProcess, time.Now()); w > 60*time.Millisecond {
		t.Errorf("a job queued just now, intake busy: waited %s", w)
	}
	if w := workAfter(t, p, river.QueueDefault); w > 60*time.Millisecond {
		t.Errorf("maintenance queue waited %s", w)
	}
	time.AfterFunc(10*time.Millisecond, func() { busy.Store(false) })
	if w := workAfter(t, p, threads.QueueProcess); w < 10*time.Millisecond || w > 250*time.Millisecond {
		t.Errorf("intake idle after 10 ms: waited %s", w)
	}
}
