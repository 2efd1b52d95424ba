package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/postern/postern/mailout"
)

// cmdUser implements `postern user forget|export ADDRESS`.
func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "forget" && args[0] != "export" && args[0] != "moderator") {
		return errors.New("usage: postern user forget [--anonymous] ADDRESS | postern user export ADDRESS | postern user moderator [--off] ADDRESS")
	}
	var anonymous, off bool
	cfg, fs, err := parseConfig("user "+args[0], args[1:], stderr, secretSettings, func(fs *flag.FlagSet) {
		if args[0] == "forget" {
			fs.BoolVar(&anonymous, "anonymous", false, "show the person's posts as \"anonymous\" instead of their display name")
		}
		if args[0] == "moderator" {
			fs.BoolVar(&off, "off", false, "remove the moderator role")
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: postern user %s ADDRESS", args[0])
	}
	st, done, err := openStore(ctx, cfg, withSecret)
	if err != nil {
		return err
	}
	defer done()
	addr := fs.Arg(0)
	if args[0] == "moderator" {
		if err := st.SetModerator(ctx, addr, !off); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "done")
		return nil
	}
	if args[0] == "export" {
		e, err := st.ExportPerson(ctx, addr)
		if err != nil {
			return err
		}
		return printJSON(stdout, e)
	}
	f, err := st.ForgetPerson(ctx, addr, anonymous)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "forgotten: person %d; address and its hash erased, %d pending notifications cancelled, %d raw messages purged, %d follows removed, %d posts kept\n",
		f.PersonID, f.CancelledMail, f.PurgedInbound, f.RemovedSubscriptions, f.Posts)
	return nil
}

// cmdDKIM implements `postern dkim keygen`: it writes a new private key
// and prints the DNS TXT record to publish.
func cmdDKIM(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "keygen" {
		return errors.New("usage: postern dkim keygen [--type rsa|ed25519] [--out FILE] [--domain D] [--dkim-selector S]")
	}
	var kind, out string
	cfg, _, err := parseConfig("dkim keygen", args[1:], stderr, dkimSettings, func(fs *flag.FlagSet) {
		fs.StringVar(&kind, "type", "rsa", "key type: rsa (2048 bits, understood everywhere) or ed25519")
		fs.StringVar(&out, "out", "dkim.pem", "file to write the private key to (not overwritten)")
	})
	if err != nil {
		return err
	}
	key, txt, err := mailout.GenerateDKIMKey(kind)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	domain := cfg.Forum.Domain
	if domain == "" {
		domain = "DOMAIN"
	}
	fmt.Fprintf(stdout, "Private key written to %s. Publish this TXT record, then set POSTERN_DKIM_KEY_FILE=%s POSTERN_DKIM_SELECTOR=%s:\n\n%s._domainkey.%s. IN TXT %s\n",
		out, out, cfg.Notify.DKIMSel, cfg.Notify.DKIMSel, domain, txt)
	return nil
}

// cmdKeys implements `postern keys reseal`: re-encrypt everything sealed
// under an older key with the current one (the highest id of
// POSTERN_SEALING_KEYS_FILE), after which the old key can be removed.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reseal" {
		return errors.New("usage: postern keys reseal (with POSTERN_SEALING_KEYS_FILE naming the new key)")
	}
	_, _, st, done, err := openCommand(ctx, "keys reseal", args[1:], stderr, secretSettings, nil, withSecret)
	if err != nil {
		return err
	}
	defer done()
	r, err := st.Reseal(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "resealed %d addresses, %d raw messages, %d chunks of large raw messages, %d client Message-IDs with the current key\n",
		r.People, r.Inbound, r.Chunks, r.ClientIDs)
	return nil
}
