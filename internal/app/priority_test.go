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
	t0 := time.Now()
	var waited time.Duration
	err := p.Work(context.Background(), &rivertype.JobRow{Queue: queue}, func(context.Context) error {
		waited = time.Since(t0)
		return nil
	})
	if err != nil || waited == 0 {
		t.Fatalf("job of %s not worked: %v", queue, err)
	}
	return waited
}

// TestIntakePriority: while intake is busy a process or notify job waits,
// until intake is idle or for yieldMax at most (a backlog still drains
// under endless intake); an idle intake and other queues cost no wait.
func TestIntakePriority(t *testing.T) {
	var busy atomic.Bool
	p := &intakePriority{busy: busy.Load, max: 50 * time.Millisecond,
		queues: map[string]bool{threads.QueueProcess: true, threads.QueueNotify: true}}
	if w := workAfter(t, p, threads.QueueProcess); w > 5*time.Millisecond {
		t.Errorf("idle intake: waited %s", w)
	}
	busy.Store(true)
	if w := workAfter(t, p, threads.QueueNotify); w < 50*time.Millisecond || w > 500*time.Millisecond {
		t.Errorf("endless intake: waited %s, want the 50 ms bound", w)
	}
	if w := workAfter(t, p, river.QueueDefault); w > 5*time.Millisecond {
		t.Errorf("maintenance queue waited %s", w)
	}
	time.AfterFunc(10*time.Millisecond, func() { busy.Store(false) })
	if w := workAfter(t, p, threads.QueueProcess); w < 10*time.Millisecond || w > 45*time.Millisecond {
		t.Errorf("intake idle after 10 ms: waited %s", w)
	}
}
