package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/postern/postern/mailin/maildir"
	"github.com/postern/postern/mailin/mbox"
	"github.com/postern/postern/threads/importer"
)

const importUsage = "usage: postern import mbox [--category SLUG] [--batch N] [--json] FILE (- for standard input; .gz is decompressed) | postern import maildir [--category SLUG] [--batch N] [--json] DIR"

// importGCPercent is the import's GOGC (unless GOGC is set).
const importGCPercent = 200

// importProgressEvery is the interval of progress log lines when standard
// error is not a terminal.
const importProgressEvery = 5 * time.Second

// cmdImport implements `postern import mbox FILE` and `postern import
// maildir DIR`: a mailing-list archive becomes threads (importer.Import),
// with a progress bar on a terminal and a summary at the end.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "mbox" && args[0] != "maildir") {
		return errors.New(importUsage)
	}
	var opts importer.Options
	var asJSON bool
	var cpuProfile string
	bar := &importBar{w: stderr}
	terminal := isTerminal(stderr)
	cfg, fs, st, done, err := openCommand(ctx, "import "+args[0], args[1:], stderr, importSettings, func(fs *flag.FlagSet) {
		fs.StringVar(&opts.Category, "category", "", "put the imported questions in the category SLUG (it must exist)")
		fs.IntVar(&opts.BatchSize, "batch", 1000, "messages per transaction")
		fs.BoolVar(&asJSON, "json", false, "print the summary as JSON")
		fs.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the import to this file")
	}, storeOptions{secret: true, logTo: bar})
	if err != nil {
		return err
	}
	defer done()
	// Log lines must not tear the progress bar: each clears it first.
	log := newLogger(cfg.Log.Level, bar)
	if fs.NArg() != 1 {
		return errors.New(importUsage)
	}
	// (Both restored on return: tests run commands in one process.)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.Memory.Limit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(cfg.Memory.Limit)))
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// The live heap is small (a few batches) and short-lived garbage
		// plenty: collecting less often saves CPU for PostgreSQL, the
		// memory limit above still caps the heap.
		defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	}
	src, size, readSoFar, closeIn, err := openSource(args[0], fs.Arg(0), int(cfg.Intake.MaxMessage))
	if err != nil {
		return err
	}
	defer closeIn()
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	start := time.Now()
	opts.Progress = importProgress(bar, terminal, stderr, readSoFar, size, start, log)
	stats, ierr := importer.Import(ctx, st, src, opts)
	elapsed := time.Since(start)
	bar.finish()
	if err := printImportSummary(stdout, stats, elapsed, asJSON); err != nil {
		return err
	}
	if ierr != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "postern: import interrupted; run the same command again to import the rest (messages already imported are skipped as duplicates)")
		}
		return ierr
	}
	switch {
	case stats.Read == 0 && args[0] == "maildir":
		log.Warn("import: no message found in cur/ or new/")
	case stats.Read == 0:
		log.Warn("import: no message found: is this an mbox file (messages starting with \"From \" lines)?")
	case stats.Garbage > 0:
		log.Warn("import: bytes before the first From_ line were ignored", "bytes", stats.Garbage)
	}
	return nil
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// importProgress starts the progress bar when stderr is a terminal and
// returns the importer's progress callback: it moves the bar by the bytes
// done() says were read (of size, or a spinner when size is unknown), or, off a
// terminal, logs a progress line every importProgressEvery.
func importProgress(bar *importBar, terminal bool, stderr io.Writer, done func() int64, size int64, start time.Time, log *slog.Logger) func(importer.Stats) {
	if terminal {
		total := size
		if total <= 0 {
			total = -1 // unknown: a spinner
		}
		bar.start(progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(), progressbar.OptionClearOnFinish()))
	}
	lastLog := start
	return func(p importer.Stats) {
		read := done()
		if terminal {
			bar.set(fmt.Sprintf("%d messages, %d posts", p.Read, p.Imported), read)
			return
		}
		if time.Since(lastLog) < importProgressEvery {
			return
		}
		lastLog = time.Now()
		attrs := []any{"read", p.Read, "imported", p.Imported, "duplicates", p.Duplicates, "skipped", p.SkippedTotal(),
			"msg_per_s", int(float64(p.Read) / time.Since(start).Seconds())}
		if size > 0 {
			attrs = append(attrs, "percent", fmt.Sprintf("%.1f", 100*float64(read)/float64(size)))
		}
		log.Info("import progress", attrs...)
	}
}

