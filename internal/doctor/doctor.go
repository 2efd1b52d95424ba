// Package doctor checks a Postern installation the way an operator
// would, and says for each problem the exact DNS record or setting that
// fixes it (postern doctor): the forum domain's MX, SPF, DKIM and DMARC
// records, the reverse DNS of the outgoing address, the database and its
// schema, the relay, the secret and sealing keys, and the base URL.
//
// The checks are pure functions over facts (what DNS answered, what the
// relay offered, what the database holds), table-tested; Run gathers the
// facts, with a bounded timeout on every DNS lookup (LookupTimeout), the
// relay probe (RelayTimeout) and the database (app.Connect's 10 s), so
// that without a network every lookup is reported as failed and nothing
// hangs. DNS goes through Resolver, which *net.Resolver satisfies.
//
// No result names a person's address: only the forum domain, forum
// addresses (postmaster@DOMAIN), host names and IP addresses.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is the verdict of one check.
type Status int

const (
	// OK: nothing to do.
	OK Status = iota
	// Warn: works, but should be looked at (the Fix says how).
	Warn
	// Fix: must be fixed; postern doctor then exits non-zero.
	Fix
)

// String is the status as printed: OK, WARN or FIX.
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	}
	return "FIX"
}

// MarshalText makes a Status read as its String in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked: "mx", "spf", "dkim", "dmarc", "ptr",
	// "database", "schema", "relay", "secret", "sealing-keys", "base-url".
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Detail says what was found (one line).
	Detail string `json:"detail"`
	// Fix is, for WARN and FIX, the exact record or setting to change
	// (a zone-file line, a setting = value, or a command); may be empty
	// for WARN.
	Fix string `json:"fix,omitempty"`
}

// Report is every result of one run, in a fixed order.
type Report struct {
	Domain  string   `json:"domain"`
	Results []Result `json:"checks"`
}

// NeedsFix reports whether any result is FIX.
func (r Report) NeedsFix() bool {
	for _, res := range r.Results {
		if res.Status == Fix {
			return true
		}
	}
	return false
}

// WriteText writes one line per result: "STATUS check detail", and for a
// problem " -> fix: " and the exact record or setting.
func (r Report) WriteText(w io.Writer) error {
	for _, res := range r.Results {
		line := fmt.Sprintf("%-4s %-12s %s", res.Status, res.Check, res.Detail)
		if res.Fix != "" {
			line += " -> fix: " + res.Fix
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the report as one JSON object: the domain, the checks
// and "fix_needed".
func (r Report) WriteJSON(w io.Writer) error {
	out := struct {
		Report
		FixNeeded bool `json:"fix_needed"`
	}{r, r.NeedsFix()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ok, warn and fix build results.
func ok(check, detail string) Result { return Result{Check: check, Status: OK, Detail: detail} }
func warn(check, detail, fix string) Result {
	return Result{Check: check, Status: Warn, Detail: detail, Fix: fix}
}
func fix(check, detail, how string) Result {
	return Result{Check: check, Status: Fix, Detail: detail, Fix: how}
}
