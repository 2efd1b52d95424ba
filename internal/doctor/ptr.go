package doctor

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// PTRFacts is the reverse DNS of each outgoing address (Names[i] for
// Outgoing.IPs[i]) and the addresses each name found resolves to.
type PTRFacts struct {
	Outgoing Outgoing
	Names    []Answer[string]
	Forward  map[string]Answer[net.IPAddr]
}

// CheckPTR checks that each outgoing address has a PTR record whose name
// resolves back to it (forward-confirmed reverse DNS, which receivers
// such as Gmail require). host is the name to suggest.
func CheckPTR(host string, f PTRFacts) []Result {
	if !f.Outgoing.Leaves {
		return []Result{ok("ptr", "not checked: "+f.Outgoing.Source)}
	}
	if len(f.Outgoing.IPs) == 0 {
		return []Result{warn("ptr", "not checked: "+f.Outgoing.Source,
			"postern doctor --outgoing-ip ADDRESS with the public address this server's mail leaves from")}
	}
	var out []Result
	for i, ip := range f.Outgoing.IPs {
		out = append(out, checkOnePTR(host, ip, f.Outgoing.Source, f.Names[i], f.Forward))
	}
	return out
}

// checkOnePTR is CheckPTR for one address.
func checkOnePTR(host string, ip net.IP, source string, names Answer[string], forward map[string]Answer[net.IPAddr]) Result {
	rev := reverseName(ip)
	publish := fmt.Sprintf("ask whoever owns %s (the hosting provider) to publish %s IN PTR %s, and publish %s IN %s %s",
		ip, rev, fqdn(host), fqdn(host), addrType(ip), ip)
	if names.Failed() {
		return lookupFailed("ptr", "PTR", ip.String(), names.Err)
	}
	if names.NotFound() {
		return fix("ptr", fmt.Sprintf("%s (%s) has no PTR record: many receivers refuse its mail", ip, source), publish)
	}
	for _, n := range names.Records {
		n = strings.TrimSuffix(n, ".")
		fw := forward[n]
		if slices.ContainsFunc(fw.Records, func(a net.IPAddr) bool { return a.IP.Equal(ip) }) {
			return ok("ptr", fmt.Sprintf("%s (%s) is %s, which resolves back to it", ip, source, n))
		}
	}
	n := strings.TrimSuffix(names.Records[0], ".")
	return fix("ptr", fmt.Sprintf("%s (%s) has PTR %s, which does not resolve back to it", ip, source, n),
		fmt.Sprintf("publish %s IN %s %s (or have the PTR changed to a name that does)", fqdn(n), addrType(ip), ip))
}

// addrType is A for an IPv4 address, AAAA for IPv6.
func addrType(ip net.IP) string {
	if ip.To4() != nil {
		return "A"
	}
	return "AAAA"
}

// reverseName is the in-addr.arpa or ip6.arpa name of ip, with its
// final dot (RFC 1035 section 3.5, RFC 3596 section 2.5).
func reverseName(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", v4[3], v4[2], v4[1], v4[0])
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := len(ip) - 1; i >= 0; i-- {
		b.WriteByte(hex[ip[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[ip[i]>>4])
		b.WriteByte('.')
	}
	return b.String() + "ip6.arpa."
}
