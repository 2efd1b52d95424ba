package auth

import (
	"context"
	"net"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
)

// Resolver answers the DNS queries of Check: TXT records (DKIM keys,
// DMARC and SPF policies) and the A/AAAA, MX and PTR lookups that SPF
// mechanisms make. *net.Resolver implements it; tests pass a fake one.
// Errors follow net.Resolver's: a *net.DNSError with IsNotFound for a
// name that does not exist, IsTemporary or IsTimeout for a transient
// failure.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Input is what Check needs to know about one received message.
type Input struct {
	// Raw is the message exactly as received.
	Raw []byte
	// FromDomain is the domain of the single From address (FromDomain).
	FromDomain string
	// ClientIP is the address of the SMTP client that handed the message
	// over. Nil skips SPF (over LMTP the client is the front MTA, not the
	// sender's server).
	ClientIP net.IP
	// MailFrom is the envelope sender; SPF is checked for its domain. An
	// empty one (the null sender) skips SPF.
	MailFrom string
	// Helo is the client's HELO/EHLO name, if known.
	Helo string
	// RcptDomain, when set, is the domain the message was delivered to
	// (the forum's). A passing signature that signs To or Cc counts only
	// if one of them names an address in it: otherwise the member signed
	// it for someone else, and it was replayed here (DKIM result
	// "policy").
	RcptDomain string
}

// spfTimeout bounds the whole SPF evaluation (up to 10 DNS-querying
// mechanisms, RFC 7208 section 4.6.4).
const spfTimeout = 15 * time.Second

// Check verifies the message's DKIM signatures, checks SPF for the
// envelope sender from ClientIP, and evaluates DMARC for FromDomain:
// "pass" when a passing DKIM signature or a passing SPF domain is aligned
// with it as the domain's policy requires. A nil r uses
// net.DefaultResolver. Source is "verified". Nothing is logged, and the
// result holds no address.
func Check(ctx context.Context, in Input, r Resolver) Result {
	if r == nil {
		r = net.DefaultResolver
	}
	res := noneResult()
	if in.ClientIP != nil && strings.Contains(in.MailFrom, "@") {
		res.SPFDomain = normDomain(in.MailFrom[strings.LastIndexByte(in.MailFrom, '@')+1:])
		c, cancel := context.WithTimeout(ctx, spfTimeout)
		v, _ := spf.CheckHostWithSender(in.ClientIP, in.Helo, in.MailFrom, spf.WithResolver(r), spf.WithContext(c))
		cancel()
		res.SPF = strings.ToLower(string(v))
		if res.SPF == "" {
			res.SPF = None
		}
	}
	return verify(ctx, in.Raw, in.FromDomain, in.RcptDomain, txtLookup(ctx, r.LookupTXT), res)
}
