package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/export"
)

// cmdExport implements `postern export [--format mbox|json] [--out
// FILE]`: every visible thread, without addresses (export.Write), to
// standard output or FILE, with a progress bar on a terminal.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var format, out string
	cfg, _, err := parseNoArgs("export", args, stderr, readSettings, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "mbox", "mbox (one message per post, threaded by Message-ID) or json (one object per thread)")
		fs.StringVar(&out, "out", "", "file to write (not overwritten); empty: standard output")
	})
	if err != nil {
		return err
	}
	if format != string(export.Mbox) && format != string(export.JSON) {
		return fmt.Errorf("export: --format %q: mbox or json", format)
	}
	st, done, err := openStore(ctx, cfg, readOnly)
	if err != nil {
		return err
	}
	defer done()
	w, closeOut := stdout, func() error { return nil }
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		w, closeOut = f, f.Close
	}
	progress, finish := exportProgress(ctx, st, stderr)
	n, err := export.Write(ctx, st, w, export.Format(format), progress)
	finish()
	if cerr := closeOut(); err == nil && cerr != nil {
		err = fmt.Errorf("export: %w", cerr)
	}
	if err != nil {
		if out != "" {
			os.Remove(out) // a partial archive would pass for a whole one
		}
		return err
	}
	fmt.Fprintf(stderr, "postern: exported %d posts\n", n)
	return nil
}

// exportProgress returns the progress callback of an export and the
// function ending it: a bar on stderr when it is a terminal, else
// nothing.
func exportProgress(ctx context.Context, st *threads.Store, stderr io.Writer) (func(int64), func()) {
	if !isTerminal(stderr) {
		return nil, func() {}
	}
	total, err := st.CountExportPosts(ctx)
	if err != nil {
		total = -1
	}
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("exporting posts"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(), progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish())
	return func(n int64) { _ = bar.Set64(n) }, func() { _ = bar.Finish() }
}

const outboxUsage = "usage: postern outbox list [--pending | --failed] [--json] | postern outbox retry ID | postern outbox cancel ID"

// cmdOutbox implements `postern outbox list|retry ID|cancel ID`: the
// notifications, their recipients by person id.
func cmdOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "retry" && args[0] != "cancel") {
		return errors.New(outboxUsage)
	}
	if args[0] != "list" {
		st, id, done, err := idCommand(ctx, "outbox "+args[0], args[1:], stderr, nil, "usage: postern outbox "+args[0]+" ID", "notification")
		if err != nil {
			return err
		}
		defer done()
		if args[0] == "retry" {
			if err := st.RetryNotification(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "notification %d queued for sending now\n", id)
			return nil
		}
		if err := st.CancelNotification(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "notification %d cancelled\n", id)
		return nil
	}
	var asJSON, pending, failed bool
	var limit int
	cfg, _, err := parseNoArgs("outbox list", args[1:], stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.BoolVar(&pending, "pending", false, "only notifications waiting to be sent or retried")
		fs.BoolVar(&failed, "failed", false, "only notifications refused for good or given up")
		fs.IntVar(&limit, "limit", 100, "most notifications to list")
	})
	if err != nil {
		return err
	}
	filter := threads.OutboxAll
	switch {
	case pending && failed:
		return errors.New("outbox list: --pending and --failed exclude each other")
	case pending:
		filter = threads.OutboxPending
	case failed:
		filter = threads.OutboxFailed
	}
	st, done, err := openStore(ctx, cfg, readOnly)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.ListOutbox(ctx, filter, limit)
	if err != nil {
		return err
	}
	return printList(stdout, asJSON, list, "ID\tKIND\tPOST\tPERSON\tSTATE\tATTEMPTS\tNEXT TRY\tERROR", func(e threads.OutboxEntry) string {
		post, next := "-", "-"
		if e.PostID != nil {
			post = strconv.FormatInt(*e.PostID, 10)
		}
		if e.NextTry != nil {
			next = e.NextTry.UTC().Format("2006-01-02 15:04:05")
		}
		return fmt.Sprintf("%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", e.ID, e.Kind, post, e.PersonID, e.State, e.Attempts, next, e.Error)
	})
}

// cmdStats implements `postern stats [--json]`.
func cmdStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	_, fs, st, done, err := openCommand(ctx, "stats", args, stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}, readOnly)
	if err != nil {
		return err
	}
	defer done()
	if err := noArgs(fs); err != nil {
		return err
	}
	s, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, s)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, kind := range []string{"question", "answer", "comment"} {
		fmt.Fprintf(tw, "%ss\t%s\n", kind, counts(s.Posts[kind]))
	}
	fmt.Fprintf(tw, "people\t%d (%d confirmed, %d forgotten)\n", s.People.Total, s.People.Confirmed, s.People.Forgotten)
	for _, q := range s.Queues {
		fmt.Fprintf(tw, "queue %s\t%d jobs, oldest %s, oldest due waiting %s\n", q.Queue, q.Depth,
			seconds(q.OldestAgeSeconds), seconds(q.OldestDueSeconds))
	}
	fmt.Fprintf(tw, "received, last hour\t%s\n", counts(s.LastHour.Received))
	fmt.Fprintf(tw, "notifications, last hour\t%s\n", counts(s.LastHour.Notifications))
	return tw.Flush()
}

// counts is "N (a K1, b K2)": the total of m and each count by key.
func counts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	var total int64
	for k, n := range m {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// seconds is s seconds as a duration rounded to the second.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// inboundShow implements `postern inbound show ID [--json]`.
func inboundShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	st, id, done, err := idCommand(ctx, "inbound show", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}, "usage: postern inbound show [--json] ID", "inbound")
	if err != nil {
		return err
	}
	defer done()
	d, err := st.InboundDetail(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, d)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	opt := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	sender := "-"
	if d.SenderID != nil {
		sender = fmt.Sprintf("person %d (%s)", *d.SenderID, d.SenderName)
	}
	post := "-"
	if d.PostID != nil {
		post = fmt.Sprintf("%d (%s, %s)", *d.PostID, d.PostKind, d.PostState)
	}
	fmt.Fprintf(tw, "inbound\t%d\nmessage-id\t%s\nreceived\t%s over %s from %s\nto\t%s\nsize\t%d bytes\n", d.ID, d.MessageID,
		opt(&d.ReceivedAt), d.Source, d.RemoteIP, strings.Join(d.Recipients, ", "), d.Size)
	fmt.Fprintf(tw, "state\t%s\nreason\t%s\nprocessed\t%s\nsender\t%s\nevidence\t%s (dkim %s, spf %s, dmarc %s)\npost\t%s\n",
		d.State, d.Reason, opt(d.ProcessedAt), sender, d.Evidence, d.DKIM, d.SPF, d.DMARC, post)
	raw := "kept (sealed)"
	if !d.RawKept {
		raw = "purged " + opt(d.PurgedAt)
	}
	fmt.Fprintf(tw, "raw message\t%s\nnotifications\t%d\n", raw, d.Notifications)
	return tw.Flush()
}
