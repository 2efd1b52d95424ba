package threads

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/postern/postern/mailin/auth"
)

// Evidence that a message was sent by the address in its From, recorded
// on the inbound row (inbound.evidence). The kinds an authentication
// result gives are auth.EvidenceDKIM, auth.EvidenceSPF and
// auth.EvidenceDMARC.
const (
	// EvidenceReplyToken: a reply to the member's own reply token (which
	// only the member received) with the member's address as envelope
	// sender too.
	EvidenceReplyToken = "reply-token"
	// EvidenceNetwork: the client (over LMTP, the front MTA) is in
	// AuthConfig.TrustedNetworks.
	EvidenceNetwork = "trusted-network"
	// EvidenceNone: nothing shows it; a confirmed member's message is
	// held for their confirmation.
	EvidenceNone = "none"
)

// evidence returns what shows that in was sent by author (whose address
// is from), under the configured policy, or EvidenceNone. Policy
// "evidence" (the default) accepts any kind; "dkim" and "dmarc" only
// their own result.
func (s *Store) evidence(in *inboundRow, res auth.Result, author Person, from string, rcpts rcptSet) string {
	pol := auth.Policy(s.cfg.Auth.Policy)
	if pol.Satisfied(res) {
		return res.Evidence()
	}
	if pol != "" && pol != auth.PolicyEvidence {
		return EvidenceNone
	}
	if t := rcpts.reply; t != nil && t.Present && t.Person == author.ID && t.Epoch == author.Epoch &&
		in.mailFrom != "" && NormalizeAddress(in.mailFrom) == from {
		return EvidenceReplyToken
	}
	if s.trustedPeer(in) {
		return EvidenceNetwork
	}
	return EvidenceNone
}

// trustedPeer reports whether in came from a trusted network: its client,
// or over LMTP its peer (the front MTA).
func (s *Store) trustedPeer(in *inboundRow) bool {
	ip := in.remoteIP
	if in.peerIP != "" {
		ip = in.peerIP
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.cfg.Auth.TrustedNetworks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// authenticate returns the DKIM/SPF/DMARC results for in (whose From
// address is from): from the trusted front MTA's Authentication-Results,
// or by verifying them itself (SPF only when the client's IP is known,
// i.e. over SMTP), as configured; "none" when neither is configured.
func (s *Store) authenticate(ctx context.Context, in *inboundRow, from string) auth.Result {
	a := s.cfg.Auth
	switch {
	case a.TrustedID != "":
		return auth.FromHeaders(in.raw, a.TrustedID)
	case a.Verify:
		domain := from[strings.LastIndexByte(from, '@')+1:]
		return auth.Check(ctx, auth.Input{Raw: in.raw, FromDomain: domain, ClientIP: net.ParseIP(in.remoteIP), MailFrom: in.mailFrom}, a.Resolver)
	}
	return auth.Result{DKIM: auth.None, SPF: auth.None, DMARC: auth.None}
}

// ParseNetworks parses a comma-separated list of CIDR prefixes (a bare
// address is a one-address prefix); empty gives none.
func ParseNetworks(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
