package templates

import "fmt"

// Reasons recorded on an inbound message's row: what processing made of
// it, for the operators (`postern inbound list`). None names an address.
const (
	InboundPurged             = "raw message no longer available (purged or undecryptable)"
	InboundNoFrom             = "no sender address in From"
	InboundMalformedFrom      = "malformed From header: no trustworthy sender address"
	InboundLoop               = "loop: From is one of the forum's own addresses"
	InboundPublished          = "published"
	InboundQueued             = "queued for a moderator"
	InboundPublishedConfirmed = "published after the sender confirmed"
	InboundQueuedConfirmed    = "queued for a moderator after the sender confirmed"
	// InboundNoEvidenceDNS is added to the reason of a message taken as
	// without evidence because DNS lookups failed.
	InboundNoEvidenceDNS = " (DNS lookups for DKIM/SPF/DMARC failed or timed out: taken as no evidence)"

	InboundPostmasterKept      = "for the postmaster: kept for operators (no postmaster address configured)"
	InboundPostmasterForwarded = "for the postmaster: forwarded to the postmaster address"

	InboundBounceUnknown      = "bounce for an unknown recipient"
	InboundBounceNotDSN       = "mail to a bounce address that is not a delivery report"
	InboundConfirmOther       = "confirmation sent from another address than the one asked"
	InboundCommandNoProof     = "command without evidence that the member sent it (see Who can post as whom)"
	InboundCommandUnconfirmed = "command from an unconfirmed address"
	InboundHelpUnconfirmed    = "help request from an unconfirmed address"
	InboundHelpLimit          = "help request: daily limit reached"
	InboundHelpSent           = "help sent"

	InboundHeld            = "held until the sender confirms"
	InboundHeldUnproven    = "held until the member confirms (no evidence they sent it: no aligned DKIM or SPF pass, not a reply from their address to their own notification, not a trusted network)"
	InboundHeldSuppressed  = " (address suppressed: no confirmation sent)"
	InboundHeldAsked       = " their address"
	InboundHeldStopped     = " (the address stopped all mail and the message carries no evidence it came from there: no confirmation sent)"
	InboundHeldAskedMember = "; confirmation sent to the member"

	InboundFollowing        = "already following every new question"
	InboundFollowSuppressed = "follow requested; address suppressed, no confirmation sent"
	InboundFollowLimited    = "follow requested; confirmation not sent (rate limit)"
	InboundFollowRequested  = "follow requested; waiting for confirmation"
	InboundFollowStopped    = "follow requested; the address stopped all mail and the message carries no evidence it came from there: no confirmation sent"

	InboundStoppedAll      = "unsubscribed from everything"
	InboundStoppedQuestion = "unsubscribed from one question"
	InboundStoppedFollows  = "ended the follows that sent a new question"
	InboundMemberTold      = "member told"
	InboundStopNoChange    = "; all mail was stopped already: nothing changed, no notice sent"
	InboundNotFollowing    = "unsubscribe from a category the sender did not follow"
)

// InboundUnparseable: the message could not be parsed (err says why).
func InboundUnparseable(err string) string { return "unparseable message: " + err }

// InboundRepeated: a reply that repeats its author's own recent post,
// word for word: an auto-responder's.
const InboundRepeated = "automatic mail: the same text as the sender's own earlier post in this thread, sent again in reply to a later one (an auto-responder?)"

// InboundAutomatic: automatic mail, with the classifier's reason.
func InboundAutomatic(why string) string { return "automatic mail: " + why }

// InboundWithEvidence adds to reason what showed the message was the
// member's ("published (evidence: dkim)").
func InboundWithEvidence(reason, evidence string) string {
	return reason + " (evidence: " + evidence + ")"
}

// InboundBounce: a bounce (hard or soft, its status) counted against
// person.
func InboundBounce(hard bool, status string, person int64) string {
	kind := "soft"
	if hard {
		kind = "hard"
	}
	return fmt.Sprintf("bounce (%s, status %s) counted against person %d", kind, status, person)
}

// InboundHeldLimited: the confirmation request of a held post was not
// sent, over the per-address limit (perIP false, max a day) or the per-IP
// one (max an hour).
func InboundHeldLimited(perIP bool, max int) string {
	if perIP {
		return fmt.Sprintf("; confirmation NOT sent: per-IP limit (%d an hour) reached", max)
	}
	return fmt.Sprintf("; confirmation NOT sent: per-address limit (%d a day) reached", max)
}

// InboundConfirmed: an address confirmed, publishing n held posts.
func InboundConfirmed(n int) string {
	return fmt.Sprintf("address confirmed; %d held post(s) published", n)
}

// InboundStopByOther: a stop by a token sent from another address; told
// says whether the member was told.
func InboundStopByOther(told string) string {
	return "unsubscribed by token from another address; " + told
}

// InboundStopUnproven: stop (an Inbound Stopped* reason) came without
// evidence the member sent it; told says whether they were told.
func InboundStopUnproven(stop, told string) string {
	return stop + " (no evidence the member sent it; " + told + ")"
}

// InboundMemberNotTold: the member was not told of a stop, over max
// notices a day.
func InboundMemberNotTold(max int) string {
	return fmt.Sprintf("member NOT told: %d stop notices a day", max)
}

// InboundUnfollowed: the follow of category slug ended.
func InboundUnfollowed(slug string) string { return "unfollowed category " + slug }

// InboundCommand: a command carried out, with its note.
func InboundCommand(note string) string { return "command: " + note }
