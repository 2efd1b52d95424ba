// Package mailkind names the kinds of mail Postern sends: why a
// notification is sent, and which template renders it. It is the one
// definition both the store (package threads, which records the kind of
// each notification row) and the renderer (package templates, one set of
// files per kind) use; it imports nothing, so either may import it
// without importing the other. Stopped, what a stop ended, is shared the
// same way: the store returns it and the Unsubscribed mail reports it.
//
// A Kind's value is what the notifications table stores and the name of
// its template files (templates/mail/KIND.*.tmpl): the values never
// change.
package mailkind

// Kind is a kind of notification mail.
type Kind string

// News of a post.
const (
	// NewQuestion goes to a follower of a category or of the forum: it
	// carries the new question's full text; a reply answers it.
	NewQuestion Kind = "new_question"
	// Answer goes to the asker when someone answers their question.
	Answer Kind = "answer"
	// Comment goes to the author of the commented post and to earlier
	// commenters on it.
	Comment Kind = "comment"
	// Posted confirms to the asker that their question is published.
	Posted Kind = "posted"
	// Selected tells an answerer their answer was selected as best.
	Selected Kind = "selected"
	// Moderate gives a moderator a post waiting for approval.
	Moderate Kind = "moderate"
)

// System mail, each answering something the person did themselves.
const (
	// Confirm asks a first-time sender to confirm their address; their
	// post stays held until they reply or open the confirmation link.
	Confirm Kind = "confirm"
	// ConfirmSubscribe asks someone who wrote to subscribe@ to confirm
	// the follow (double opt-in).
	ConfirmSubscribe Kind = "confirm_subscribe"
	// Unsubscribed confirms, once, an unsubscribe the person asked for
	// by email.
	Unsubscribed Kind = "unsubscribed"
	// Rejected explains to a sender why their message was not posted.
	Rejected Kind = "rejected"
	// Welcome tells a follower, once, that their follow is confirmed:
	// what they will receive and how to stop it.
	Welcome Kind = "welcome"
	// Help is the guide to every address and command.
	Help Kind = "help"
	// Command confirms a command in one line, for members who asked for
	// command confirmations.
	Command Kind = "command"
	// SignIn carries a link that signs the person in on the web pages,
	// once, for a limited time; they asked for it in the sign-in form.
	SignIn Kind = "signin"
)

// news and system list the kinds of the two blocks above, in their order.
var (
	news   = [...]Kind{NewQuestion, Answer, Comment, Posted, Selected, Moderate}
	system = [...]Kind{Confirm, ConfirmSubscribe, Unsubscribed, Rejected, Welcome, Help, Command, SignIn}
)

// All returns every kind, in the order above.
func All() []Kind {
	return append(append(make([]Kind, 0, len(news)+len(system)), news[:]...), system[:]...)
}

// System reports whether k is system mail (about the person's own
// request) rather than news of a post. Replies to system mail never
// become posts.
func (k Kind) System() bool {
	for _, s := range system {
		if k == s {
			return true
		}
	}
	return false
}

// FromPoster reports whether mail of kind k carries another member's
// post and is sent in their name ("NAME via FORUM").
func (k Kind) FromPoster() bool { return k == NewQuestion || k == Answer || k == Comment }
