package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/postern/postern/templates"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

// cmdCategory implements `postern category add SLUG "Name"` and
// `postern category list`.
func cmdCategory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		return errors.New(`usage: postern category add SLUG "Name" | postern category list [--json]`)
	}
	var asJSON bool
	var extra func(*flag.FlagSet)
	if args[0] == "list" {
		extra = func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	}
	cfg, fs, st, done, err := openCommand(ctx, "category "+args[0], args[1:], stderr, readSettings, extra, readOnly)
	if err != nil {
		return err
	}
	defer done()
	if args[0] == "add" {
		if fs.NArg() != 2 {
			return errors.New(`usage: postern category add SLUG "Name"`)
		}
		c, err := st.AddCategory(ctx, fs.Arg(0), fs.Arg(1))
		if err != nil {
			return err
		}
		domain := cfg.Forum.Domain
		if domain == "" {
			domain = "DOMAIN"
		}
		fmt.Fprintf(stdout, "category %s (%q): ask+%s@%s, subscribe+%s@%s\n", c.Slug, c.Name, c.Slug, domain, c.Slug, domain)
		return nil
	}
	list, err := st.Categories(ctx)
	if err != nil {
		return err
	}
	return printList(stdout, asJSON, list, "SLUG\tNAME", func(c threads.Category) string {
		return fmt.Sprintf("%s\t%s\n", c.Slug, c.Name)
	})
}

// cmdQuestion implements `postern question close ID [--duplicate-of ID]`
// and `postern question reopen ID`.
func cmdQuestion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "close" && args[0] != "reopen") {
		return errors.New("usage: postern question close ID [--duplicate-of ID] | postern question reopen ID")
	}
	var dup int64
	st, id, done, err := idCommand(ctx, "question "+args[0], args[1:], stderr, func(fs *flag.FlagSet) {
		if args[0] == "close" {
			fs.Int64Var(&dup, "duplicate-of", 0, "the question this one duplicates")
		}
	}, fmt.Sprintf("usage: postern question %s ID", args[0]), "question")
	if err != nil {
		return err
	}
	defer done()
	if err := st.SetQuestionState(ctx, id, args[0] == "close", dup); err != nil {
		return err
	}
	past := map[string]string{"close": "closed", "reopen": "reopened"}[args[0]]
	fmt.Fprintf(stdout, "question %d %s\n", id, past)
	return nil
}

// cmdModerate implements `postern moderate list|approve ID|reject ID [REASON]`.
func cmdModerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "approve" && args[0] != "reject") {
		return errors.New("usage: postern moderate list [--json] | approve ID | reject ID [REASON]")
	}
	var asJSON bool
	_, fs, st, done, err := openCommand(ctx, "moderate "+args[0], args[1:], stderr, readSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}, readOnly)
	if err != nil {
		return err
	}
	defer done()
	if args[0] == "list" {
		q, err := st.ModerationQueue(ctx)
		if err != nil {
			return err
		}
		return printList(stdout, asJSON, q, "ID\tKIND\tQUESTION\tAUTHOR\tTITLE", func(p threads.QueuedPost) string {
			return fmt.Sprintf("%d\t%s\t%d\t%s\t%s\n", p.ID, p.Kind, p.Question, p.Author, p.Title)
		})
	}
	if fs.NArg() < 1 {
		return fmt.Errorf("usage: postern moderate %s ID", args[0])
	}
	id, err := parseID(fs.Arg(0), "post")
	if err != nil {
		return err
	}
	approve := args[0] == "approve"
	err = st.DecideQueued(ctx, id, approve, templates.ModeratorRejected(strings.Join(fs.Args()[1:], " ")))
	var refused *threads.Refusal
	if errors.As(err, &refused) {
		return errors.New(pipeline.RefusalText(refused.Code))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pipeline.ModerationNote(id, approve))
	return nil
}
