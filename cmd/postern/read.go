package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/postern/postern/threads"
)

func migrateURL(ctx context.Context, url string) error {
	return threads.MigrateURL(ctx, url)
}

// openCommand parses a command's flags (the settings named in only, and
// those extra adds) and opens the store with openStore and opts. The
// caller must call done when it is finished with the store.
func openCommand(ctx context.Context, name string, args []string, stderr io.Writer, only []string, extra func(*flag.FlagSet),
	opts storeOptions) (Config, *flag.FlagSet, *threads.Store, func(), error) {
	cfg, fs, err := parseConfig(name, args, stderr, only, extra)
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	st, done, err := openStore(ctx, cfg, opts)
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	return cfg, fs, st, done, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdThreads(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var limit int
	cfg, fs, err := parseConfig("threads", args, stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.IntVar(&limit, "limit", 100, "most questions to list")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	st, done, err := openStore(ctx, cfg, readOnly)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.ListQuestions(ctx, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tANSWERS\tVOTES\tAUTHOR\tTITLE")
	for _, q := range list {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", q.ID, q.Answers, q.Votes, q.Author, q.Title)
	}
	return tw.Flush()
}

func cmdThread(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	cfg, fs, err := parseConfig("thread", args, stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: postern thread [--json] ID")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return fmt.Errorf("question id %q is not a number", fs.Arg(0))
	}
	st, done, err := openStore(ctx, cfg, readOnly)
	if err != nil {
		return err
	}
	defer done()
	t, err := st.GetThread(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, t)
	}
	fmt.Fprintf(stdout, "#%d %s\nby %s, %s, %d votes\n\n%s\n", t.ID, t.Title, t.Author, t.CreatedAt.Format("2006-01-02 15:04"), t.Votes, t.Body)
	for _, c := range t.Comments {
		fmt.Fprintf(stdout, "\n  comment #%d by %s:\n  %s\n", c.ID, c.Author, c.Body)
	}
	for _, a := range t.Answers {
		best := ""
		if a.Best {
			best = " (best answer)"
		}
		fmt.Fprintf(stdout, "\n--- answer #%d by %s, %d votes%s\n%s\n", a.ID, a.Author, a.Votes, best, a.Body)
		for _, c := range a.Comments {
			fmt.Fprintf(stdout, "\n  comment #%d by %s:\n  %s\n", c.ID, c.Author, c.Body)
		}
	}
	return nil
}

func cmdInbound(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: postern inbound list [--failed | --held] [--json] | postern inbound retry ID")
	}
	switch args[0] {
	case "list":
		var asJSON, failedOnly, heldOnly bool
		var limit int
		cfg, fs, err := parseConfig("inbound list", args[1:], stderr, readSettings, func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print JSON")
			fs.BoolVar(&failedOnly, "failed", false, "only messages that failed processing")
			fs.BoolVar(&heldOnly, "held", false, "only messages whose post is held for its author's confirmation (the reason says whether the request was sent)")
			fs.IntVar(&limit, "limit", 100, "most messages to list")
		})
		if err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		filter := threads.InboundAll
		switch {
		case failedOnly && heldOnly:
			return errors.New("inbound list: --failed and --held exclude each other")
		case failedOnly:
			filter = threads.InboundFailed
		case heldOnly:
			filter = threads.InboundHeld
		}
		st, done, err := openStore(ctx, cfg, readOnly)
		if err != nil {
			return err
		}
		defer done()
		list, err := st.ListInbound(ctx, filter, limit)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tPOST\tRECEIVED\tREASON")
		for _, m := range list {
			post := "-"
			if m.PostID != nil {
				post = strconv.FormatInt(*m.PostID, 10)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", m.ID, m.State, post, m.ReceivedAt.Format("2006-01-02 15:04:05"), m.Reason)
		}
		return tw.Flush()
	case "retry":
		cfg, fs, err := parseConfig("inbound retry", args[1:], stderr, readSettings, nil)
		if err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: postern inbound retry ID")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("inbound id %q is not a number", fs.Arg(0))
		}
		st, done, err := openStore(ctx, cfg, readOnly)
		if err != nil {
			return err
		}
		defer done()
		if err := st.RetryInbound(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "inbound %d queued for processing again\n", id)
		return nil
	}
	return fmt.Errorf("unknown inbound command %q", args[0])
}
