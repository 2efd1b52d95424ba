package drills

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// loadTimeout bounds a drill's load: a message not stored by then is
// counted as given up (and fails the drill).
const loadTimeout = 15 * time.Minute

// targets returns the instances' SMTP addresses.
func targets(insts []*instance) func() []string {
	return func() []string {
		out := make([]string, len(insts))
		for i, in := range insts {
			in.mu.Lock()
			out[i] = in.smtp
			in.mu.Unlock()
		}
		return out
	}
}

// startLoad runs l in the background; the channel closes when it is done.
func startLoad(t *testing.T, l *load, n, conc int) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		l.run(ctx, n, conc)
	}()
	t.Cleanup(func() { <-done })
	return done
}

// waitProgress waits until the load has finished with at least n
// messages, or is done.
func waitProgress(l *load, n int, done <-chan struct{}) {
	for l.done.Load() < int64(n) {
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestDrillCrash (drill 1): two instances under load, each SIGKILLed at
// random moments and restarted. Nothing answered 250 is lost; the only
// duplicates allowed are notifications the relay accepted just before a
// kill (the documented window), counted in the table.
func TestDrillCrash(t *testing.T) {
	n, conc, kills := 400, 10, 2
	if full {
		n, conc, kills = 20000, 20, 5
	}
	start := time.Now()
	w := newWorld(t)
	insts := []*instance{w.startInstance("a"), w.startInstance("b")}
	w.confirmMembers(insts[0])
	l := &load{name: "crash", targets: targets(insts), retryIn: 50 * time.Millisecond}
	done := startLoad(t, l, n, conc)
	rng := rand.New(rand.NewPCG(14, 1))
	faults := kills * len(insts)
	for k := range faults {
		waitProgress(l, (k+1)*n/(faults+1), done)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // a random moment
		in := insts[k%len(insts)]
		in.kill()
		in.start()
	}
	<-done
	w.drain(5 * time.Minute)
	w.tally(result{Drill: "1 crash under load", Load: fmt.Sprintf("%d questions, c=%d, 2 instances", n, conc),
		Faults: fmt.Sprintf("%d SIGKILL + restart", faults), Took: time.Since(start)}, l, insts, true)
}

// readyStatus returns the status of GET /readyz on addr (0: no answer).
func readyStatus(addr string) int {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady waits until /readyz on addr answers want, at most within.
func waitReady(addr string, want int, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if readyStatus(addr) == want {
			return true
		}
	}
	return false
}

// TestDrillDatabaseOutage (drill 2): PostgreSQL stopped in the middle of
// the load, then started. Senders get 4xx meanwhile (never a 5xx),
// readiness says 503, the instances reconnect without a restart, and
// afterwards nothing is missing and no notification was sent twice.
func TestDrillDatabaseOutage(t *testing.T) {
	n, conc, outage := 1000, 10, 5*time.Second
	if full {
		n, conc, outage = 3000, 20, 30*time.Second
	}
	start := time.Now()
	w := newWorld(t)
	insts := []*instance{w.startInstance("a"), w.startInstance("b")}
	w.confirmMembers(insts[0])
	l := &load{name: "outage", targets: targets(insts), retryIn: 200 * time.Millisecond}
	done := startLoad(t, l, n, conc)
	waitProgress(l, n/3, done)
	w.stopDatabase()
	if !waitReady(insts[0].http, http.StatusServiceUnavailable, 30*time.Second) {
		t.Error("/readyz did not answer 503 while the database was down")
	}
	time.Sleep(outage) // the outage
	w.startDatabase()
	<-done
	w.drain(5 * time.Minute)
	for _, in := range insts {
		if !in.running() {
			t.Errorf("instance %s exited during the outage:\n%s", in.name, in.logText())
		}
		if !waitReady(in.http, http.StatusOK, time.Minute) {
			t.Errorf("instance %s not ready a minute after the database returned", in.name)
		}
	}
	r := w.tally(result{Drill: "2 database outage", Load: fmt.Sprintf("%d questions, c=%d, 2 instances", n, conc),
		Faults: fmt.Sprintf("PostgreSQL stopped %v", outage), Took: time.Since(start)}, l, insts, false)
	if r.Retried == 0 {
		t.Error("no sender was refused during the outage: the load ended before it")
	}
}

// TestDrillDeploy (drill 4): each of two instances in turn SIGTERMed and
// started again under load: each exits 0, no sender sees a 5xx, nothing
// is lost and no notification is sent twice.
func TestDrillDeploy(t *testing.T) {
	n, conc := 600, 10
	if full {
		n, conc = 5000, 20
	}
	start := time.Now()
	w := newWorld(t)
	insts := []*instance{w.startInstance("a"), w.startInstance("b")}
	w.confirmMembers(insts[0])
	l := &load{name: "deploy", targets: targets(insts), retryIn: 50 * time.Millisecond}
	done := startLoad(t, l, n, conc)
	for k, in := range insts {
		waitProgress(l, (k+1)*n/3, done)
		if st := in.term(); !st.Success() {
			t.Errorf("instance %s exited with %v on SIGTERM:\n%s", in.name, st, in.logText())
		}
		in.start()
	}
	<-done
	w.drain(5 * time.Minute)
	w.tally(result{Drill: "4 deploy under load", Load: fmt.Sprintf("%d questions, c=%d, 2 instances", n, conc),
		Faults: "SIGTERM + restart of each instance in turn", Took: time.Since(start)}, l, insts, false)
}
