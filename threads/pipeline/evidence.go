package pipeline

import (
	"context"
	"net"
	"net/netip"

	"github.com/postern/postern/mailin/auth"
	"github.com/postern/postern/threads"
)

// The evidence kinds Proven returns are threads.Evidence* and, from an
// authentication result, auth.EvidenceDKIM, auth.EvidenceSPF and
// auth.EvidenceDMARC.

// EvidenceFacts is what Proven weighs: the authentication result under
// the configured policy, and what the message shows of its sender.
type EvidenceFacts struct {
	// Satisfied: the result satisfies the policy, which accepts Kind
	// (auth.Result.Evidence) as evidence.
	Satisfied bool
	Kind      string
	// Strict: the policy ("dkim", "dmarc") accepts only its own result.
	Strict bool
	// OwnEnvelope: the envelope sender is the From address.
	OwnEnvelope bool
	// OwnToken: the message went to the author's own reply token, of
	// their current epoch.
	OwnToken bool
	// NotificationReplied: its In-Reply-To or References name a
	// notification sent to the author (looked up only when
	// needsNotificationLookup says so).
	NotificationReplied bool
	// TrustedPeer: it came from a trusted network.
	TrustedPeer bool
}

// Proven returns what shows that a message was sent by its From address,
// or threads.EvidenceNone: the authentication result when it satisfies the
// policy; under the default policy also a reply to the author's own
// token or notification from their own envelope address (the token or
// notification id shows the member received the notification, the
// envelope that the reply comes back from the same address), or a
// trusted network. It is a pure function of f.
func Proven(f EvidenceFacts) string {
	switch {
	case f.Satisfied:
		return f.Kind
	case f.Strict:
		return threads.EvidenceNone
	case f.OwnEnvelope && f.OwnToken:
		return threads.EvidenceReplyToken
	case f.OwnEnvelope && f.NotificationReplied:
		return threads.EvidenceNotificationReply
	case f.TrustedPeer:
		return threads.EvidenceNetwork
	}
	return threads.EvidenceNone
}

// needsNotificationLookup reports whether Proven can still depend on
// NotificationReplied.
func needsNotificationLookup(f EvidenceFacts) bool {
	return !f.Satisfied && !f.Strict && f.OwnEnvelope && !f.OwnToken
}

// evidence returns what shows that in was sent by author (whose address
// is from, the From address), under the configured policy (see Proven);
// mail from the web form has none, unless a signed-in member posted it
// (threads.EvidenceSession).
// ids are the message's In-Reply-To and References (CandidateIDs).
func (p processor) evidence(ctx context.Context, tx *threads.Tx, in *threads.Inbound, res auth.Result, author threads.Person, from string, rcpts rcptSet, ids []string) (string, error) {
	if in.Source == threads.SourceWeb {
		// Anyone can type any address into the web form: its owner
		// confirms by the link mailed there, whoever they are. A form
		// posted by a signed-in member comes with their session.
		if in.WebPerson != 0 && in.WebPerson == author.ID {
			return threads.EvidenceSession, nil
		}
		return threads.EvidenceNone, nil
	}
	pol := auth.Policy(p.cfg.Auth.Policy)
	t := rcpts.reply
	f := EvidenceFacts{
		Satisfied:   pol.Satisfied(res),
		Kind:        res.Evidence(),
		Strict:      pol != "" && pol != auth.PolicyEvidence,
		OwnEnvelope: in.MailFrom != "" && threads.NormalizeAddress(in.MailFrom) == from,
		OwnToken:    t != nil && t.Present && t.Person == author.ID && t.Epoch == author.Epoch,
		TrustedPeer: p.trustedPeer(in),
	}
	if needsNotificationLookup(f) && author.ID != 0 && len(ids) > 0 {
		var err error
		if f.NotificationReplied, err = tx.NotificationReplied(ctx, ids, author.ID); err != nil {
			return "", err
		}
	}
	return Proven(f), nil
}

// trustedPeer reports whether in came from a trusted network: its client,
// or over LMTP its peer (the front MTA).
func (p processor) trustedPeer(in *threads.Inbound) bool {
	ip := in.RemoteIP
	if in.PeerIP != "" {
		ip = in.PeerIP
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, n := range p.cfg.Auth.TrustedNetworks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// authenticate returns the DKIM/SPF/DMARC results for in: from the
// trusted front MTA's Authentication-Results, or by verifying them itself
// (SPF only when the client's IP is known, i.e. over SMTP; all lookups
// within AuthConfig.Timeout), as configured; "none" when neither is
// configured, or when the header does not hold exactly one From field
// with one mailbox.
func (p processor) authenticate(ctx context.Context, in *threads.Inbound) auth.Result {
	a := p.cfg.Auth
	// DKIM signs the bottom-most From field, and Postern credits the
	// topmost: with two From fields (or two mailboxes in one), a
	// signature from the sender's own mailbox at a shared provider would
	// vouch for another member there. Only a message with exactly one
	// From mailbox can have evidence.
	domain, err := auth.FromDomain(in.Raw)
	if err != nil {
		return auth.Result{DKIM: auth.None, SPF: auth.None, DMARC: auth.None}
	}
	switch {
	case a.TrustedID != "":
		return auth.FromHeaders(in.Raw, a.TrustedID)
	case a.Verify:
		ctx, cancel := context.WithTimeout(ctx, a.Timeout)
		defer cancel()
		return auth.Check(ctx, auth.Input{Raw: in.Raw, FromDomain: domain, ClientIP: net.ParseIP(in.RemoteIP), MailFrom: in.MailFrom, RcptDomain: p.cfg.Domain}, a.Resolver)
	}
	return auth.Result{DKIM: auth.None, SPF: auth.None, DMARC: auth.None}
}