// importSummary is the summary printed at the end of an import. Questions,
// Answers and Comments count posts as first placed; Threads is what is
// left once Reparented questions became replies.
type importSummary struct {
	Read       int64            `json:"read"`
	Imported   int64            `json:"imported"`
	Questions  int64            `json:"questions"`
	Answers    int64            `json:"answers"`
	Comments   int64            `json:"comments"`
	Threads    int64            `json:"threads"`
	Reparented int64            `json:"reparented"`
	Moved      int64            `json:"moved"`
	Redacted   int64            `json:"redacted_late"`
	Duplicates int64            `json:"duplicates"`
	Skipped    map[string]int64 `json:"skipped"`
	People     int64            `json:"people_created"`
	Bytes      int64            `json:"bytes"`
	Seconds    float64          `json:"elapsed_seconds"`
	Rate       float64          `json:"messages_per_second"`
}

func printImportSummary(w io.Writer, st importer.Stats, elapsed time.Duration, asJSON bool) error {
	sum := importSummary{Read: st.Read, Imported: st.Imported, Questions: st.Questions, Answers: st.Answers,
		Comments: st.Comments, Threads: st.Threads(), Reparented: st.Reparented, Moved: st.Moved, Redacted: st.Redacted, Duplicates: st.Duplicates,
		Skipped: st.Skipped, People: st.People, Bytes: st.Bytes, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		sum.Rate = float64(st.Read) / elapsed.Seconds()
	}
	if asJSON {
		return printJSON(w, sum)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "messages read\t%d\n", sum.Read)
	fmt.Fprintf(tw, "imported\t%d (%d questions, %d answers, %d comments as first placed)\n", sum.Imported, st.Questions, st.Answers, st.Comments)
	fmt.Fprintf(tw, "threads\t%d (%d questions and %d replies moved under a parent found later)\n", sum.Threads, sum.Reparented, sum.Moved)
	fmt.Fprintf(tw, "duplicates\t%d (already imported)\n", sum.Duplicates)
	fmt.Fprintf(tw, "skipped\t%d\n", st.SkippedTotal())
	reasons := make([]string, 0, len(st.Skipped))
	for r := range st.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(tw, "  %s\t%d\n", r, st.Skipped[r])
	}
	fmt.Fprintf(tw, "people created\t%d (unconfirmed)\n", sum.People)
	fmt.Fprintf(tw, "elapsed\t%s\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "messages/s\t%.0f\n", sum.Rate)
	return tw.Flush()
}

// openSource opens what `import KIND PATH` reads: an mbox file
// (openMailbox) or a Maildir folder. It returns the source, its size in
// bytes (0 when unknown), the function saying how many of those bytes
// were read and the function closing it.
func openSource(kind, path string, maxMessage int) (src importer.Source, size int64, done func() int64, closeFn func(), err error) {
	if kind == "maildir" {
		md, err := maildir.Open(path, maxMessage)
		if err != nil {
			return nil, 0, nil, nil, err
		}
		return md, md.Size(), md.Offset, func() {}, nil
	}
	in, size, closeIn, err := openMailbox(path)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	return mbox.NewReader(in, mbox.Options{MaxMessageBytes: maxMessage}), size, in.n.Load, closeIn, nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openMailbox opens path ("-": standard input; a .gz file is
// decompressed). It returns the reader, whose count is of the file's
// bytes, the file's size (0 when unknown) and the function closing it.
func openMailbox(path string) (in *mailboxInput, size int64, closeFn func(), err error) {
	f := os.Stdin
	if path != "-" {
		if f, err = os.Open(path); err != nil {
			return nil, 0, nil, fmt.Errorf("open mailbox: %w", err)
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	in = &mailboxInput{countingReader: &countingReader{r: f}}
	in.src = in.countingReader
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(in.countingReader)
		if err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("open mailbox: %w", err)
		}
		in.src = z
	}
	return in, size, func() { f.Close() }, nil
}

// mailboxInput is the mailbox as the reader sees it (decompressed) with
// the count of the file's bytes read.
type mailboxInput struct {
	*countingReader
	src io.Reader
}

func (m *mailboxInput) Read(p []byte) (int, error) { return m.src.Read(p) }

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// importBar is the progress bar on a terminal (none until start) and the
// writer of log lines, which clears the bar first so that lines do not run
// into it; the bar redraws itself at its next update.
type importBar struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (b *importBar) start(bar *progressbar.ProgressBar) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar = bar
}

func (b *importBar) set(desc string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Describe(desc)
		_ = b.bar.Set64(n)
	}
}

func (b *importBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
}

// Write writes a log line.
func (b *importBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Clear()
	}
	return b.w.Write(p)
}
