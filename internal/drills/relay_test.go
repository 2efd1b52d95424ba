package drills

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtptest"
)

// TestDrillRelay (drill 3): the relay first answers 451 after DATA to
// the first try of about half the notifications (so batches mix accepted
// and deferred ones), then
// refuses one member's address for good (550) and accepts the rest. The
// deferred ones are delivered by the retries, none twice; the refused
// address is suppressed after its hard bounces and sent nothing more.
func TestDrillRelay(t *testing.T) {
	n, conc := 400, 10
	if full {
		n, conc = 3000, 20
	}
	start := time.Now()
	w := newWorld(t)
	insts := []*instance{w.startInstance("a"), w.startInstance("b")}
	w.confirmMembers(insts[0])
	// Each message's first delivery of every other Message-ID is deferred
	// after DATA: the retry a second later delivers it.
	var deferred sync.Map
	var nDeferred atomic.Int64
	w.relay.SetData(func(m smtptest.Message) *smtp.SMTPError {
		id := messageIDOf(m)
		if _, again := deferred.LoadOrStore(id, true); !again && len(id)%2 == 0 {
			nDeferred.Add(1)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later (drill)"}
		}
		return w.ids.data(m)
	})
	l := &load{name: "relay", targets: targets(insts), retryIn: 50 * time.Millisecond}
	first := startLoad(t, l, n/2, conc)
	<-first
	w.drain(5 * time.Minute)
	w.relay.SetData(w.ids.data)
	refused := asker(0)
	var refusedRcpts atomic.Int64
	w.relay.SetRcpt(func(to string, _ int) *smtp.SMTPError {
		if to == refused {
			refusedRcpts.Add(1)
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user (drill)"}
		}
		return nil
	})
	second := &load{name: "relay2", targets: targets(insts), retryIn: 50 * time.Millisecond}
	<-startLoad(t, second, n/2, conc)
	w.drain(5 * time.Minute)
	l.sent.Add(second.sent.Load())
	l.ok.Add(second.ok.Load())
	l.temp.Add(second.temp.Load())
	l.perm.Add(second.perm.Load())
	l.okIDs = append(l.okIDs, second.accepted()...)
	r := w.tallyRefusing(result{Drill: "3 relay deferring and refusing", Load: fmt.Sprintf("%d questions, c=%d, 2 instances", n, conc),
		Faults: fmt.Sprintf("451 after DATA to the first try of %d notifications, then 550 for one member (excluded from the counts)", nDeferred.Load()), Took: time.Since(start)},
		l, insts, false, "Asker 0")
	if nDeferred.Load() == 0 {
		t.Error("the relay deferred nothing")
	}
	_ = r
	// Two hard bounces suppress the address (threads.BounceThreshold); a
	// few more may be in jobs loaded before the second one counted.
	var states map[string]int = map[string]int{}
	rows, err := w.pool.Query(context.Background(), `SELECT n.state, count(*) FROM notifications n JOIN people p ON p.id = n.person_id
		WHERE p.display_name = 'Asker 0' GROUP BY n.state`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var c int
		if err := rows.Scan(&s, &c); err != nil {
			t.Fatal(err)
		}
		states[s] = c
	}
	rows.Close()
	t.Logf("the refused member's notifications: %v; RCPTs the relay refused: %d", states, refusedRcpts.Load())
	if got := refusedRcpts.Load(); got == 0 || got > 2+2*int64(len(insts)) {
		t.Errorf("the relay was asked %d times for the refused address, want 2 hard bounces (and at most one more per worker)", got)
	}
	if states["cancelled"] == 0 {
		t.Errorf("no notification of the refused member was cancelled after suppression: %v", states)
	}
}
