package drills

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrillHostileClients (drill 5): idle connections, slow senders, an
// oversized DATA stream, a RCPT flood, pipelined junk and every line-end
// combination around the final dot, all at once, beside a normal load:
// each hostile connection gets the right answer, the normal senders keep
// being served (every message accepted, p99 under a second), memory stays
// bounded and nothing is smuggled.
func TestDrillHostileClients(t *testing.T) {
	idle, slow, slowFor, big, rcpts, n := 100, 10, 5*time.Second, int64(64<<20), 2000, 200
	if full {
		idle, slow, slowFor, big, rcpts, n = 500, 50, 60*time.Second, int64(1<<30), 10000, 2000
	}
	start := time.Now()
	w := newWorld(t)
	const commandTimeout = 2 * time.Second
	in := w.startInstance("a", "--command-timeout", commandTimeout.String(), "--max-message-bytes", "5MiB",
		"--max-connections", "1000")
	w.confirmMembers(in)
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	hostile := func(what string, f func() string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p := f(); p != "" {
				mu.Lock()
				problems = append(problems, what+": "+p)
				mu.Unlock()
			}
		}()
	}
	// Each client address holds at most 5 connections (the cap is 10).
	local := func(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/200, 2+(i/5)%200) }
	for i := range idle {
		hostile("idle", func() string { return idleClient(in.smtp, local(i), commandTimeout) })
	}
	for i := range slow {
		hostile("slow", func() string { return slowClient(in.smtp, local(idle+i), slowFor/50, slowFor) })
	}
	k := idle + slow
	hostile("big", func() string { return bigClient(in.smtp, local(k), big) })
	hostile("rcpt flood", func() string { return rcptFlood(in.smtp, local(k+5), rcpts) })
	hostile("garbage", func() string { return garbageClient(in.smtp, local(k+10)) })
	for i, v := range dotVariants {
		hostile("dot", func() string { return smuggleClient(in.smtp, local(k+15+5*i), v) })
	}
	l := &load{name: "hostile", targets: targets([]*instance{in}), retryIn: 50 * time.Millisecond, timed: true}
	<-startLoad(t, l, n, 4)
	wg.Wait()
	w.drain(5 * time.Minute)
	for _, p := range problems {
		t.Error(p)
	}
	p99 := l.p99()
	if p99 > time.Second {
		t.Errorf("normal senders' p99 %v beside the hostile clients, want under 1s", p99)
	}
	peak := peakRSS(t, in.pid())
	if peak > 512<<20 {
		t.Errorf("peak RSS %d MiB, want under the 512 MiB memory limit", peak>>20)
	}
	if !in.running() {
		t.Fatalf("the instance died:\n%s", in.logText())
	}
	w.tally(result{Drill: "5 slow and hostile clients", Load: fmt.Sprintf("%d questions, c=4, beside the hostile clients; p99 %v, peak RSS %d MiB", n, p99.Round(time.Millisecond), peak>>20),
		Faults: fmt.Sprintf("%d idle, %d slow senders for %v, a %d MiB DATA, %d RCPTs, junk, %d dot variants", idle, slow, slowFor, big>>20, rcpts, len(dotVariants)),
		Took:   time.Since(start)}, l, []*instance{in}, false)
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// p99 is the 99th percentile of the load's message times (timed loads).
func (l *load) p99() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lat) == 0 {
		return 0
	}
	s := slices.Clone(l.lat)
	slices.Sort(s)
	return s[len(s)*99/100]
}
