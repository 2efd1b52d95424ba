package doctor

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"

	"blitiri.com.ar/go/spf"
)

// Outgoing is what is known of the address outgoing mail leaves from.
type Outgoing struct {
	// IPs are the public addresses checked (at most maxOutgoing).
	IPs []net.IP
	// Source says where they come from ("--outgoing-ip", "the relay
	// host's addresses"), or, with no IPs, why none is known.
	Source string
	// Leaves is false when no mail leaves at all (the Maildir sink).
	Leaves bool
}

// maxOutgoing is how many outgoing addresses are checked.
const maxOutgoing = 4

// SPFFacts is the forum domain's TXT records and the SPF verdict for each
// outgoing address (Results[i] for Outgoing.IPs[i]).
type SPFFacts struct {
	TXT      Answer[string]
	Outgoing Outgoing
	Results  []spf.Result
	Errs     []error
}

// evalSPF evaluates the domain's SPF policy (RFC 7208) for each outgoing
// address, as a receiver would for mail from postmaster@domain.
func evalSPF(ctx context.Context, r Resolver, domain string, out Outgoing) ([]spf.Result, []error) {
	results, errs := make([]spf.Result, len(out.IPs)), make([]error, len(out.IPs))
	for i, ip := range out.IPs {
		results[i], errs[i] = spf.CheckHostWithSender(ip, domain, "postmaster@"+domain,
			spf.WithResolver(r), spf.WithContext(ctx))
	}
	return results, errs
}

// spfRecords are the records of txt that are SPF policies (v=spf1).
func spfRecords(txt []string) []string {
	var out []string
	for _, t := range txt {
		if f := strings.Fields(t); len(f) > 0 && strings.EqualFold(f[0], "v=spf1") {
			out = append(out, t)
		}
	}
	return out
}

// CheckSPF checks that domain publishes exactly one SPF record (RFC 7208
// section 4.5) and that it passes the outgoing addresses.
func CheckSPF(domain string, f SPFFacts) Result {
	if f.TXT.Failed() {
		return lookupFailed("spf", "TXT", domain, f.TXT.Err)
	}
	recs := spfRecords(f.TXT.Records)
	switch len(recs) {
	case 0:
		mechs := "mx"
		if len(f.Outgoing.IPs) > 0 {
			mechs = ipMechanisms(f.Outgoing.IPs)
		}
		return fix("spf", "no SPF record for "+domain+": receivers cannot tell the forum's mail from forgeries",
			fmt.Sprintf(`publish %s IN TXT "v=spf1 %s -all"`, fqdn(domain), mechs))
	case 1:
	default:
		return fix("spf", fmt.Sprintf("%d SPF records for %s: receivers treat that as a permanent error (RFC 7208 section 4.5)", len(recs), domain),
			"merge them into one TXT record starting v=spf1 and delete the others")
	}
	rec := recs[0]
	if len(f.Outgoing.IPs) == 0 {
		return ok("spf", fmt.Sprintf("one record %q; not evaluated: %s", rec, f.Outgoing.Source))
	}
	for i, ip := range f.Outgoing.IPs {
		switch res := f.Results[i]; res {
		case spf.Pass:
		case spf.TempError, spf.PermError:
			return fix("spf", fmt.Sprintf("record %q gives %s for %s (%s): %v", rec, res, ip, f.Outgoing.Source, f.Errs[i]),
				"correct the record (every include: and redirect= must resolve, at most 10 lookups)")
		default:
			return fix("spf", fmt.Sprintf("record %q gives %s for %s (%s), not pass", rec, res, ip, f.Outgoing.Source),
				fmt.Sprintf(`publish %s IN TXT "%s"`, fqdn(domain), withMechanism(rec, ipMechanisms([]net.IP{ip}))))
		}
	}
	return ok("spf", fmt.Sprintf("one record %q; passes %s (%s)", rec, ipList(f.Outgoing.IPs), f.Outgoing.Source))
}

// ipMechanisms are ip4: and ip6: mechanisms for ips.
func ipMechanisms(ips []net.IP) string {
	var m []string
	for _, ip := range ips {
		if ip.To4() != nil {
			m = append(m, "ip4:"+ip.String())
		} else {
			m = append(m, "ip6:"+ip.String())
		}
	}
	return strings.Join(m, " ")
}

// ipList is ips separated by commas.
func ipList(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}

// allMechanism is the final all (with its qualifier) of an SPF record.
var allMechanism = regexp.MustCompile(`(?i)\s[-~?+]?all\s*$`)

// withMechanism is rec with mech added before its all mechanism (at the
// end when it has none).
func withMechanism(rec, mech string) string {
	rec = strings.TrimSpace(rec)
	if loc := allMechanism.FindStringIndex(rec); loc != nil {
		return rec[:loc[0]] + " " + mech + rec[loc[0]:]
	}
	return rec + " " + mech
}
