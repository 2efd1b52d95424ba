package templates

import "fmt"

// Command notes: what a command did, in the one-line confirmation a
// member who asked for them receives (and on the inbound row).
const (
	NoteConfirmationsOff = "Command confirmations are off."
	NoteConfirmationsOn  = "Command confirmations are on: each command you send is confirmed in one line."
	NoteUnselected       = "The best answer selection was removed."
	NoteSelected         = "The answer was selected as the best answer."
	NoteEdited           = "Your post was edited."
)

// notifyWhat says when each Question2Answer preference ("questions",
// "answers", "comments") sends mail.
var notifyWhat = map[string]string{
	"questions": "when your questions are answered or commented on",
	"answers":   "when your answers are selected or commented on",
	"comments":  "when a comment is added after yours",
}

// NoteNotify confirms the preference pref ("questions", "answers",
// "comments") set on or off.
func NoteNotify(pref string, on bool) string {
	if on {
		return "You will be emailed " + notifyWhat[pref] + "."
	}
	return "You will no longer be emailed " + notifyWhat[pref] + "."
}

// NoteVote confirms a vote of v (+1 or -1).
func NoteVote(v int) string { return fmt.Sprintf("Your vote (%+d) was recorded.", v) }

// NoteApproved and NoteRejected confirm a moderator's decision on post id.
func NoteApproved(id int64) string { return fmt.Sprintf("Post %d was approved and published.", id) }

// NoteRejected: see NoteApproved.
func NoteRejected(id int64) string { return fmt.Sprintf("Post %d was rejected.", id) }

// NoteUnproven opens the confirmation request for a message that came
// under a member's name without evidence that they sent it.
const NoteUnproven = "This message came under your name, but nothing showed that it came from you " +
	"(your mail provider's signature was missing or did not match), so we ask before publishing it. " +
	"If you did not send it, ignore this email: it will be discarded and nothing is published."

// NoteUnprovenStop tells a member that a message that did not show it
// came from them (fromOther: it came from another address, by their
// token; else without evidence) stopped st, and how to undo it:
// subscribe is the address that follows new questions again, postmaster
// the operators' address.
func NoteUnprovenStop(st Stop, fromOther bool, subscribe, postmaster string) string {
	how := "without evidence that you sent it"
	if fromOther {
		how = "from another address"
	}
	return "A message asked to stop your emails " + how + ". " + StopText(st) + " If it was not you, " + stopUndo(st, subscribe, postmaster) + "."
}

// stopUndo says how to undo st: follow again only where st ended a
// follow; a stop of everything (which may have ended no follow) is undone
// by confirming a follow, which also sends new questions.
func stopUndo(st Stop, subscribe, postmaster string) string {
	switch {
	case st.Question:
		return "tell the forum's operators at " + postmaster
	case st.Everything:
		return "write to " + subscribe + " to receive emails again (you then also receive the forum's new questions)"
	case st.Forum || len(st.Categories) > 0:
		return "write to " + subscribe + " to follow new questions again"
	}
	return "there is nothing to undo"
}

// NoteUnfollowedCategory confirms the end of the follow of category slug.
func NoteUnfollowedCategory(slug string) string {
	return "You will receive no more new questions of the category " + slug + "."
}
