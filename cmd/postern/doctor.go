package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/postern/postern/internal/doctor"
)

// doctorSettings: what `postern doctor` checks.
var doctorSettings = []string{"database-url", "domain", "base-url", "secret-file", "sealing-keys-file",
	"relay-url", "relay-ca-file", "maildir", "dkim-key-file", "dkim-selector"}

// cmdDoctor runs `postern doctor`: doctor.Run over the configuration,
// its report printed (one line per check, or --json); it fails (exit
// status 1) when a check says FIX.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var outgoing string
	cfg, _, err := parseNoArgs("doctor", args, stderr, doctorSettings, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
		fs.StringVar(&outgoing, "outgoing-ip", "", "comma-separated public addresses outgoing mail leaves from, for the SPF and reverse DNS checks (default: the relay host's addresses)")
	})
	if err != nil {
		return err
	}
	opts := doctor.Options{}
	for _, s := range strings.Split(outgoing, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("doctor: --outgoing-ip %q is not an IP address", s)
		}
		opts.OutgoingIPs = append(opts.OutgoingIPs, ip)
	}
	rep := doctor.Run(ctx, cfg.Config, opts)
	if asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if n := countFix(rep); n > 0 {
		return fmt.Errorf("doctor: %d problem(s) to fix (the lines marked FIX)", n)
	}
	return nil
}

// countFix counts the results of rep that say FIX.
func countFix(rep doctor.Report) int {
	n := 0
	for _, r := range rep.Results {
		if r.Status == doctor.Fix {
			n++
		}
	}
	return n
}
