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

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/threads"
)

// migrateURL migrates the database at url (app.MigrateDatabase: its
// errors show no part of url).
func migrateURL(ctx context.Context, url string) error {
	return app.MigrateDatabase(ctx, url)
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

// printJSON writes v to w as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printList writes list to w as indented JSON when asJSON is set, else as
// a table: header (tab-separated column names), then row's line (tab
// separated, ending in a newline) for each element.
func printList[T any](w io.Writer, asJSON bool, list []T, header string, row func(T) string) error {
	if asJSON {
		return printJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, x := range list {
		fmt.Fprint(tw, row(x))
	}
	return tw.Flush()
}

// parseID reads the id argument s; what names it in the error.
func parseID(s, what string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s id %q is not a number", what, s)
	}
	return id, nil
}

// idCommand parses the flags of a command that takes one id argument
// (what names it in errors; usage is the error for a wrong argument
// count) and opens the store read-only. The caller must call done.
func idCommand(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet), usage, what string) (st *threads.Store, id int64, done func(), err error) {
	cfg, fs, err := parseConfig(name, args, stderr, readSettings, extra)
	if err != nil {
		return nil, 0, nil, err
	}
	if fs.NArg() != 1 {
		return nil, 0, nil, errors.New(usage)
	}
	if id, err = parseID(fs.Arg(0), what); err != nil {
		return nil, 0, nil, err
	}
	st, done, err = openStore(ctx, cfg, readOnly)
	if err != nil {
		return nil, 0, nil, err
	}
	return st, id, done, nil
}

func cmdThreads(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var limit int
	cfg, _, err := parseNoArgs("threads", args, stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.IntVar(&limit, "limit", 100, "most questions to list")
	})
	if err != nil {
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
	return printList(stdout, asJSON, list, "ID\tANSWERS\tVOTES\tAUTHOR\tTITLE", func(q threads.QuestionSummary) string {
		return fmt.Sprintf("%d\t%d\t%d\t%s\t%s\n", q.ID, q.Answers, q.Votes, q.Author, q.Title)
	})
}

func cmdThread(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	st, id, done, err := idCommand(ctx, "thread", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}, "usage: postern thread [--json] ID", "question")
	if err != nil {
		return err
	}
	defer done()
	t, err := st.GetThread(ctx, id)
	if err != nil {
		return err
	}
	inUTC(t)
	if asJSON {
		return printJSON(stdout, t)
	}
	printThread(stdout, t)
	return nil
}

// inUTC sets every time of t to UTC, as the web page shows them.
func inUTC(t *threads.Thread) {
	meta := func(m *threads.PostMeta) {
		if m.EditedAt != nil {
			u := m.EditedAt.UTC()
			m.EditedAt = &u
		}
	}
	comments := func(cs []threads.Comment) {
		for i := range cs {
			cs[i].CreatedAt = cs[i].CreatedAt.UTC()
			meta(&cs[i].PostMeta)
		}
	}
	t.CreatedAt = t.CreatedAt.UTC()
	meta(&t.PostMeta)
	comments(t.Comments)
	for i := range t.Answers {
		t.Answers[i].CreatedAt = t.Answers[i].CreatedAt.UTC()
		meta(&t.Answers[i].PostMeta)
		comments(t.Answers[i].Comments)
	}
}

// printThread writes t as `postern thread` shows it: the question, its
// comments, then each answer with its comments; a post its author edited
// says "edited" and when.
func printThread(w io.Writer, t *threads.Thread) {
	fmt.Fprintf(w, "#%d %s\nby %s, %s, %d votes%s\n\n%s\n", t.ID, t.Title, t.Author, t.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), t.Votes, edited(t.PostMeta), t.Body)
	printComments(w, t.Comments)
	for _, a := range t.Answers {
		best := ""
		if a.Best {
			best = " (best answer)"
		}
		fmt.Fprintf(w, "\n--- answer #%d by %s, %d votes%s%s\n%s\n", a.ID, a.Author, a.Votes, edited(a.PostMeta), best, a.Body)
		printComments(w, a.Comments)
	}
}

// printComments writes the comments cs of a post for printThread.
func printComments(w io.Writer, cs []threads.Comment) {
	for _, c := range cs {
		fmt.Fprintf(w, "\n  comment #%d by %s%s:\n  %s\n", c.ID, c.Author, edited(c.PostMeta), c.Body)
	}
}

// edited is ", edited TIME" for a post edited by its author, else "".
func edited(m threads.PostMeta) string {
	if m.EditedAt == nil {
		return ""
	}
	return ", edited " + m.EditedAt.UTC().Format("2006-01-02 15:04 UTC")
}

func cmdInbound(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: postern inbound list [--failed | --held] [--json] | postern inbound show ID | postern inbound retry ID")
	}
	switch args[0] {
	case "show":
		return inboundShow(ctx, args[1:], stdout, stderr)
	case "list":
		var asJSON, failedOnly, heldOnly bool
		var limit int
		cfg, _, err := parseNoArgs("inbound list", args[1:], stderr, readSettings, func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print JSON")
			fs.BoolVar(&failedOnly, "failed", false, "only messages that failed processing, and those of IMAP mailboxes refused (kept there with $PosternFailed)")
			fs.BoolVar(&heldOnly, "held", false, "only messages whose post is held for its author's confirmation (the reason says whether the request was sent)")
			fs.IntVar(&limit, "limit", 100, "most messages to list")
		})
		if err != nil {
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
		if failedOnly {
			// IMAP messages that were never stored: still in their
			// mailbox with $PosternFailed (ID -, state refused).
			refused, err := st.ListIMAPRefused(ctx, limit)
			if err != nil {
				return err
			}
			list = append(list, refusedRows(refused)...)
		}
		return printList(stdout, asJSON, list, "ID\tSTATE\tPOST\tRECEIVED\tREASON", func(m threads.InboundSummary) string {
			id, post := "-", "-"
			if m.ID != 0 {
				id = strconv.FormatInt(m.ID, 10)
			}
			if m.PostID != nil {
				post = strconv.FormatInt(*m.PostID, 10)
			}
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\n", id, m.State, post, m.ReceivedAt.Format("2006-01-02 15:04:05"), m.Reason)
		})
	case "retry":
		st, id, done, err := idCommand(ctx, "inbound retry", args[1:], stderr, nil, "usage: postern inbound retry ID", "inbound")
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

// refusedRows are the refused IMAP messages as rows of `inbound list
// --failed`: ID 0 (no inbound row; printed -), source imap, state
// refused, the reason naming the mailbox and the UID.
func refusedRows(refused []threads.IMAPRefused) []threads.InboundSummary {
	out := make([]threads.InboundSummary, len(refused))
	for i, r := range refused {
		out[i] = threads.InboundSummary{MessageID: r.MessageID, Source: string(threads.SourceIMAP), Size: int(r.Size),
			State: "refused", ReceivedAt: r.RefusedAt,
			Reason: fmt.Sprintf("%s UID %d: %s (kept in the mailbox with $PosternFailed)", r.Mailbox, r.UID, r.Reason)}
	}
	return out
}
