package mailout

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/postern/postern/threads"
)

// Retry backoff of the jobs that send mail: the first retry after
// retryFirst, each next one after twice as long, never more than
// retryMax apart, each ±10% so that jobs failed together do not come back
// together. A relay that was down for a minute has its notifications
// within a minute of its return (River's default, attempt⁴ seconds, would
// leave a job that failed four times waiting four minutes and more).
const (
	retryFirst = 5 * time.Second
	retryMax   = time.Hour
)

// RetryDelay is the wait after a job's attempt-th failed attempt
// (attempt ≥ 1), before jitter.
func RetryDelay(attempt int) time.Duration {
	d := retryFirst
	for i := 1; i < attempt && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// nextRetry is the time of the retry after the job's attempt-th failure.
func nextRetry(attempt int) time.Time {
	d := RetryDelay(attempt)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d + jitter)
}

// NextRetry implements river.Worker: see RetryDelay.
func (w *NotifyWorker) NextRetry(job *river.Job[threads.NotifyArgs]) time.Time {
	return nextRetry(job.Attempt)
}

// NextRetry implements river.Worker: see RetryDelay.
func (w *ForwardWorker) NextRetry(job *river.Job[threads.ForwardArgs]) time.Time {
	return nextRetry(job.Attempt)
}
