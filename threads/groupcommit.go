package threads

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Group commit: concurrent Accept calls share transactions. Each call
// prepares its sealed row and hands it to the group committer; a caller
// that finds fewer than maxInFlight batches committing becomes a leader,
// takes every row waiting (up to the batch limits) and commits them in
// one transaction (one multi-row INSERT, one job insert, one WAL flush).
// A caller that finds every slot busy waits: its row joins the next batch.
// An idle server therefore commits each message alone, at once, and a
// busy one amortises a commit over many: the durability contract is
// unchanged, every caller returns only after the commit that holds its
// row. (AcceptTx takes no part: its row commits with its caller's.)
const (
	// maxInFlight is how many intake transactions commit at once.
	maxInFlight = 4
	// maxBatchRows and maxBatchBytes bound one intake transaction. A
	// large message commits alone: sharing a commit saves nothing next to
	// writing its bytes, and the driver would encode the whole batch into
	// one buffer (which its connection then keeps).
	maxBatchRows  = 64
	maxBatchBytes = 1 << 20
	// batchTimeout bounds a batch whose callers have no deadline.
	batchTimeout = 30 * time.Second
)

// inboundInsert is one prepared inbound row.
type inboundInsert struct {
	dedup    []byte
	msgID    string
	fromHash []byte
	rcpt     []string
	ip       string
	peer     string // TCP peer when it is not the client (LMTP), else ""
	source   string
	keyID    int
	sealed   []byte
	size     int
}

// acceptReq is one caller's row and where its result goes.
type acceptReq struct {
	row      inboundInsert
	deadline time.Time // zero: none
	done     chan acceptResult
}

type acceptResult struct {
	res Accepted
	err error
}

// groupCommit queues rows for the intake transactions.
type groupCommit struct {
	mu       sync.Mutex
	pending  []*acceptReq
	inFlight int

	commits atomic.Int64 // intake transactions committed, for tests and metrics
	shared  atomic.Int64 // of those tried, how many held more than one row

	// active counts the Accept calls waiting for their commit, last is
	// when one last returned (UnixNano): the intake gauge (IntakeBusy).
	active atomic.Int64
	last   atomic.Int64
}

// IntakeBusy reports whether intake is committing messages: some Accept
// call is waiting for its commit, or one returned less than gap ago (a
// client with a kept connection sends its next message at once). The
// workers use it to give intake the CPU first (app's intake priority).
// AcceptTx takes no part.
func (s *Store) IntakeBusy(gap time.Duration) bool {
	g := &s.group
	return g.active.Load() > 0 || time.Now().UnixNano()-g.last.Load() < gap.Nanoseconds()
}

// accept commits row, alone or with the rows of concurrent callers, and
// returns once the transaction holding it has committed (or failed).
func (s *Store) accept(ctx context.Context, row inboundInsert) (Accepted, error) {
	req := &acceptReq{row: row, done: make(chan acceptResult, 1)}
	req.deadline, _ = ctx.Deadline()
	g := &s.group
	g.active.Add(1)
	defer func() { g.last.Store(time.Now().UnixNano()); g.active.Add(-1) }()
	g.mu.Lock()
	g.pending = append(g.pending, req)
	if g.inFlight < maxInFlight {
		g.inFlight++
		batch := g.takeLocked()
		g.mu.Unlock()
		s.commitBatches(batch)
	} else {
		g.mu.Unlock()
	}
	select {
	case r := <-req.done:
		return r.res, r.err
	case <-ctx.Done():
	}
	// Withdraw the row if no batch has taken it; otherwise its batch is
	// committing and decides the answer.
	g.mu.Lock()
	for i, p := range g.pending {
		if p == req {
			g.pending = append(g.pending[:i], g.pending[i+1:]...)
			g.mu.Unlock()
			return Accepted{}, fmt.Errorf("accept message: waiting to commit: %w", ctx.Err())
		}
	}
	g.mu.Unlock()
	r := <-req.done
	return r.res, r.err
}

// takeLocked removes the next batch from the pending rows. g.mu is held.
func (g *groupCommit) takeLocked() []*acceptReq {
	n, bytes := 0, 0
	for n < len(g.pending) && n < maxBatchRows {
		size := len(g.pending[n].row.sealed)
		if n > 0 && bytes+size > maxBatchBytes {
			break
		}
		bytes += size
		n++
	}
	batch := make([]*acceptReq, n)
	copy(batch, g.pending[:n])
	g.pending = append(g.pending[:0], g.pending[n:]...)
	return batch
}

// commitBatches commits batch, then, while rows are waiting, goes on with
// them in the background, so the caller that led the batch is answered
// as soon as its own transaction is done. It holds one in-flight slot.
func (s *Store) commitBatches(batch []*acceptReq) {
	s.commitBatch(batch)
	g := &s.group
	g.mu.Lock()
	if len(g.pending) == 0 {
		g.inFlight--
		g.mu.Unlock()
		return
	}
	next := g.takeLocked()
	g.mu.Unlock()
	go s.commitBatches(next)
}

// commitBatch commits the rows of batch in one transaction and answers
// each. When a transaction of several rows fails, each row is tried
// alone, so one row the database refuses does not fail its neighbours.
func (s *Store) commitBatch(batch []*acceptReq) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	if len(batch) > 1 {
		s.group.shared.Add(1)
	}
	res, err := s.insertInbound(ctx, batch)
	if err != nil && len(batch) > 1 && ctx.Err() == nil {
		for _, r := range batch {
			s.commitBatch([]*acceptReq{r})
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.done <- acceptResult{err: fmt.Errorf("accept message: %w", err)}
			continue
		}
		r.done <- acceptResult{res: res[i]}
	}
}

// batchContext returns a context ending at the latest deadline of the
// batch's callers (batchTimeout when one has none): a batch is abandoned
// only when nobody is waiting for it any more.
func batchContext(batch []*acceptReq) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		if r.deadline.IsZero() {
			latest = time.Now().Add(batchTimeout)
			break
		}
		if r.deadline.After(latest) {
			latest = r.deadline
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// insertInbound inserts the rows of batch and enqueues their processing
// in one transaction of its own.
func (s *Store) insertInbound(ctx context.Context, batch []*acceptReq) ([]Accepted, error) {
	rows := make([]inboundInsert, len(batch))
	for i, r := range batch {
		rows[i] = r.row
	}
	var out []Accepted
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.insertInboundTx(ctx, tx, rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.onCommit != nil {
		s.onCommit(len(rows))
	}
	s.group.commits.Add(1)
	return out, nil
}
