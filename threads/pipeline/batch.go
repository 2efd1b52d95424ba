package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/metrics"
	"github.com/postern/postern/threads"
)

// Batches: a processing job carries the messages one intake transaction
// stored together (threads.ProcessArgs.Batch). They are processed in one
// transaction (threads.Store.InboundBatchTx): each message goes through
// the same steps as alone, in id order, and the batch shares the commit,
// the loading of the rows, the marking of their outcomes and the jobs
// that send their notifications. When the batch fails for a reason the
// database gave (a message it refuses, a deadlock between two batches),
// nothing of it is kept and each message is processed again alone, so a
// message fails only itself; when the database is unreachable or the
// worker stops, the job's error makes River try it again later.

// batchLargest is the largest message a batch takes: a larger one is
// processed alone, so that its copies are collected before the next.
const batchLargest = 1 << 20

// itemResult is what became of one message of a job.
type itemResult struct {
	id    int64
	state string // "" when it is gone or failed
	err   error
}

// processItems processes the messages of one job, together when there
// are several small ones, and returns what became of each, with the
// first error met (nil when every message was processed).
func processItems(ctx context.Context, st *threads.Store, items []threads.ProcessItem, m *metrics.Set) ([]itemResult, error) {
	start := time.Now()
	if batchable(items) {
		res, err := processBatch(ctx, st, items)
		if err == nil {
			for _, r := range res {
				m.Processed(r.state, time.Since(start))
			}
			return res, nil
		}
		if ctx.Err() != nil || threads.DatabaseUnreachable(err) {
			m.Processed("error", time.Since(start))
			return nil, err
		}
		st.Log().Warn("processing batch failed; processing its messages alone", "messages", len(items), "first_inbound_id", items[0].ID, "err", scrubbedError{err})
	}
	return processAlone(ctx, st, items, m)
}

// batchable reports whether items are processed as a batch: each of a
// known size under batchLargest.
func batchable(items []threads.ProcessItem) bool {
	if len(items) == 0 {
		return false
	}
	for _, it := range items {
		if it.Size <= 0 || it.Size >= batchLargest {
			return false
		}
	}
	return true
}

// processAlone processes each of items in its own transaction, stopping
// at an unreachable database or a stopping worker.
func processAlone(ctx context.Context, st *threads.Store, items []threads.ProcessItem, m *metrics.Set) ([]itemResult, error) {
	res := make([]itemResult, 0, len(items))
	var first error
	for i, it := range items {
		start := time.Now()
		state, err := processInbound(ctx, st, it.ID, it.Size)
		res = append(res, itemResult{id: it.ID, state: state, err: err})
		if err != nil {
			m.Processed("error", time.Since(start))
			first = cmpErr(first, err)
			if ctx.Err() != nil || threads.DatabaseUnreachable(err) {
				for _, rest := range items[i+1:] {
					res = append(res, itemResult{id: rest.ID, err: err})
				}
				return res, first
			}
			continue
		}
		if state != "" {
			m.Processed(state, time.Since(start))
		}
	}
	return res, first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// processBatch processes items in one transaction (see above) within
// the memory budget, with the messages of waiting jobs it takes over
// (up to threads.MaxProcessBatch in all, as the budget allows), and logs
// each message's outcome once it committed.
func processBatch(ctx context.Context, st *threads.Store, items []threads.ProcessItem) ([]itemResult, error) {
	ids := make([]int64, len(items))
	mem, memCap := st.Memory()
	var weight int64
	for i, it := range items {
		ids[i] = it.ID
		weight += ProcessWeight*it.Size + processOverhead
	}
	weight = min(weight, memCap)
	if err := mem.Acquire(ctx, weight); err != nil {
		return nil, fmt.Errorf("process %d inbound messages: %w", len(ids), err)
	}
	defer func() { mem.Release(weight) }()
	take := func(jobs [][]threads.ProcessItem) int {
		n, count := 0, len(items)
		for _, job := range jobs {
			var w int64
			for _, it := range job {
				w += ProcessWeight*it.Size + processOverhead
			}
			if count+len(job) > threads.MaxProcessBatch || !mem.TryAcquire(w) {
				break
			}
			weight += w
			n, count = n+1, count+len(job)
		}
		return n
	}
	p := processor{st: st, cfg: st.Config()}
	var res []itemResult
	var outs []threads.Outcome
	err := st.InboundBatchTx(ctx, ids, take, func(tx *threads.Tx, in threads.Inbound) error {
		if in.State != threads.StateAccepted {
			res, outs = append(res, itemResult{id: in.ID, state: in.State}), append(outs, threads.Outcome{State: in.State})
			return nil
		}
		out, err := p.process(ctx, tx, &in)
		if err != nil {
			return err
		}
		res, outs = append(res, itemResult{id: in.ID, state: out.State}), append(outs, out)
		return tx.MarkInbound(ctx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("process %d inbound messages: %w", len(ids), err)
	}
	for i, r := range res {
		st.Log().Info("inbound processed", "inbound_id", r.id, "state", outs[i].State, "reason", outs[i].Reason, "post_id", outs[i].PostID)
	}
	return res, nil
}
