package mailout

import (
	"testing"
	"time"

	"github.com/postern/postern/threads"
)

func TestRetryDelay(t *testing.T) {
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{{1, 5 * time.Second}, {2, 10 * time.Second}, {4, 40 * time.Second}, {10, 2560 * time.Second}, {11, time.Hour}, {129, time.Hour}} {
		if got := RetryDelay(c.attempt); got != c.want {
			t.Errorf("RetryDelay(%d) = %v, want %v", c.attempt, got, c.want)
		}
	}
	var total time.Duration
	for a := 1; a < threads.SendMaxAttempts; a++ {
		total += RetryDelay(a)
	}
	if total < 4*24*time.Hour || total > 6*24*time.Hour {
		t.Errorf("%d attempts span %v, want about five days", threads.SendMaxAttempts, total)
	}
	for range 100 {
		d := time.Until(nextRetry(3))
		if d < 17*time.Second || d > 23*time.Second {
			t.Fatalf("nextRetry(3) in %v, want 20 s ± 10%%", d)
		}
	}
}
