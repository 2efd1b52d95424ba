package mailout

import (
	"context"
	"slices"
	"sync"
)

// sentLedger remembers, in the process, the notifications the relay
// accepted whose "sent" mark could not be written (the database did not
// answer). Until the mark is written, a retried job skips them instead of
// sending them again, and NotifyWorker.FlushSent writes their mark when
// the database answers again. Only a crash of the process between the
// relay's acceptance and the mark can still send one twice (with the same
// Message-ID); the marking window bounds that to markEvery messages per
// sending job (NotifyWorker, sentMarker). The zero value is empty and
// ready.
type sentLedger struct {
	mu  sync.Mutex
	ids map[int64]struct{}
}

// add remembers ids as accepted by the relay and not marked.
func (l *sentLedger) add(ids []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = make(map[int64]struct{}, len(ids))
	}
	for _, id := range ids {
		l.ids[id] = struct{}{}
	}
}

// has reports whether id was accepted by the relay and is not marked yet.
func (l *sentLedger) has(id int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ids[id]
	return ok
}

// pending returns the remembered ids, in increasing order.
func (l *sentLedger) pending() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, 0, len(l.ids))
	for id := range l.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// forget drops ids once their mark is written.
func (l *sentLedger) forget(ids []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		delete(l.ids, id)
	}
}

// FlushSent writes the "sent" mark of every notification the relay
// accepted whose mark an earlier attempt could not write, and returns the
// number marked. The app calls it on a timer and once at shutdown; every
// job calls it first. An error leaves them remembered for the next call.
func (w *NotifyWorker) FlushSent(ctx context.Context) (int, error) {
	ids := w.sent.pending()
	if len(ids) == 0 {
		return 0, nil
	}
	if err := w.Store.MarkSentMany(ctx, ids); err != nil {
		return 0, err
	}
	w.sent.forget(ids)
	w.Log.Info("remembered notifications marked sent", "count", len(ids))
	return len(ids), nil
}
