package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the results table.
type row struct {
	scen    int
	name    string // scenario name
	cas     string // the case: message kind, concurrency...
	postern string // Postern's figures
	ceiling string // the ceiling's figures, same run
	ratio   string // Postern relative to the ceiling
	target  string // the target, "" when none
	met     string // "yes", "no" or ""
}

// report collects the results of a run.
type report struct {
	b          *bench
	date       time.Time
	rows       []row
	notes      []string     // observations computed from the figures
	cpuRows    []cpuRow     // where the CPU went, per measured case
	statements []stmtRow    // scenario 2's database time by statement (-pg-statements)
	profiles   []profileRow // summarised CPU profiles of Postern
	failures   map[int]string
	ran        map[int]bool
	elapsed    time.Duration
}

func newReport(b *bench) *report {
	return &report{b: b, date: time.Now(), failures: map[int]string{}, ran: map[int]bool{}}
}

func (r *report) add(x row) {
	r.rows = append(r.rows, x)
	r.b.log.Info("result", "scenario", x.scen, "case", x.cas, "postern", x.postern, "ceiling", x.ceiling, "ratio", x.ratio, "met", x.met)
}

// cpuRow is the CPU split of one measured case.
type cpuRow struct {
	scen  int
	cas   string
	split string
}

// cpu records where the CPU went while n messages were handled in a case.
func (r *report) cpu(scen int, cas string, c cpuSplit, n int64) {
	if s := c.perMessage(n); s != "" {
		r.cpuRows = append(r.cpuRows, cpuRow{scen, cas, s})
		r.b.log.Info("cpu", "scenario", scen, "case", cas, "split", s)
	}
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *report) fail(n int, name string, err error) {
	r.failures[n] = fmt.Sprintf("%s: %v", name, err)
}

// markRan records that scenario n was run.
func (r *report) markRan(n int) { r.ran[n] = true }

func metText(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// print writes the results as an aligned table.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nPostern benchmarks, %s, %d cores, %s, PostgreSQL %s\n\n", r.date.Format("2006-01-02 15:04"), runtime.NumCPU(), runtime.Version(), r.b.pgVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tscenario\tcase\tPostern\tceiling (same run)\tratio\ttarget\tmet")
	for _, x := range r.rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.scen, x.name, x.cas, x.postern, x.ceiling, x.ratio, x.target, x.met)
	}
	_ = tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, n := range sortedKeys(r.failures) {
		fmt.Fprintf(w, "scenario %d FAILED: %s\n", n, r.failures[n])
	}
	fmt.Fprintf(w, "run took %s\n", r.elapsed.Round(time.Second))
}

func sortedKeys[V any](m map[int]V) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

const (
	findingsBegin = "<!-- findings:begin -->"
	findingsEnd   = "<!-- findings:end -->"
)

const defaultFindings = `Nothing written yet: after a full run, describe here what the figures show
and what to change in Postern (this block is kept when the file is regenerated).`

// writeMarkdown writes the report to path (relative to the module root),
// keeping the hand-written findings block of the existing file.
func (r *report) writeMarkdown(path string) error {
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.b.root, path)
	}
	findings := readFindings(path)
	var b bytes.Buffer
	r.writeRun(&b)
	fmt.Fprintf(&b, "## Results\n\n")
	fmt.Fprintf(&b, "| # | scenario | case | Postern | ceiling (same run) | ratio | target | met |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", x.scen, x.name, x.cas, x.postern, x.ceiling, x.ratio, x.target, x.met)
	}
	r.writeDetails(&b)
	b.WriteString("\n" + methodText)
	fmt.Fprintf(&b, "\n## What we found\n\n%s\n%s\n%s\n", findingsBegin, findings, findingsEnd)
	fmt.Fprintf(&b, "\n## Missing\n\n")
	r.writeMissing(&b)
	b.WriteString(missingText)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// readFindings returns the hand-written findings block of the report at
