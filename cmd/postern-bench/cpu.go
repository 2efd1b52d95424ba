package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is where the machine's CPU time had gone at one moment: to
// Postern, to PostgreSQL (the postmaster and every backend, living or
// exited), to this harness (the load generator, the sink and the
// ceilings), and in all (every process on the machine).
type cpuSample struct {
	at                      time.Time
	postern, pg, harness    time.Duration
	pgBy                    map[string]time.Duration // pg by kind of process
	machineBusy, machineAll time.Duration
}

// cpuSplit is the CPU used between two samples.
type cpuSplit struct {
	wall                       time.Duration
	postern, pg, harness, busy time.Duration
	pgBy                       map[string]time.Duration
	cores                      float64 // the machine's capacity over wall, in core-seconds per second
}

// sampleCPU reads the counters; a counter it cannot read stays zero.
func (b *bench) sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	if b.proc != nil {
		s.postern, _ = b.proc.cpu()
	}
	if b.pg != nil {
		s.pg, s.pgBy, _ = clusterCPU(b.pg.DataDir())
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.harness = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.machineBusy, s.machineAll, _ = machineCPU()
	return s
}

// since returns the CPU used from s0 to s.
func (s cpuSample) since(s0 cpuSample) cpuSplit {
	c := cpuSplit{wall: s.at.Sub(s0.at), postern: s.postern - s0.postern, pg: s.pg - s0.pg,
		harness: s.harness - s0.harness, busy: s.machineBusy - s0.machineBusy}
	if c.wall > 0 {
		c.cores = float64(s.machineAll-s0.machineAll) / float64(c.wall)
	}
	c.pgBy = map[string]time.Duration{}
	for k, v := range s.pgBy {
		// A process that started after s0 counts from zero; one that
		// ended is in "exited" at s.
		c.pgBy[k] = v - s0.pgBy[k]
	}
	return c
}

// perMessage describes the split per message, e.g. "CPU per message:
// Postern 1.2 ms, PostgreSQL 2.3 ms, load generator 0.4 ms; machine 97% busy".
func (c cpuSplit) perMessage(n int64) string {
	if n <= 0 || c.wall <= 0 {
		return ""
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/float64(n))
	}
	s := fmt.Sprintf("CPU per message: Postern %s, PostgreSQL %s", per(c.postern), per(c.pg))
	var parts []string
	for _, k := range pgKinds {
		if d := c.pgBy[k]; d > c.pg/50 {
			parts = append(parts, k+" "+per(d))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	s += ", harness " + per(c.harness)
	if c.cores > 0 {
		others := max(0, c.busy-c.postern-c.pg-c.harness) // counters tick at 10 ms: never below 0
		s += fmt.Sprintf("; machine %.0f%% busy (others %.0f%%)", 100*float64(c.busy)/float64(c.wall)/c.cores,
			100*float64(others)/float64(c.wall)/c.cores)
	}
	return s
}

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

// statTimes returns utime+stime and cutime+cstime (the waited-for
// children's) from a /proc/PID/stat line, and its parent's pid.
func statTimes(line []byte) (own, children time.Duration, ppid int, err error) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return 0, 0, 0, errors.New("process stat: no command name")
	}
	// After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
	f := strings.Fields(string(line[i+1:]))
	if len(f) < 15 {
		return 0, 0, 0, errors.New("process stat: too few fields")
	}
	var v [4]int64
	for k := range v {
		if v[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("process stat: %w", err)
		}
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("process stat: %w", err)
	}
	tick := time.Second / clockTicks
	return time.Duration(v[0]+v[1]) * tick, time.Duration(v[2]+v[3]) * tick, ppid, nil
}

// pgKinds are the kinds of PostgreSQL process clusterCPU tells apart.
var pgKinds = []string{"sessions", "autovacuum", "WAL writer", "checkpointer", "background writer", "exited", "other"}

// pgKind names the kind of a PostgreSQL child process from its title.
func pgKind(title string) string {
	for _, k := range pgTitles {
		if strings.Contains(title, k.part) {
			return k.kind
		}
	}
	return "other"
}

// pgTitles maps a part of a PostgreSQL process title to its kind, first
// match first; a session's title holds its client's address.
var pgTitles = []struct{ part, kind string }{
	{"autovacuum", "autovacuum"},
	{"walwriter", "WAL writer"},
	{"checkpointer", "checkpointer"},
	{"background writer", "background writer"},
	{"127.0.0.1", "sessions"},
}

// clusterCPU is the CPU time of the PostgreSQL cluster in dataDir: the
// postmaster's own and its exited children's (autovacuum workers and
// closed sessions), plus every living child's, also by kind of process.
func clusterCPU(dataDir string) (time.Duration, map[string]time.Duration, error) {
	by := map[string]time.Duration{}
	pidFile, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, by, fmt.Errorf("postmaster pid: %w", err)
	}
	first, _, _ := strings.Cut(string(pidFile), "\n")
	master, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, by, fmt.Errorf("postmaster pid: %w", err)
	}
	line, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", master))
	if err != nil {
		return 0, by, fmt.Errorf("postmaster stat: %w", err)
	}
	own, exited, _, err := statTimes(line)
	if err != nil {
		return 0, by, err
	}
	by["other"], by["exited"] = own, exited
	total := own + exited
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total, by, fmt.Errorf("list processes: %w", err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		line, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		own, _, ppid, err := statTimes(line)
		if err != nil || ppid != master {
			continue
		}
		total += own
		title, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		by[pgKind(string(title))] += own
	}
	return total, by, nil
}

// machineCPU returns the machine's busy and total CPU time from /proc/stat
// (busy: everything but idle and iowait).
func machineCPU() (busy, all time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	var sum, idle int64
	for i, x := range f[1:] {
		if i >= 8 { // guest time is counted in user already
			break
		}
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		sum += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	tick := time.Second / clockTicks
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick, nil
}
