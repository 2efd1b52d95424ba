package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	imapin "github.com/postern/postern/mailin/imap"
	"github.com/postern/postern/mailin/imap/imapurl"
)

// imapSettings: `postern imap check` reads only the mailboxes.
var imapSettings = []string{"imap"}

// cmdIMAP runs `postern imap check [URL...]`: each mailbox given (else
// those of --imap, POSTERN_IMAP_URL) checked by imapin.Check, its
// report printed; it fails if any check failed. The URLs are never
// printed (they may hold a password; a mailbox is named by its label).
func cmdIMAP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New("usage: postern imap check [URL...] (default: the mailboxes of --imap, POSTERN_IMAP_URL)")
	}
	cfg, fs, err := parseConfig("imap check", args[1:], stderr, imapSettings, nil)
	if err != nil {
		return err
	}
	urls := cfg.IMAP.URLs
	if fs.NArg() > 0 {
		urls = ""
		for _, a := range fs.Args() {
			urls += a + " "
		}
	}
	mailboxes, err := imapurl.ParseList(urls)
	if err != nil {
		return fmt.Errorf("imap check: %w", err)
	}
	if len(mailboxes) == 0 {
		return errors.New("imap check: no mailbox: give a URL or set --imap (POSTERN_IMAP_URL)")
	}
	var errs []error
	for i, m := range mailboxes {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		rep, err := imapin.Check(ctx, imapin.Config{}, m)
		if err != nil {
			fmt.Fprintf(stdout, "mailbox: %s\nfailed: %v\n", m.Label(), err)
			errs = append(errs, err)
			continue
		}
		if err := rep.Write(stdout); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("imap check: %d of %d mailboxes failed", len(errs), len(mailboxes))
	}
	return nil
}
