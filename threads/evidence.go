package threads

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/jackc/pgx/v5"

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
	// EvidenceNotificationReply: a reply whose In-Reply-To or References
	// names the Message-ID of a notification sent to the member (random,
	// unguessable, recorded per recipient in message_ids), with the
	// member's address as envelope sender too: the reply-token rule for
	// clients that reply to From (notifications@) rather than Reply-To.
	EvidenceNotificationReply = "notification-reply"
	// EvidenceNetwork: the client (over LMTP, the front MTA) is in
	// AuthConfig.TrustedNetworks.
	EvidenceNetwork = "trusted-network"
	// EvidenceNone: nothing shows it; a confirmed member's message is
	// held for their confirmation.
	EvidenceNone = "none"
)

// evidence returns what shows that in was sent by author (whose address
// is from, the From address), under the configured policy, or
// EvidenceNone. Policy "evidence" (the default) accepts any kind; "dkim"
// and "dmarc" only their own result. ids are the message's In-Reply-To
// and References (CandidateIDs). The reply-token and notification-reply
// rules need the envelope sender to be from too: the token or
// notification id shows the member received the notification, the
// envelope that the reply comes back from the same address.
func (s *Store) evidence(ctx context.Context, tx pgx.Tx, in *inboundRow, res auth.Result, author Person, from string, rcpts rcptSet, ids []string) (string, error) {
	pol := auth.Policy(s.cfg.Auth.Policy)
	if pol.Satisfied(res) {
		return res.Evidence(), nil
	}
	if pol != "" && pol != auth.PolicyEvidence {
		return EvidenceNone, nil
	}
	ownEnvelope := in.mailFrom != "" && NormalizeAddress(in.mailFrom) == from
	if t := rcpts.reply; ownEnvelope && t != nil && t.Present && t.Person == author.ID && t.Epoch == author.Epoch {
		return EvidenceReplyToken, nil
	}
	if ownEnvelope && author.ID != 0 && len(ids) > 0 {
		var sent bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM message_ids WHERE message_id = ANY($1) AND direction = 'out' AND recipient_id = $2)`,
			ids, author.ID).Scan(&sent)
		if err != nil {
			return "", fmt.Errorf("look up notification replied to: %w", err)
		}
		if sent {
			return EvidenceNotificationReply, nil
		}
	}
	if s.trustedPeer(in) {
		return EvidenceNetwork, nil
	}
	return EvidenceNone, nil
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

// authenticate returns the DKIM/SPF/DMARC results for in: from the
// trusted front MTA's Authentication-Results, or by verifying them itself
// (SPF only when the client's IP is known, i.e. over SMTP; all lookups
// within AuthConfig.Timeout), as configured; "none" when neither is
// configured, or when the header does not hold exactly one From field
// with one mailbox.
func (s *Store) authenticate(ctx context.Context, in *inboundRow) auth.Result {
	a := s.cfg.Auth
	// DKIM signs the bottom-most From field, and Postern credits the
	// topmost: with two From fields (or two mailboxes in one), a
	// signature from the sender's own mailbox at a shared provider would
	// vouch for another member there. Only a message with exactly one
	// From mailbox can have evidence.
	domain, err := auth.FromDomain(in.raw)
	if err != nil {
		return auth.Result{DKIM: auth.None, SPF: auth.None, DMARC: auth.None}
	}
	switch {
	case a.TrustedID != "":
		return auth.FromHeaders(in.raw, a.TrustedID)
	case a.Verify:
		ctx, cancel := context.WithTimeout(ctx, a.Timeout)
		defer cancel()
		return auth.Check(ctx, auth.Input{Raw: in.raw, FromDomain: domain, ClientIP: net.ParseIP(in.remoteIP), MailFrom: in.mailFrom, RcptDomain: s.cfg.Domain}, a.Resolver)
	}
	return auth.Result{DKIM: auth.None, SPF: auth.None, DMARC: auth.None}
}
