package drills

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrillRelayDown (drill 3, its first part): the relay refuses
// connections for a while in the middle of the load (nothing listens on
// its port), then comes back. The notifications due meanwhile are
// retried with backoff and delivered after the recovery, none lost, none
// twice.
func TestDrillRelayDown(t *testing.T) {
	n, conc, down := 300, 10, 5*time.Second
	if full {
		n, conc, down = 2000, 20, 60*time.Second
	}
	start := time.Now()
	w := newWorld(t)
	p := newRelayProxy(t, w.relay.Addr())
	in := w.startInstance("a", "--relay-url", "smtp://"+p.addr+"?starttls=no")
	w.confirmMembers(in)
	l := &load{name: "relaydown", targets: targets([]*instance{in}), retryIn: 50 * time.Millisecond}
	done := startLoad(t, l, n, conc)
	waitProgress(l, n/3, done)
	mark := len(in.logText())
	p.stop()
	time.Sleep(down)
	refused := strings.Count(in.logText()[mark:], "connection refused")
	p.start()
	<-done
	// A job that failed during the outage waits for its backoff
	// (mailout.RetryDelay: 5, 10, 20, 40 s…): the first retry after the
	// relay's return sends it, so the queue drains within about a minute.
	w.drainOr(3*time.Minute, func() { t.Logf("instance log:\n%s", lastLines(in.logText(), 60)) })
	w.tally(result{Drill: "3 relay down", Load: fmt.Sprintf("%d questions, c=%d", n, conc),
		Faults: fmt.Sprintf("the relay refused connections for %v (%d refusals logged)", down, refused), Took: time.Since(start)},
		l, []*instance{in}, false)
	if refused == 0 {
		t.Error("no connection to the relay was refused: the outage did not bite")
	}
}

// relayProxy forwards connections on addr to the relay; stopped, nothing
// listens on addr (connections are refused).
type relayProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
}

func newRelayProxy(t *testing.T, target string) *relayProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &relayProxy{t: t, addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *relayProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *relayProxy) forward(c net.Conn) {
	defer c.Close()
	r, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer r.Close()
	go func() { _, _ = io.Copy(r, c) }()
	_, _ = io.Copy(c, r)
}

// stop closes the listener: connections to addr are refused.
func (p *relayProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// start listens on addr again.
func (p *relayProxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("relay proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
