// Command postern-bench measures Postern as a whole on this machine and
// compares every figure with a ceiling measured in the same run.
//
// It starts a private, durable PostgreSQL cluster (internal/pgcluster),
// builds `postern` and runs `postern serve` as a subprocess, stands up an
// in-process SMTP sink as Postern's outgoing relay, and drives load with
// SMTP clients. The ceilings are things Postern cannot beat: an SMTP server
// that discards what it receives (protocol cost), PostgreSQL's single-row
// commit rate for the same payload, an ideal store-and-forward relay (one
// commit in, one commit and one SMTP hop out) and the sink's own receive
// rate. It prints a table and writes docs/BENCHMARKS.md.
//
// Usage (from the repository root; `make bench` runs it):
//
//	go run ./cmd/postern-bench [-quick] [-scenarios=1,2,3,4,5,6,7,8,9] [-out docs/BENCHMARKS.md]
//
// Everything listens on and connects to 127.0.0.1 only. Benchmarks are
// measurements, not tests: nothing here fails because a figure is slow; a
// target that is not met is reported as such.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/postern/postern/internal/config"
)

// options are the command-line settings of one run.
type options struct {
	quick        bool
	scenarios    []int
	out          string
	conc         []int
	intakeDur    time.Duration
	ceilDur      time.Duration
	processDur   time.Duration
	e2eDur       time.Duration
	e2eRate      float64
	followers    int
	growthRows   int
	growthDur    time.Duration
	memSessions  int
	memSize      int
	bigSize      int
	importMsgs   int
	drainMsgs    int
	workers      int
	keep         bool
	pgStatements bool
	pgBuffers    string
	profileDir   string
	logLevel     string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("postern-bench", flag.ContinueOnError)
	scen := fs.String("scenarios", "1,2,3,4,5,6,7,8,9", "comma-separated scenarios to run (1 intake, 2 processing, 3 end-to-end latency, 4 fan-out, 5 growth, 6 import, 7 memory, 8 web pages, 9 Postfix smtp-source)")
	conc := fs.String("concurrency", "1,10,50", "client concurrencies for the intake scenario")
	fs.BoolVar(&o.quick, "quick", false, "short durations and small counts, for trying the harness (figures are not meaningful)")
	fs.StringVar(&o.out, "out", "docs/BENCHMARKS.md", "Markdown report to write (empty: none)")
	fs.DurationVar(&o.intakeDur, "intake-duration", 6*time.Second, "duration of each Postern intake run (scenario 1)")
	fs.DurationVar(&o.ceilDur, "ceiling-duration", 3*time.Second, "duration of each ceiling run")
	fs.DurationVar(&o.processDur, "process-duration", 60*time.Second, "sustained processing run (scenario 2)")
	fs.DurationVar(&o.e2eDur, "e2e-duration", 30*time.Second, "end-to-end latency run at a steady rate (scenario 3)")
	fs.Float64Var(&o.e2eRate, "e2e-rate", 100, "messages per second of the end-to-end run")
	fs.IntVar(&o.followers, "followers", 10000, "followers of the fan-out question (scenario 4)")
	fs.IntVar(&o.growthRows, "growth-rows", 1000000, "rows stored into inbound before the second growth measurement (scenario 5)")
	fs.DurationVar(&o.growthDur, "growth-duration", 30*time.Second, "duration of each growth measurement (scenario 5)")
	fs.IntVar(&o.memSessions, "mem-sessions", 100, "concurrent sessions of the memory scenario (7)")
	fs.IntVar(&o.memSize, "mem-size", 5<<20, "message size of each concurrent session (scenario 7)")
	fs.IntVar(&o.bigSize, "big-size", 25_000_000, "size of the single large message (scenario 7); must stay under Postern's 25 MiB limit")
	fs.IntVar(&o.drainMsgs, "drain-messages", 20000, "4 KB messages accepted with processing paused, then drained (scenario 2's capacity case)")
	fs.IntVar(&o.importMsgs, "import-messages", 100000, "messages of the generated mbox archive (scenario 6; a second one has a tenth)")
	defaultWorkers, _ := config.Default().Workers()
	fs.IntVar(&o.workers, "workers", defaultWorkers, "POSTERN_WORKERS for the Postern under test (Postern's default: 2 x cores, at least 4), also the ceilings' concurrency")
	fs.BoolVar(&o.pgStatements, "pg-statements", true, "load pg_stat_statements and report the statements that take PostgreSQL's time in scenario 2 (costs PostgreSQL a few percent, ceilings included)")
	fs.StringVar(&o.pgBuffers, "pg-shared-buffers", "", "shared_buffers of the private PostgreSQL cluster, e.g. 512MB (default: PostgreSQL's, 128MB, as `postern dev` runs it)")
	fs.StringVar(&o.profileDir, "profile", "", "keep the CPU profiles of Postern (paused intake run, processing run) in this directory (default: the temporary bench directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, logs) after the run")
	fs.StringVar(&o.logLevel, "log-level", "info", "harness log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 9 {
			return o, fmt.Errorf("-scenarios: %q is not a scenario number 1-9", s)
		}
		o.scenarios = append(o.scenarios, n)
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 150 {
			return o, fmt.Errorf("-concurrency: %q is not a number 1-150", s)
		}
		o.conc = append(o.conc, n)
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quick("intake-duration", func() { o.intakeDur = 2 * time.Second })
		quick("ceiling-duration", func() { o.ceilDur = time.Second })
		quick("process-duration", func() { o.processDur = 8 * time.Second })
		quick("e2e-duration", func() { o.e2eDur = 5 * time.Second })
		quick("followers", func() { o.followers = 300 })
		quick("growth-rows", func() { o.growthRows = 20000 })
		quick("growth-duration", func() { o.growthDur = 4 * time.Second })
		quick("mem-sessions", func() { o.memSessions = 10 })
		quick("drain-messages", func() { o.drainMsgs = 2000 })
		quick("import-messages", func() { o.importMsgs = 5000 })
	}
	if o.drainMsgs < 2 {
		return o, fmt.Errorf("-drain-messages %d: at least 2", o.drainMsgs)
	}
	if o.bigSize >= 25<<20-64<<10 {
		return o, fmt.Errorf("-big-size %d does not fit Postern's 25 MiB limit", o.bigSize)
	}
	return o, nil
}

