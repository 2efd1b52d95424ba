package mailout

import (
	"context"
	"sync"
)

// sentMarker writes the "sent" marks of all the jobs of one NotifyWorker
// as group commits: an id the relay accepted is queued at once, and each
// UPDATE marks every id queued while the others ran. Up to markInFlight
// UPDATEs run at once (PostgreSQL flushes concurrent commits together),
// a second and later one only for at least markGroupMin ids, so that the
// number of UPDATEs follows the database's commit latency, not the number
// of messages or jobs: on a loaded machine each carries the ids of
// several jobs, and no job waits for a chunk to fill (docs/BENCHMARKS.md,
// fan-out).
//
// No goroutine outlives the queue: an id queued when an UPDATE may start
// starts one, and each ends when it finds nothing (or too little) to take.
// The zero value is ready.
type sentMarker struct {
	mu      sync.Mutex
	next    *markGroup // the ids waiting for the next UPDATE; nil: none
	running int        // UPDATEs in flight (goroutines of run)
}

// The marker's limits: at most markInFlight UPDATEs at once, and a second
// or later one only for markGroupMin ids or more.
const (
	markInFlight = 4
	markGroupMin = 5
)

// markGroup is the ids one UPDATE marks. done is closed once it is
// written or failed; err is then its outcome (the ids were remembered in
// the sentLedger on failure) and must be read only after done.
type markGroup struct {
	ids  []int64
	done chan struct{}
	err  error
}

// add queues id to be marked sent and returns the group that will carry
// it; write marks a group (w.markGroup).
func (m *sentMarker) add(id int64, write func([]int64) error) *markGroup {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == nil {
		m.next = &markGroup{done: make(chan struct{})}
	}
	g := m.next
	g.ids = append(g.ids, id)
	if m.startable(0) {
		m.running++
		go m.run(write)
	}
	return g
}

// startable reports whether an UPDATE may start for the queued ids, with
// self of the running ones asking (m.mu held).
func (m *sentMarker) startable(self int) bool {
	others := m.running - self
	return m.next != nil && others < markInFlight && (others == 0 || len(m.next.ids) >= markGroupMin)
}

// run writes queued groups until none can start, then ends.
func (m *sentMarker) run(write func([]int64) error) {
	for {
		m.mu.Lock()
		if !m.startable(1) {
			m.running--
			m.mu.Unlock()
			return
		}
		g := m.next
		m.next = nil
		m.mu.Unlock()
		g.err = write(g.ids)
		close(g.done)
	}
}

// markGroup marks ids sent, bounded by markTimeout whatever the jobs'
// contexts say (what was sent is marked, also at shutdown). When the
// database does not answer, the ids are remembered instead (sentLedger),
// so that no retry sends them again, and the error is returned.
func (w *NotifyWorker) markGroup(ids []int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
	defer cancel()
	if err := w.Store.MarkSentMany(ctx, ids); err != nil {
		w.sent.add(ids)
		w.Log.Warn("sent notifications not marked; remembered until the database answers", "count", len(ids), "err", err)
		return err
	}
	w.sent.forget(ids)
	return nil
}
