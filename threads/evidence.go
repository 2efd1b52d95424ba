package threads

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
	// EvidenceSession: a web form posted by the member signed in by a
	// session (opened with a link mailed to the address): the message is
	// from that member.
	EvidenceSession = "web-session"
	// EvidenceNone: nothing shows it; a confirmed member's message is
	// held for their confirmation.
	EvidenceNone = "none"
)
