package templates

import "testing"

// TestInboundReasons: the reasons built from data read as they did when
// threads wrote them (`postern inbound list` and tests quote them).
func TestInboundReasons(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{InboundUnparseable("no header"), "unparseable message: no header"},
		{InboundAutomatic("Auto-Submitted"), "automatic mail: Auto-Submitted"},
		{InboundWithEvidence(InboundPublished, "dkim"), "published (evidence: dkim)"},
		{InboundBounce(true, "5.1.1", 3), "bounce (hard, status 5.1.1) counted against person 3"},
		{InboundBounce(false, "4.2.2", 3), "bounce (soft, status 4.2.2) counted against person 3"},
		{InboundHeld + InboundHeldLimited(false, 3), "held until the sender confirms; confirmation NOT sent: per-address limit (3 a day) reached"},
		{InboundHeld + InboundHeldLimited(true, 10), "held until the sender confirms; confirmation NOT sent: per-IP limit (10 an hour) reached"},
		{InboundConfirmed(2), "address confirmed; 2 held post(s) published"},
		{InboundStopByOther(InboundMemberTold), "unsubscribed by token from another address; member told"},
		{InboundStopUnproven(InboundStoppedAll, InboundMemberNotTold(3)), "unsubscribed from everything (no evidence the member sent it; member NOT told: 3 stop notices a day)"},
		{InboundUnfollowed("sleep"), "unfollowed category sleep"},
		{InboundCommand(NoteEdited), "command: Your post was edited."},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
}
