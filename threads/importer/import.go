package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/threads"
)

// Mbox imports a mailing-list archive into st: every message of r becomes
// a post, threaded as JWZ's algorithm does (see docs/ARCHITECTURE.md):
// under the nearest of its In-Reply-To/References ids already imported or
// known to the forum, else beside a message that named the same missing
// parent, else, for a reply-looking subject, in the latest imported
// question with that base subject, else as a new question. Bodies are
// extracted, trimmed and redacted exactly as for mail received live.
// Senders become unconfirmed people; nobody is notified and no job is
// queued. Posts are visible and dated by their Date header.
//
// Messages are parsed in parallel (Workers) and committed in mailbox order
// in transactions of BatchSize messages with COPY. Memory does not grow
// with the mailbox: a few batches of messages and bounded caches. A
// message whose Message-ID is already indexed is counted as a duplicate,
// so an interrupted import can be run again; a message without a
// Message-ID gets one from the hash of its bytes. At the end, questions
// whose missing parent has since been imported are moved under it.
//
// The caller owns r. On error (or when ctx ends) the batches committed so
// far stay, and the returned stats count them.
func Mbox(ctx context.Context, st *threads.Store, r *mbox.Reader, opts Options) (Stats, error) {
	return Import(ctx, st, r, opts)
}

// Source is a mailbox to import: an *mbox.Reader, or a
// maildir.Reader. Next returns the next message (io.EOF after the last;
// an *mbox.OversizeError for one too large, after which Next may be
// called again); Offset is how far into the mailbox the messages read so
// far reach (bytes); Garbage the bytes skipped before the first message.
type Source interface {
	Next() (*mbox.Message, error)
	Offset() int64
	Garbage() int64
}

// Import is Mbox for any Source: the same threading, deduplication,
// batching and statistics, whatever holds the messages.
func Import(ctx context.Context, st *threads.Store, r Source, opts Options) (Stats, error) {
	opts = opts.withDefaults()
	imp, err := newImporter(ctx, st, opts)
	if err != nil {
		return Stats{Skipped: map[string]int64{}}, err
	}
	prep := newPreparer(st)
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job, 2*opts.Workers)
	results := make(chan *item, 2*opts.Workers)
	// Bounds the mail read but not yet committed.
	sem := semaphore.NewWeighted(3 * batchBytes)

	g.Go(func() error {
		defer close(jobs)
		return readJobs(gctx, r, sem, jobs, imp.log)
	})
	var parsing sync.WaitGroup
	for range opts.Workers {
		parsing.Add(1)
		g.Go(func() error {
			defer parsing.Done()
			return prep.run(gctx, jobs, results)
		})
	}
	go func() {
		parsing.Wait()
		close(results)
	}()
	g.Go(func() error { return imp.commitInOrder(gctx, results, sem, opts) })
	if err := g.Wait(); err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	return imp.finish(ctx)
}

// job is one message read from the mailbox, in order.
type job struct {
	seq     int64
	end     int64 // mailbox offset after it
	garbage int64 // bytes skipped before the first message
	weight  int64 // its share of the read-ahead budget
	msg     *mbox.Message
	skip    string // set when it was not readable
}

// readJobs reads r to its end and sends each message to jobs, numbered in
// mailbox order, once its weight is acquired from sem (released when its
// batch is committed). An oversize message is sent without its bytes, to
// be counted as skipped.
func readJobs(ctx context.Context, r Source, sem *semaphore.Weighted, jobs chan<- job, log *slog.Logger) error {
	for seq := int64(0); ; seq++ {
		m, err := r.Next()
		j := job{seq: seq, end: r.Offset(), garbage: r.Garbage()}
		var over *mbox.OversizeError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &over):
			log.Warn("import: message skipped", "offset", over.Offset, "bytes", over.Size, "reason", skipOversize)
			j.skip = skipOversize
		case err != nil:
			return fmt.Errorf("read mailbox: %w", err)
		default:
			j.msg = m
		}
		j.weight = 1024
		if m != nil {
			j.weight = min(int64(len(m.Raw))+1024, batchBytes)
		}
		if err := sem.Acquire(ctx, j.weight); err != nil {
			return err
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run prepares the jobs until there are none left, sending each result.
func (p *preparer) run(ctx context.Context, jobs <-chan job, results chan<- *item) error {
	for j := range jobs {
		it := p.prepare(j)
		select {
		case results <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// commitInOrder commits the prepared messages, which come in any order,
// in mailbox order, in batches of at most opts.BatchSize messages and
// batchBytes, releasing each batch's weight in sem once it is committed
// and reporting opts.Progress.
func (imp *importer) commitInOrder(ctx context.Context, results <-chan *item, sem *semaphore.Weighted, opts Options) error {
	b := &batcher{imp: imp, sem: sem, progress: opts.Progress, idle: time.Now()}
	waiting := map[int64]*item{}
	var next int64
	for it := range results {
		waiting[it.seq] = it
		for {
			it, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			b.batch, b.weight = append(b.batch, it), b.weight+it.weight
			if len(b.batch) >= opts.BatchSize || b.weight >= batchBytes {
				if err := b.flush(ctx, len(waiting)); err != nil {
					return err
				}
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return b.flush(ctx, len(waiting))
}

// batcher is the batch being gathered in mailbox order.
type batcher struct {
	imp      *importer
	sem      *semaphore.Weighted
	progress func(Stats)
	batch    []*item
	weight   int64
	idle     time.Time // since the last commit ended
}

// flush commits the batch gathered so far (queued is the number of
// messages prepared ahead of it, for the log).
func (b *batcher) flush(ctx context.Context, queued int) error {
	if len(b.batch) == 0 {
		return nil
	}
	t0 := time.Now()
	err := b.imp.commit(ctx, b.batch)
	b.imp.log.Debug("import: batch committed", "messages", len(b.batch), "waited", t0.Sub(b.idle).Round(time.Millisecond),
		"took", time.Since(t0).Round(time.Millisecond), "queued", queued)
	b.idle = time.Now()
	b.sem.Release(b.weight)
	b.batch, b.weight = b.batch[:0], 0
	if err == nil && b.progress != nil {
		b.progress(b.imp.stats)
	}
	return err
}

// finish runs the end of an import once every batch is committed: posts
// move under the parents imported after them, and addresses of senders
// met later are redacted.
func (imp *importer) finish(ctx context.Context) (Stats, error) {
	questions, replies, err := imp.reparent(ctx)
	imp.stats.Reparented += questions
	imp.stats.Moved += replies
	if err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	n, err := imp.redactLate(ctx)
	imp.stats.Redacted = n
	if err != nil {
		return imp.stats, fmt.Errorf("import: %w", err)
	}
	return imp.stats, nil
}
