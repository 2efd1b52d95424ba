package drills

import (
	"context"
	"strings"
	"time"
)

// drain waits until nothing is left to do: no received message still
// accepted, no notification pending, no processing or notification job
// that can still run. It fails the drill after within.
func (w *world) drain(within time.Duration) { w.t.Helper(); w.drainOr(within, nil) }

// drainOr is drain, calling report (when not nil) before failing.
func (w *world) drainOr(within time.Duration, report func()) {
	w.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		var accepted, pending, jobs int
		err := w.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inbound WHERE state = 'accepted'),
			(SELECT count(*) FROM notifications WHERE state = 'pending'),
			(SELECT count(*) FROM river_job WHERE queue IN ('process', 'notify') AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))`).
			Scan(&accepted, &pending, &jobs)
		if err == nil && accepted == 0 && pending == 0 && jobs == 0 {
			return
		}
		if time.Now().After(deadline) {
			if report != nil {
				report()
			}
			w.t.Fatalf("not drained after %v: %d messages accepted, %d notifications pending, %d jobs (err %v)", within, accepted, pending, jobs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tally counts, after drain, what the load and the instances did, and
// fails the drill on a lost message, a 5xx, a panic, a notification not
// sent, or (unless crashes make some unavoidable) a duplicate.
func (w *world) tally(r result, l *load, insts []*instance, duplicatesAllowed bool) result {
	return w.tallyRefusing(r, l, insts, duplicatesAllowed, "")
}

// tallyRefusing is tally for a drill whose relay refuses (5xx) the
// notifications of the member named refusedName: those end failed or
// cancelled (suppressed), every other one sent.
func (w *world) tallyRefusing(r result, l *load, insts []*instance, duplicatesAllowed bool, refusedName string) result {
	w.t.Helper()
	ctx := context.Background()
	r.Sent, r.OK, r.Refused5xx, r.Retried = int(l.sent.Load()), int(l.ok.Load()), int(l.perm.Load()), int(l.temp.Load())
	stored := map[string]bool{}
	rows, err := w.pool.Query(ctx, `SELECT message_id FROM inbound`)
	if err != nil {
		w.t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			w.t.Fatal(err)
		}
		stored[strings.Trim(id, "<>")] = true
	}
	rows.Close()
	r.Stored = len(stored)
	for _, id := range l.accepted() {
		if !stored[id] {
			r.Lost++
		}
	}
	err = w.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inbound WHERE state = 'processed'),
		(SELECT count(*) FROM notifications n JOIN people p ON p.id = n.person_id WHERE p.display_name <> $1 OR $1 = ''),
		(SELECT count(*) FROM notifications n JOIN people p ON p.id = n.person_id WHERE n.state = 'sent' AND (p.display_name <> $1 OR $1 = ''))`, refusedName).
		Scan(&r.Processed, &r.NotifyExpected, &r.NotifySent)
	if err != nil {
		w.t.Fatal(err)
	}
	r.Received, r.Duplicates = w.ids.counts()
	for _, in := range insts {
		r.Panics += strings.Count(in.logText(), "panic:")
	}
	record(r)
	w.t.Logf("%s: %+v", r.Drill, r)
	switch {
	case r.Lost != 0:
		w.t.Errorf("%d messages answered 250 are not stored", r.Lost)
	case r.OK != r.Sent:
		w.t.Errorf("%d of %d messages got their 250 (%d 5xx, %d given up)", r.OK, r.Sent, r.Refused5xx, l.gaveUp.Load())
	}
	if r.Panics != 0 {
		w.t.Errorf("%d panics in the instances' logs", r.Panics)
	}
	if r.Processed != r.Stored {
		w.t.Errorf("%d of %d stored messages processed", r.Processed, r.Stored)
	}
	if r.NotifySent != r.NotifyExpected || (refusedName == "" && r.NotifyExpected < r.Stored) {
		w.t.Errorf("%d of %d notifications sent (for %d questions)", r.NotifySent, r.NotifyExpected, r.Stored)
	}
	if r.Duplicates != 0 && !duplicatesAllowed {
		w.t.Errorf("the relay received %d notifications twice", r.Duplicates)
	}
	return r
}
