package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Postfix's load tools (Debian's postfix package; `make ensure-postfix`).
const (
	smtpSourceBin = "/usr/sbin/smtp-source"
	smtpSinkBin   = "/usr/sbin/smtp-sink"
)

// postfixRun is one smtp-source run: how many messages it was told to
// send, whether it finished (it aborts at the first reply that is not
// positive) and the wall time.
type postfixRun struct {
	sent    int
	ok      bool
	elapsed time.Duration
	out     string
}

func (p postfixRun) rate() float64 {
	if !p.ok || p.elapsed <= 0 {
		return 0
	}
	return float64(p.sent) / p.elapsed.Seconds()
}

// smtpSourceArgs are smtp-source's arguments for scenario 1's 4 KB c=10
// case: 10 sessions that keep their connection (-d), 4096 bytes of
// payload, count messages from from to to.
func smtpSourceArgs(addr, from, to string, count int) []string {
	return []string{"-d", "-s", "10", "-l", "4096", "-m", strconv.Itoa(count),
		"-M", "postern-bench.invalid", "-f", from, "-t", to, addr}
}

// runSMTPSource runs smtp-source against addr and times it.
func runSMTPSource(ctx context.Context, addr, from, to string, count int) (postfixRun, error) {
	cmd := exec.CommandContext(ctx, smtpSourceBin, smtpSourceArgs(addr, from, to, count)...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	r := postfixRun{sent: count, elapsed: time.Since(t0), out: string(out), ok: err == nil}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return r, fmt.Errorf("run smtp-source: %w", err)
	}
	return r, nil
}

// startSMTPSink starts Postfix's smtp-sink on a free loopback port and
// waits until it accepts connections; stop kills it.
func startSMTPSink(ctx context.Context) (addr string, stop func(), err error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(smtpSinkBin, "-u", "nobody", addr, "256")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start smtp-sink: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("smtp-sink on %s: not listening: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scenarioPostfix is scenario 9: Postfix's smtp-source against Postern
// and against Postfix's smtp-sink in the same run, 4 KB at 10 sessions
// (scenario 1's c=10 case), every message to one valid reply address.
// Postern's rate counts only when smtp-source finished, that is when
// every message was answered 250.
func scenarioPostfix(ctx context.Context, b *bench, r *report) error {
	for _, bin := range []string{smtpSourceBin, smtpSinkBin} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%s not found: `make ensure-postfix` installs Debian's postfix, which has it", bin)
		}
	}
	if err := b.targetsIdle(ctx); err != nil {
		return err
	}
	sinkN, posternN := 20000, 4000
	if b.opts.quick {
		sinkN, posternN = 2000, 500
	}
	sinkAddr, stop, err := startSMTPSink(ctx)
	if err != nil {
		return err
	}
	sink, err := runSMTPSource(ctx, sinkAddr, b.replier, b.target(0), sinkN)
	stop()
	if err != nil {
		return err
	}
	if !sink.ok {
		return fmt.Errorf("smtp-source against smtp-sink failed: %s", sink.out)
	}
	startID, err := b.maxInboundID(ctx)
	if err != nil {
		return err
	}
	pst, err := runSMTPSource(ctx, b.proc.addr, b.replier, b.target(0), posternN)
	if err != nil {
		return err
	}
	var stored int64
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM inbound WHERE id > $1`, startID).Scan(&stored); err != nil {
		return fmt.Errorf("count stored: %w", err)
	}
	r.add(postfixRow(pst, sink, stored, b.intake10, b.discard10))
	return b.waitIdle(ctx, 2*time.Minute)
}

// postfixRow is scenario 9's row: smtp-source's rate against Postern,
// against smtp-sink, their ratio, and beside it the harness's own ratio
// of scenario 1 (4 KB, c=10, processing running) when it ran.
func postfixRow(pst, sink postfixRun, stored int64, own, ownDiscard float64) row {
	x := row{scen: 9, name: "Postfix smtp-source", cas: "4 KB, 10 sessions kept (-d), one reply address",
		ceiling: fmt.Sprintf("smtp-sink %.0f msg/s (%d messages)", sink.rate(), sink.sent)}
	if pst.ok {
		x.postern = fmt.Sprintf("%.0f msg/s, %d of %d answered 250 (%d stored; processing runs beside it)", pst.rate(), pst.sent, pst.sent, stored)
		x.ratio = fmt.Sprintf("%.2f of sink", pst.rate()/sink.rate())
	} else {
		x.postern = fmt.Sprintf("smtp-source stopped at a refusal after %s (%d stored of %d): %s", pst.elapsed.Round(time.Millisecond), stored, pst.sent, firstLine(pst.out))
		x.ratio = "n/a"
	}
	if ownDiscard > 0 {
		x.ratio += fmt.Sprintf("; harness's own (scenario 1): %.2f of discard", own/ownDiscard)
	} else {
		x.ratio += "; harness's own: scenario 1 not run"
	}
	return x
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
