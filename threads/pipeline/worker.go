package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/riverqueue/river"

	"github.com/postern/postern/internal/metrics"
	"github.com/postern/postern/threads"
)

// giveUpSnooze is how long the last attempt of a job waits before it
// runs again when the database is unreachable; it does so at most
// maxOutageSnoozes times (a day), so that an error wrongly taken for an
// outage cannot keep a message accepted for ever.
const (
	giveUpSnooze     = 10 * time.Minute
	maxOutageSnoozes = 144
)

// ProcessWorker is the River worker for threads.ProcessArgs. Log may be
// nil (slog.Default).
type ProcessWorker struct {
	river.WorkerDefaults[threads.ProcessArgs]
	Store *threads.Store
	Log   *slog.Logger
	// Metrics counts the messages processed by outcome (nil: not
	// counted).
	Metrics *metrics.Set
}

// Work processes the inbound messages of one job (one, or a batch:
// processItems). Errors are returned (and retried by River, with its
// exponential backoff) for failures the message does not decide, such as
// a lost database connection; a message that cannot become a post is
// marked ignored or failed instead. When the job's last attempt (its
// MaxAttempts) fails too, each message still failing is marked failed
// with the reason, for `postern inbound list --failed` and `postern
// inbound retry`; but a last attempt that failed because the database is
// unreachable, or because the worker is stopping, is snoozed (River does
// not count a snooze as an attempt; an outage gets at most a day of
// snoozes more) rather than turned into a failure. A retried job skips
// the messages an earlier attempt processed (they are no longer
// accepted).
func (w *ProcessWorker) Work(ctx context.Context, job *river.Job[threads.ProcessArgs]) error {
	items := job.Args.Items()
	res, err := processItems(ctx, w.Store, items, w.Metrics)
	if err == nil {
		return nil
	}
	// River logs and keeps the error's text: never with an address.
	err = scrubbedError{err}
	if job.Attempt < job.MaxAttempts {
		return err
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return river.JobSnooze(0) // stopping: try again at the next start
	}
	// A job that ran out of its time (JobTimeout) failed by itself, even
	// though its error reads as a timeout.
	canSnooze := ctx.Err() == nil && snoozes(job.Metadata) < maxOutageSnoozes
	if canSnooze && threads.DatabaseUnreachable(err) {
		w.log().Warn("last processing attempt failed with the database unreachable; trying again later",
			"inbound_id", items[0].ID, "messages", len(items), "attempt", job.Attempt, "err", err)
		return river.JobSnooze(giveUpSnooze)
	}
	if res == nil { // the batch failed as a whole
		for _, it := range items {
			res = append(res, itemResult{id: it.ID, err: err})
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, r := range res {
		if r.err == nil {
			continue
		}
		reason := fmt.Sprintf("processing failed %d times; last error: %s", job.Attempt, scrubbedError{r.err}.Error())
		if ferr := w.Store.FailInbound(fctx, r.id, job.Attempt, reason); ferr != nil {
			w.log().Error("cannot mark inbound failed after its last attempt", "inbound_id", r.id, "err", scrubbedError{ferr})
			if canSnooze && threads.DatabaseUnreachable(ferr) {
				return river.JobSnooze(giveUpSnooze)
			}
		}
	}
	return err
}

func (w *ProcessWorker) log() *slog.Logger {
	if w.Log == nil {
		return slog.Default()
	}
	return w.Log
}

// snoozes returns how many times River snoozed a job, from its metadata.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if len(metadata) == 0 || json.Unmarshal(metadata, &m) != nil {
		return 0
	}
	return m.Snoozes
}

// addressLike matches a word with an @ in it: an address, or what may be
// one.
var addressLike = regexp.MustCompile(`[^\s<>"'()\[\],;:]*@[^\s<>"'()\[\],;:]*`)

// scrubbedError is an error whose text has its address-like words
// replaced (see scrubAddresses); errors.Is and errors.As see the original.
type scrubbedError struct{ err error }

func (e scrubbedError) Error() string { return scrubAddresses(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

// scrubAddresses replaces what looks like an address in s.
func scrubAddresses(s string) string {
	return addressLike.ReplaceAllString(s, "[address removed]")
}
