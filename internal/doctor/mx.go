package doctor

import (
	"fmt"
	"net"
	"strings"
)

// MXFacts is what DNS says about the forum domain's mail exchangers.
type MXFacts struct {
	MX Answer[*net.MX]
	// Hosts are the addresses of each MX host (at most maxMXHosts).
	Hosts map[string]Answer[net.IPAddr]
}

// maxMXHosts is how many MX hosts have their addresses checked.
const maxMXHosts = 3

// CheckMX checks that domain has an MX record naming a host with an
// address (RFC 5321 section 5.1), and not a null MX (RFC 7505). host is
// the name to suggest in the record to publish.
func CheckMX(domain, host string, f MXFacts) Result {
	publish := fmt.Sprintf("publish %s IN MX 10 %s", fqdn(domain), fqdn(host))
	switch {
	case f.MX.Failed():
		return lookupFailed("mx", "MX", domain, f.MX.Err)
	case f.MX.NotFound():
		return fix("mx", "no MX record for "+domain+": mail to the forum has nowhere to go (some senders fall back to its address, most do not)", publish)
	}
	if len(f.MX.Records) == 1 && strings.Trim(f.MX.Records[0].Host, ".") == "" {
		return fix("mx", domain+" has a null MX (RFC 7505): it says it receives no mail", "replace it: "+publish)
	}
	var found []string
	for i, mx := range f.MX.Records {
		if i == maxMXHosts {
			break
		}
		name := strings.TrimSuffix(mx.Host, ".")
		addrs := f.Hosts[name]
		switch {
		case addrs.Failed():
			return lookupFailed("mx", "address", name, addrs.Err)
		case addrs.NotFound():
			return fix("mx", fmt.Sprintf("MX host %s has no address (A or AAAA)", name),
				fmt.Sprintf("publish %s IN A SERVER-IPV4 (and AAAA SERVER-IPV6) with the address of the host receiving the forum's mail", fqdn(name)))
		}
		found = append(found, fmt.Sprintf("%d %s (%s)", mx.Pref, name, addrs.Records[0].IP))
	}
	return ok("mx", "MX "+strings.Join(found, ", "))
}