// path, or defaultFindings when the file or the block is missing.
func readFindings(path string) string {
	findings := defaultFindings
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i := strings.Index(s, findingsBegin); i >= 0 {
			if j := strings.Index(s[i:], findingsEnd); j > 0 {
				findings = strings.TrimSpace(s[i+len(findingsBegin) : i+j])
			}
		}
	}
	return findings
}

// writeRun writes the report's opening and its "This run" table.
func (r *report) writeRun(b *bytes.Buffer) {
	o := r.b.opts
	mode := "full"
	if o.quick {
		mode = "quick (-quick: short durations and small counts; figures not meaningful)"
	}
	fmt.Fprintf(b, "# Benchmarks\n\n")
	fmt.Fprintf(b, "Generated by `go run ./cmd/postern-bench` (`make bench`); the tables are\n")
	fmt.Fprintf(b, "rewritten on every run, the \"What we found\" section is kept. Every\n")
	fmt.Fprintf(b, "Postern figure sits beside a ceiling measured in the same run on the same\n")
	fmt.Fprintf(b, "machine, so the ratio, not the absolute number, is what compares across\n")
	fmt.Fprintf(b, "machines. Benchmarks are not tests: a missed target fails nothing.\n\n")
	fmt.Fprintf(b, "## This run\n\n| | |\n|---|---|\n")
	fmt.Fprintf(b, "| date | %s |\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(b, "| machine | %d cores (%s), %s/%s, shared with other work |\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(b, "| Go | %s |\n", runtime.Version())
	fmt.Fprintf(b, "| PostgreSQL | %s, private cluster, durable settings (fsync, synchronous_commit on), shared_buffers %s |\n", r.b.pgVersion, r.b.pgBuffers)
	fmt.Fprintf(b, "| Postern | %s, `postern serve` subprocess, POSTERN_WORKERS=%d, relay = in-process go-smtp sink |\n", gitVersion(r.b.root), o.workers)
	fmt.Fprintf(b, "| mode | %s; took %s |\n", mode, r.elapsed.Round(time.Second))
	fmt.Fprintf(b, "| settings | intake %s per run, ceilings %s, processing %s and a backlog of %d drained, end-to-end %s at %.0f msg/s, %d followers, %d stored rows, %d × %s + one %s |\n\n",
		o.intakeDur, o.ceilDur, o.processDur, o.drainMsgs, o.e2eDur, o.e2eRate, o.followers, o.growthRows, o.memSessions, mb(int64(o.memSize)), mb(int64(o.bigSize)))
}

// writeDetails writes the CPU split, the profiles, the statement table
// and the observations, each only when the run produced it.
func (r *report) writeDetails(b *bytes.Buffer) {
	if len(r.cpuRows) > 0 {
		fmt.Fprintf(b, "\n### Where the CPU went\n\n")
		fmt.Fprintf(b, "CPU time per message handled, read from /proc for Postern, for PostgreSQL (postmaster and\n")
		fmt.Fprintf(b, "all backends) and for this harness (load generator, sink, ceilings); \"others\" is the rest of\n")
		fmt.Fprintf(b, "the machine. With the machine near 100%% busy, a rate is bound by the sum of the three.\n\n")
		fmt.Fprintf(b, "| # | case | CPU |\n|---|---|---|\n")
		for _, c := range r.cpuRows {
			fmt.Fprintf(b, "| %d | %s | %s |\n", c.scen, c.cas, c.split)
		}
	}
	for _, p := range r.profiles {
		fmt.Fprintf(b, "\n### Postern CPU profile: %s\n\n", p.title)
		fmt.Fprintf(b, "Share of Postern's CPU samples spent in each part, callees included (parts overlap; %s).\n\n", p.total)
		fmt.Fprintf(b, "```\n%s\n```\n", strings.Join(p.lines, "\n"))
	}
	if len(r.statements) > 0 {
		fmt.Fprintf(b, "\n### Database time by statement (scenario 2, `-pg-statements`)\n\n")
		fmt.Fprintf(b, "| statement | calls per message | mean | share of execution time |\n|---|---|---|---|\n")
		for _, st := range r.statements {
			fmt.Fprintf(b, "| `%s` | %.2f | %.3f ms | %.0f%% |\n", strings.ReplaceAll(st.query, "|", "\\|"), st.perMessage, st.meanMs, 100*st.share)
		}
	}
	if len(r.notes) > 0 {
		fmt.Fprintf(b, "\nObservations computed from this run:\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}

// writeMissing lists the scenarios that failed or were not run.
func (r *report) writeMissing(b *bytes.Buffer) {
	for _, sc := range allScenarios {
		if msg, ok := r.failures[sc.n]; ok {
			fmt.Fprintf(b, "- **%d %s** failed in this run: %s\n", sc.n, sc.name, msg)
		} else if !r.ran[sc.n] {
			fmt.Fprintf(b, "- **%d %s** was not run (`-scenarios`).\n", sc.n, sc.name)
		}
	}
}

// gitVersion names the commit measured ("+ changes" when the tree is dirty).
func gitVersion(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty=+changes")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown commit"
	}
	return "commit " + strings.TrimSpace(string(out))
}

func mb(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func pctOf(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

const methodText = `## What each scenario measures

Messages are realistic: a **4 KB text/plain reply** (own text, signature,
attribution line, quoted text) and a **60 KB multipart/alternative reply**
(text part plus an HTML part with the quote in a Gmail-style blockquote).
Replies are sent by a follower to the ` + "`reply+TOKEN@`" + ` address read from the
Reply-To of the notifications the sink received for questions asked during
set-up, so every RCPT checks a real token. Each message carries a unique
marker in its text; Postern copies the post's text into the notification,
which is how the sink matches notifications to messages. Clients keep their
SMTP connection across messages (as an MTA's connection cache does).

1. **Intake**: messages per second answered 250, and the DATA-phase latency
   (DATA command to the 250 after the final dot) p50/p99, at 1, 10 and 50
   concurrent client connections. Ceilings, same messages and concurrency:
   a go-smtp server that discards what it receives (protocol cost), and
   PostgreSQL's single-row commit rate (a pgx loop inserting the message as
   one bytea row per transaction). Postern's background processing runs
   during the measurement, as in production; the backlog is drained between
   runs. For 4 KB at 10 connections a second run pauses Postern's
   processing and sending (River's queue pause) to show intake alone, and
   is profiled.
2. **Processing**: messages per second from 250 to post visible (inbound
   state no longer ` + "`accepted`" + `), 4 KB text replies, two cases. *Sustained*:
   the load generator sends on 10 connections and pauses above a cap of
   waiting messages, and the rows whose processed_at falls in the window
   are counted; when processing keeps up with intake (the cap is rarely
   reached) this is intake's rate, not processing's capacity, and the row
   says "intake-bound". *Backlog drain*, which carries the target: with
   processing and sending paused (River's queue pause, as scenario 1's
   paused case) a backlog of ` + "`-drain-messages`" + ` replies is accepted, the
   database checkpointed, then processing resumed; the rate is the
   backlog's count over the span of its processed_at stamps (first to
   last), and the times from the resume until every post is visible and
   until every notification (one per message, sent as in the sustained
   case) is accepted by the sink are shown beside it. Its CPU split runs
   from the resume until idle: processing and sending, no intake.
   Ceiling for both: PostgreSQL's single-row commit rate at
   POSTERN_WORKERS sessions.
3. **End-to-end latency** at a steady (open-loop) rate, on a settled
   database (VACUUM ANALYZE and CHECKPOINT after the earlier overload): from the 250 at the
   end of DATA to the notification accepted by the sink. Ceiling: an ideal
   store-and-forward relay in the harness (commit the message, answer 250,
   commit a state change, hand it to the sink over a fresh connection).
4. **Fan-out**: a new question with N followers: time from the
   question's 250 until the sink has accepted every
   notification, notifications per second, and Postern's peak RSS (VmHWM,
   process restarted just before), with a CPU profile of the sending.
   Ceiling: the sink's own receive rate from a Go client keeping its
   connections and pipelining MAIL, RCPT and DATA, as Postern's relay
   client does, at POSTERN_WORKERS connections (the rate with a connection
   per message, the former ceiling, is shown beside it). The followers are written
   with SQL (people + confirmed subscriptions), their addresses hashed and
   sealed with Postern's own ` + "`threads.DeriveKeys`" + ` from the secret the
   harness gave Postern: by mail each follow needs a confirmation request,
   and Postern sends at most 20 of those per hour per client IP (all
   clients here are 127.0.0.1), which POSTERN_RATE_LIMITS=off does not lift.
5. **Growth**: intake (10 connections) and processing's capacity (the
   drain of a paused backlog of half ` + "`-drain-messages`" + `, as scenario 2's
   capacity case) with the
   ` + "`inbound`" + ` table as the earlier scenarios left it, then again after COPYing
   the configured number of processed 4 KB messages into it. Both sides
   are measured alike: an unmeasured intake warm-up of a few seconds, then
   VACUUM ANALYZE and CHECKPOINT (a stored table has been vacuumed: without
   it autovacuum's first pass over the copied rows ran through the whole
   second measurement), then intake and processing. The ceiling is the
   first measurement.
6. **Import**: ` + "`postern import mbox`" + ` (a subprocess, into a fresh database)
   of a generated mailing-list archive: threads of varied depth
   interleaved in time, 2–4 KB text replies with attribution, quote and
   list footer, most with In-Reply-To/References, about one in ten with
   only a "Re:" subject, one in fifty before its parent, one in two
   hundred without Message-ID. Messages per second over the wall time
   (start to exit, the end-of-import fix-up included) and the peak RSS
   (getrusage maxrss). Ceiling: PostgreSQL's COPY rate for as many rows of
   the archive's average message size into a plain table, 1000 rows per
   transaction as the import commits. A second archive a tenth the size is
   imported into another fresh database: the two peak RSS show whether
   memory grows with the archive.
7. **Memory**: Postern's peak RSS (VmHWM, process restarted before each
   case) while receiving and processing one 25 MB message alone, and N
   concurrent sessions each sending a 5 MB message (multipart/mixed with a
   base64 attachment). The reference is the payload itself. Then six
   sessions of 24 MB at once (three long texts, three attachments),
   received, processed and notified, beside the memory budget that intake,
   processing and composing share and the soft memory limit.
9. **Postfix smtp-source**: Postfix's own load tool (Debian's postfix,
   ` + "`make ensure-postfix`" + `) sends 4 KB messages over 10 kept sessions (` + "`-d -s 10 -l 4096`" + `,
   scenario 1's c=10 case) to one valid reply address, against Postern
   (processing running) and against Postfix's ` + "`smtp-sink`" + ` in the same run;
   smtp-source stops at the first refusal, so Postern's rate counts only
   when every message was answered 250. The harness's own ratio of
   scenario 1 is shown beside it.
`

const missingText = `- Processing is measured with 4 KB text replies only (no 60 KB HTML mix).
- Fan-out writes its followers with SQL (see scenario 4), not through
  subscribe@ and the confirmation reply: a way to lift the per-IP
  confirmation limit for benchmarks (or a bulk follower import) would let
  the harness use mail.
- CPU profiles are taken of three runs only (the paused intake run,
  the processing run and the fan-out's sending) and summarised by part; ` + "`-profile DIR`" + ` keeps the
  files for ` + "`go tool pprof`" + `. Other scenarios are explained by their
  figures and the CPU split.
`