func (o options) has(n int) bool { return slices.Contains(o.scenarios, n) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "postern-bench:", err)
		os.Exit(1)
	}
}

// scenario is one numbered measurement.
type scenario struct {
	n    int
	name string
	run  func(ctx context.Context, b *bench, r *report) error
}

var allScenarios = []scenario{
	{1, "Intake", scenarioIntake},
	{2, "Processing", scenarioProcessing},
	{3, "End-to-end latency", scenarioE2E},
	{4, "Fan-out", scenarioFanout},
	{5, "Growth", scenarioGrowth},
	{6, "Import", scenarioImport},
	{7, "Memory", scenarioMemory},
	{8, "Web pages", scenarioWeb},
	{9, "Postfix smtp-source", scenarioPostfix},
}

func run(ctx context.Context, args []string) error {
	opts, err := parseOptions(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	started := time.Now()

	b, err := newBench(ctx, opts, log)
	if err != nil {
		return err
	}
	defer b.close()

	rep := newReport(b)
	for _, sc := range allScenarios {
		if !opts.has(sc.n) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		log.Info("scenario start", "n", sc.n, "name", sc.name)
		t0 := time.Now()
		if err := sc.run(ctx, b, rep); err != nil {
			log.Error("scenario failed", "n", sc.n, "err", err)
			rep.fail(sc.n, sc.name, err)
		}
		rep.markRan(sc.n)
		log.Info("scenario done", "n", sc.n, "took", time.Since(t0).Round(time.Second))
	}
	rep.elapsed = time.Since(started)
	rep.print(os.Stdout)
	if opts.out != "" {
		if err := rep.writeMarkdown(opts.out); err != nil {
			return err
		}
		log.Info("report written", "path", opts.out)
	}
	return ctx.Err()
}
